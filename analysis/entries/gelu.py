"""Registry entry: ``secmoe.gelu`` (SecMoE's Protocol 2: GeLU by six pieces, select then compute).

Error (``analysis/error_bounds.py``, rules T and E; ULP = 2^-16). The breakpoints (multiples of 1/64) and
the coefficients are public fixed-point constants: the spec evaluates the same function at the quantised
x, and the comparisons are exact, so the segment and its row (a0, a1, a2) are the spec's (the one-hot is
built from the comparison bits without arithmetic error, and its product with the public table is exact:
scale-1 bits, rule E). The protocol then computes a0 + a1 x + a2 x^2 with three truncations: x^2
(delta_0, carried by a2), a1 x (delta_1) and a2 x^2' (delta_2). x^2 and a1 x are exactly known, so
delta_0, delta_1 lie in [-f, 1 - f] ULP (f the fractional part in ULPs, rule T); delta_2 too if x^2 is on
the grid, else in (-1, 1) ULP. The error a2 delta_0 + delta_1 + delta_2 lies in the sum of those
intervals; the bound is its larger end, per element (<= (2 + |a2|) ULP).
``error_bound(params) = (2 + max|a2|) ULP`` (2.30 ULP: max|a2| = 0.2983) is that bound's domain-wide
maximum. The six-piece function's own error against the exact GeLU is the spec's, not the protocol's
(``tests/test_gelu.py`` measures it against the published numbers).
"""
from hypothesis import strategies as st

import functionalities.gelu as F
import protocols.mpc.secmoe_gelu as P
from analysis import error_bounds as EB
from analysis.cost_models import cheetah, crypten
from analysis.cost_models import moe as M
from analysis.entry import BadCase, Entry, InputSpec, register
from analysis.strategies import tensor
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError
from functionalities.fixed_point import ULP, quantize


def bound(p) -> float:
    """A-priori (domain-wide): (2 + max|a2|) ULP (module docstring)."""
    return (2 + float(F.fit().coeffs[:, 2].abs().max())) * ULP


def parts(ideal, real, p, i):
    """[Part y] with the per-element bound of the module docstring (or a shape problem)."""
    if tuple(real.shape) != tuple(ideal.shape):
        return [f"out: shape {tuple(real.shape)} != ideal {tuple(ideal.shape)}"]
    pw = F.fit()
    x = quantize(i["x"])
    return [EB.part("y", real, ideal, EB.quadratic_bound(x, pw.rows[F.segment(x, pw)]))]


errors = EB.Errors(parts)

#: the segment edges: every breakpoint, its two grid neighbours, zero and the range ends
EDGES = sorted({float(b) + d for b in F.BREAKPOINTS for d in (-ULP, 0.0, ULP)} | {0.0, F.ACT_RANGE, -F.ACT_RANGE})


def inputs(p):
    xs = st.one_of(st.sampled_from(EDGES), st.floats(-6, 6, allow_nan=False),
                   st.floats(-F.ACT_RANGE, F.ACT_RANGE, allow_nan=False))
    return tensor((p["n"],), xs).map(lambda x: {"x": x})


def cost(B):
    return lambda p: M.secmoe_gelu(B, p["n"], len(F.BREAKPOINTS))


register(Entry(
    name="secmoe.gelu", functionality="gelu", kind="mpc",
    summary="SecMoE Protocol 2: GeLU by 6 pieces, one batch of 5 comparisons, the segment's row, ONE quadratic",
    ideal=lambda p, i: F.gelu(i["x"], p["n"]),
    real=lambda p, s: P.gelu(s["x"]),
    validate=lambda p, i: F.validate(p["n"], i.get("x")),
    input_specs=lambda p: [InputSpec("x", 0, (p["n"],))],
    defaults={"n": 16},
    costs={"crypten": cost(crypten), "cheetah": cost(cheetah)},
    params_strategy=lambda: st.fixed_dictionaries({"n": st.integers(1, 12)}),
    inputs_strategy=inputs,
    check=errors.check, errors=errors,
    error_bound=bound, leakage=("n",), doc="docs/protocols/gelu.md",
    bad_cases=[
        BadCase("n = 0", lambda p, i: ({**p, "n": 0}, i), PublicParameterError),
        BadCase("x out of range", lambda p, i: (p, {"x": i["x"] * 0 + 100.0}), FixedPointRangeError),
        BadCase("x wrong shape", lambda p, i: (p, {"x": i["x"].unsqueeze(0)}), ShapeError),
        BadCase("x has NaN", lambda p, i: (p, {"x": i["x"] * float("nan")}), FixedPointRangeError),
    ]))
