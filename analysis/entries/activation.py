"""Registry entries: ``secmoe.activation`` (select-then-compute) and ``piecewise.activation`` (baseline).

Error (``analysis/error_bounds.py``, rules T and E; ULP = 2^-16). The breakpoints and coefficients are
public fixed-point constants, so the spec uses exactly the same function and the comparisons are exact:
the segment, hence (a0, a1, a2), is the spec's. Both protocols then compute a0 + a1 x + a2 x^2 with
three truncations: x^2 (delta_0), a1 x (delta_1) and a2 x^2' (delta_2) -- select-then-compute as two
private products of the fetched coefficients (the fetch is local and exact), the baseline as public
products, its multiplexer by scale-1 bits being exact (the unselected segments' values times 0 are 0).
x^2 and a1 x are exactly known: delta_0, delta_1 in [-f, 1 - f] ULP (f the fractional part in ULPs);
delta_2 too if x^2 is on the grid, else it is in (-1, 1) ULP. The error a2 delta_0 + delta_1 + delta_2
lies in the sum of those intervals; the bound is its larger end, per element (<= (2 + |a2|) ULP).
``error_bound(params) = (2 + max|a2|) ULP`` is that bound's domain-wide maximum.
"""
from hypothesis import strategies as st

import functionalities.activation as F
import protocols.mpc.piecewise_activation as PA
import protocols.mpc.secmoe_activation as SA
from analysis import error_bounds as EB
from analysis.cost_models import cheetah, crypten
from analysis.cost_models import moe as M
from analysis.entry import BadCase, Entry, InputSpec, register
from analysis.strategies import tensor
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError
from functionalities.fixed_point import ULP, quantize


def bound(p) -> float:
    """A-priori (domain-wide): (2 + max|a2|) ULP (module docstring)."""
    return (2 + float(F.fit(p["function"]).coeffs[:, 2].abs().max())) * ULP


def parts(ideal, real, p, i):
    """[Part y] with the per-element bound of the module docstring (or a shape problem)."""
    if tuple(real.shape) != tuple(ideal.shape):
        return [f"out: shape {tuple(real.shape)} != ideal {tuple(ideal.shape)}"]
    pw = F.fit(p["function"])
    x = quantize(i["x"])
    return [EB.part("y", real, ideal, EB.quadratic_bound(x, pw.rows[F.segment(x, pw)]))]


errors = EB.Errors(parts)


def inputs(p):
    bps = [float(b) for b in F.fit(p["function"]).breakpoints]
    edges = bps + [b - ULP for b in bps] + [0.0, F.ACT_RANGE, -F.ACT_RANGE]
    xs = st.one_of(st.sampled_from(edges), st.floats(-12, 12, allow_nan=False),
                   st.floats(-F.ACT_RANGE, F.ACT_RANGE, allow_nan=False))
    return tensor((p["n"],), xs).map(lambda x: {"x": x})


def _entry(name, real, structure, summary):
    def cost(B):
        return lambda p: structure(B, p["n"], len(F.fit(p["function"]).breakpoints))
    return Entry(
        name=name, functionality="activation", kind="mpc", summary=summary,
        ideal=lambda p, i: F.activation(i["x"], p["function"]),
        real=lambda p, s: real(s["x"], p["function"]),
        validate=lambda p, i: F.validate(p["n"], p["function"], i.get("x")),
        input_specs=lambda p: [InputSpec("x", 0, (p["n"],))],
        defaults={"n": 16, "function": "silu"},
        costs={"crypten": cost(crypten), "cheetah": cost(cheetah)},
        params_strategy=lambda: st.fixed_dictionaries({"n": st.integers(1, 12),
                                                       "function": st.sampled_from(sorted(F.FUNCTIONS))}),
        inputs_strategy=inputs,
        check=errors.check, errors=errors,
        error_bound=bound, leakage=("n", "function"), doc="docs/protocols/activation.md",
        bad_cases=[
            BadCase("unknown function", lambda p, i: ({**p, "function": "relu6"}, i), PublicParameterError),
            BadCase("x out of range", lambda p, i: (p, {"x": i["x"] * 0 + 100.0}), FixedPointRangeError),
            BadCase("x wrong shape", lambda p, i: (p, {"x": i["x"].unsqueeze(0)}), ShapeError),
            BadCase("x has NaN", lambda p, i: (p, {"x": i["x"] * float("nan")}), FixedPointRangeError),
        ])


register(_entry("secmoe.activation", SA.select_then_compute, M.secmoe_activation,
                "SecMoE select-then-compute: comparisons, one-hot segment, fetch its coefficients, ONE quadratic"))
register(_entry("piecewise.activation", PA.evaluate_all, M.piecewise_activation,
                "baseline: evaluate every piece, multiplex by the segment one-hot"))
