"""Registry entries: ``secmoe.activation`` (select-then-compute) and ``piecewise.activation`` (baseline).

Error bound (ULP = 2^-16; the coefficients and breakpoints are public fixed-point constants, so the spec
uses exactly the same function): x^2 is truncated once (< 2 ULP) and then multiplied by a2; each of the
products a1 x, a2 x^2 is truncated once (< 2 ULP each): ``(6 + 2 max|a2|) ULP``, plus 2 ULP for the
baseline's public products: bound = (8 + 2 max|a2|) ULP for both.
"""
import torch
from hypothesis import strategies as st

import functionalities.activation as F
import protocols.mpc.piecewise as P
from analysis.cost_models import cheetah, crypten
from analysis.cost_models import moe as M
from analysis.registry import BadCase, Entry, InputSpec, exact_check, register
from analysis.strategies import tensor
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError
from functionalities.fixed_point import ULP


def bound(p) -> float:
    return (8 + 2 * float(F.fit(p["function"]).coeffs[:, 2].abs().max())) * ULP


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
        check=lambda ideal, real_out, p, i: exact_check(ideal, real_out, p, i, bound(p)),
        error_bound=bound, leakage=("n", "function"), doc="docs/protocols/activation.md",
        bad_cases=[
            BadCase("unknown function", lambda p, i: ({**p, "function": "relu6"}, i), PublicParameterError),
            BadCase("x out of range", lambda p, i: (p, {"x": i["x"] * 0 + 100.0}), FixedPointRangeError),
            BadCase("x wrong shape", lambda p, i: (p, {"x": i["x"].unsqueeze(0)}), ShapeError),
            BadCase("x has NaN", lambda p, i: (p, {"x": i["x"] * float("nan")}), FixedPointRangeError),
        ])


register(_entry("secmoe.activation", P.select_then_compute, M.piecewise_select,
                "SecMoE select-then-compute: comparisons, one-hot segment, fetch its coefficients, ONE quadratic"))
register(_entry("piecewise.activation", P.evaluate_all, M.piecewise_all,
                "baseline: evaluate every piece, multiplex by the segment one-hot"))
