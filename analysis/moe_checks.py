"""Equivalence checks and error bounds shared by the MoE-layer entries.

A layer's real output is (y, K, W), all shared until the harness opens them. The check is in two stages:
1. the routing: (K, W) must pass the gate's check (K a top-k of the ideal logits up to 2 eps_logit, W
   within the gate's eps_W of the ideal scores at K);
2. the rest, GIVEN that routing: y must be within ``layer_bound`` of
   ``functionalities.moe.moe_given_routing(x, K_real, W_real)`` -- balanced routing on the exact
   fixed-point W_real selects exactly what the protocol selected, so the comparison is tight.

Error of one expert (ULP = 2^-16, X = 1 the input range, w = 0.5 the weight range, H = d X w):
    eps_sig  = 0.0039 (3 Newton-Raphson steps from 0.75 on 1 + e^-|x| in [1, 2]: 0.5^8)
             + 0.00106 (CrypTen's exp, 8 squarings) + 64 ULP (truncations)
    eps_silu = H eps_sig + 4 ULP;   eps_prod = H (2 ULP + eps_silu) + 2 ULP
    eps_expert = f w eps_prod + 2 ULP
The layer weights the experts by scores that sum to <= 1 per token (the real W may exceed that by the
gate's small approximation error: a second-order term, covered by the slack of the bound), plus one
truncation per expert
(and, balanced, up to t padding rows per expert): ``layer_bound = eps_expert + 2 E (t + 1) ULP``.
"""
from __future__ import annotations

import torch

from analysis.entries import gate as gate_entry
from functionalities.fixed_point import ULP
from functionalities.moe import WEIGHT_RANGE, X_RANGE, moe_given_routing

EPS_SIG = 0.0039 + 0.00106 + 64 * ULP


def expert_bound(hidden: int, ffn: int) -> float:
    """eps_expert for one SwiGLU expert (module docstring)."""
    H = hidden * X_RANGE * WEIGHT_RANGE
    eps_silu = H * EPS_SIG + 4 * ULP
    eps_prod = H * (2 * ULP + eps_silu) + 2 * ULP
    return ffn * WEIGHT_RANGE * eps_prod + 2 * ULP


def layer_bound(p: dict) -> float:
    t = p.get("capacity") or 0
    return expert_bound(p["hidden"], p["ffn"]) + 2 * p["experts"] * (t + 1) * ULP


def check_layer(semantics: str):
    """A ``check`` for a MoE-layer entry with the given semantics."""
    def check(ideal, real, p, inputs) -> list[str]:
        y, K, W = real
        problems = gate_entry.check(None, (K, W), p, inputs)
        if problems:
            return ["routing: " + m for m in problems]
        want = moe_given_routing(inputs["x"], K, W, inputs["U"], inputs["V"], inputs["D"], semantics,
                                 p.get("capacity")).y
        err = float((y - want).abs().max()) if y.numel() else 0.0
        if tuple(y.shape) != tuple(want.shape):
            return [f"y shape {tuple(y.shape)} != {tuple(want.shape)}"]
        if err > layer_bound(p):
            return [f"|y - ideal(y | routing)| = {err:.3g} > bound {layer_bound(p):.3g}"]
        return []
    return check


def layer_specs(p: dict):
    from analysis.registry import InputSpec

    m, d, f, E = p["tokens"], p["hidden"], p["ffn"], p["experts"]
    return [InputSpec("x", 0, (m, d)), InputSpec("w_g", 1, (d, E)), InputSpec("U", 1, (E, d, f)),
            InputSpec("V", 1, (E, d, f)), InputSpec("D", 1, (E, f, d))]


def layer_inputs(p: dict):
    """x in [-1, 1] (token L1 norm <= d <= 32 fits the gate), W_g in [-1, 1], expert weights in [-0.5, 0.5]."""
    from hypothesis import strategies as st

    from analysis.strategies import tensor

    m, d, f, E = p["tokens"], p["hidden"], p["ffn"], p["experts"]
    xs = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 0.5]), st.floats(-X_RANGE, X_RANGE, allow_nan=False))
    gs = st.one_of(st.sampled_from([0.0, 0.5, -1.0, 1.0]), st.floats(-1, 1, allow_nan=False))
    ws = st.one_of(st.sampled_from([0.0, WEIGHT_RANGE, -WEIGHT_RANGE]),
                   st.floats(-WEIGHT_RANGE, WEIGHT_RANGE, allow_nan=False))
    return st.fixed_dictionaries({"x": tensor((m, d), xs), "w_g": tensor((d, E), gs),
                                  "U": tensor((E, d, f), ws), "V": tensor((E, d, f), ws), "D": tensor((E, f, d), ws)})


def layer_bad_cases(balanced: bool):
    from analysis.registry import BadCase
    from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError

    cases = [
        BadCase("k > E", lambda p, i: ({**p, "top_k": p["experts"] + 1}, i), PublicParameterError),
        BadCase("U wrong shape", lambda p, i: (p, {**i, "U": i["U"][:, :, :0]}), ShapeError),
        BadCase("x has NaN", lambda p, i: (p, {**i, "x": i["x"] * float("nan")}), FixedPointRangeError),
        BadCase("D out of range", lambda p, i: (p, {**i, "D": i["D"] * 0 + 0.75}), FixedPointRangeError),
    ]
    if balanced:
        cases.append(BadCase("t > k m", lambda p, i: ({**p, "capacity": p["top_k"] * p["tokens"] + 1}, i),
                             PublicParameterError))
    return cases


__all__ = ["check_layer", "layer_bound", "expert_bound", "layer_specs", "layer_inputs", "layer_bad_cases", "torch"]
