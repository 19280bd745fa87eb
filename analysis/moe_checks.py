"""Equivalence checks and error bounds shared by the MoE-layer entries.

A layer's real output is (y, K, W), all shared until the harness opens them. The check is in two stages,
both per example and per element (``analysis/error_bounds.py``, rules T, E, P, G, X, N there):
1. the routing: (K, W) must pass the gate's check (``analysis/entries/gate.py``);
2. the rest, GIVEN that routing: y is compared with ``functionalities.moe.moe_given_routing(x, K_real,
   W_real)`` -- balanced routing on the exact fixed-point W_real selects exactly what the protocol
   selected -- elementwise within the bound derived below.

One expert (``error_bounds.expert``; ``protocols/mpc/expert.py``), on grid inputs x, U, V, D:
    h = x [U | V]: one truncation (T), each h one of its two grid neighbours (G);
    silu(h1) = h1 * sigmoid(h1), CrypTen's sigmoid: |h1| (exact sign, E), exp(-|h1|) (X, 8 iterations:
        CrypTen sets exp_iterations = 9 only around the reciprocal, after the exp), 1 + e, 3 Newton-Raphson
        steps from 0.75 (N, evaluated at the actual denominator: r_3(s) is monotone), ``where`` (E), times
        h1 (T). Deterministic part: h1 sigmoid_path(h1) at the exact h1 (the approximation's own error,
        e.g. 0.5^8 / 2 of the sigmoid at 0, is evaluated, not bounded); noise: the worst candidate.
    p = silu * h2 (P, T);  out = p D: noise |D|-weighted (P, T).
The layer (deterministic parts signed, noise parts by absolute value):
    exact (dense, SecMoE): y_j = sum_i W_ji out_{K_ji}(x_j), one truncation per term with W_ji != 0 (a
        zero score makes the product exactly 0): bound = |y_det - y_ref| + sum_i |W_ji| noise + n_j ULP,
        y_ref the same sum over ``reference_expert`` (torch's SiLU: independent of the spec);
    balanced (CryptoMoE): y = sum_{e,i} O S out_e(X_ei) against the spec's sum O S q(out) (it quantises the
        expert outputs, as y_ref does: that difference is in |y_det - y_ref|, exactly); the combine truncates once per
        (expert, token) with a non-zero row of R = O^T S (scores first) or once per kept row with S != 0
        (outputs first, ``protocols/mpc/cryptomoe_combine.py``).

``layer_bound(params)`` is the older domain-wide a-priori bound (every truncation aligned, every SiLU at
its worst: 0.048 at the defaults, 61-1 350 ulp over the small sizes the tests draw), kept for the report;
the check does not use it:
    eps_sig  = 0.0039 + 0.00106 + 64 ULP;  eps_silu = H eps_sig + 4 ULP (H = d X w)
    eps_prod = H (2 ULP + eps_silu) + 2 ULP;  eps_expert = f w eps_prod + 2 ULP
    layer_bound = eps_expert + 2 E (t + 1) ULP.
"""
from __future__ import annotations

import torch

from analysis import error_bounds as EB
from analysis.entries import gate as gate_entry
from functionalities.dispatch import dispatch
from functionalities.fixed_point import ULP, quantize
from functionalities.moe import WEIGHT_RANGE, X_RANGE, moe_given_routing
from protocols.mpc.cryptomoe_combine import choose_variant

EPS_SIG = 0.0039 + 0.00106 + 64 * ULP


def expert_bound(hidden: int, ffn: int) -> float:
    """A-priori eps_expert for one SwiGLU expert (module docstring)."""
    H = hidden * X_RANGE * WEIGHT_RANGE
    eps_silu = H * EPS_SIG + 4 * ULP
    eps_prod = H * (2 * ULP + eps_silu) + 2 * ULP
    return ffn * WEIGHT_RANGE * eps_prod + 2 * ULP


def layer_bound(p: dict) -> float:
    """A-priori (domain-wide) bound on |y - ideal(y | routing)|; the check uses ``y_bound``."""
    t = p.get("capacity") or 0
    return expert_bound(p["hidden"], p["ffn"]) + 2 * p["experts"] * (t + 1) * ULP


def reference_expert(x: torch.Tensor, U: torch.Tensor, V: torch.Tensor, D: torch.Tensor) -> torch.Tensor:
    """SwiGLU from torch's own SiLU, (..., n, d): the mathematical function the protocol approximates,
    written independently of ``functionalities/moe.py`` -- the approximation error is measured against it,
    so a wrong spec is not absorbed into the bound (it then fails the check)."""
    return (torch.nn.functional.silu(x @ U) * (x @ V)) @ D


def y_bound(semantics: str, p: dict, inputs: dict, K: torch.Tensor, W: torch.Tensor, want: torch.Tensor):
    """Elementwise bound on |y_real - want| (want = moe_given_routing(...).y), module docstring. The
    deterministic part is compared with the same layer computed from ``reference_expert``, not with
    ``want``: the spec must equal the mathematics, the protocol its algorithm."""
    U, V, D = (quantize(inputs[n]) for n in ("U", "V", "D"))
    x = quantize(inputs["x"])
    Wq = quantize(W)
    if semantics == "exact":
        det, noise = EB.expert(x.unsqueeze(0), U, V, D)                 # (E, m, d)
        rows = torch.arange(K.shape[0]).unsqueeze(1)
        det, noise = det[K, rows], noise[K, rows]                       # (m, k, d)
        y_det = (Wq.unsqueeze(-1) * det).sum(1)
        want = (Wq.unsqueeze(-1) * reference_expert(x.unsqueeze(0), U, V, D)[K, rows]).sum(1)
        y_noise = (Wq.abs().unsqueeze(-1) * noise).sum(1) + (Wq != 0).sum(1, keepdim=True) * ULP
    else:
        X, O, S = dispatch(x, K, W, U.shape[0], p["capacity"])
        O, S = O.double(), quantize(S)
        det, noise = EB.expert(X, U, V, D)                              # (E, t, d)
        y_det = torch.einsum("etm,et,etd->md", O, S, det)
        want = torch.einsum("etm,et,etd->md", O, S, quantize(reference_expert(X, U, V, D)))
        y_noise = torch.einsum("etm,et,etd->md", O, S.abs(), noise)
        live = O * (S != 0).double().unsqueeze(-1)                      # (E, t, m): rows that are not 0
        if choose_variant(p["tokens"], p["hidden"]) == "scores_first":
            count = (live.sum(1) > 0).double().sum(0)                   # experts with a non-zero row of R
        else:
            count = live.sum((0, 1))                                    # kept rows with S != 0
        y_noise = y_noise + count.unsqueeze(-1) * ULP
    return (y_det - want).abs() + y_noise


def layer_parts(semantics: str):
    """``parts`` for a MoE-layer entry: the gate's Part W, then Part y (or the problems, as strings)."""
    def parts(ideal, real, p, inputs):
        y, K, W = real
        routing = gate_entry.parts(None, (K, W), p, inputs)
        if routing and isinstance(routing[0], str):
            return ["routing: " + m for m in routing]
        want = moe_given_routing(inputs["x"], K, W, inputs["U"], inputs["V"], inputs["D"], semantics,
                                 p.get("capacity")).y
        if tuple(y.shape) != tuple(want.shape):
            return [f"y shape {tuple(y.shape)} != {tuple(want.shape)}"]
        return routing + [EB.part("y", y, want, y_bound(semantics, p, inputs, K, W, want))]
    return parts


def layer_errors(semantics: str) -> EB.Errors:
    """``errors`` for a MoE-layer entry (``check`` is its ``.check``)."""
    return EB.Errors(layer_parts(semantics))


def check_layer(semantics: str):
    """A ``check`` for a MoE-layer entry with the given semantics (per example, per element)."""
    return layer_errors(semantics).check


def layer_specs(p: dict):
    from analysis.registry import InputSpec

    m, d, f, E = p["tokens"], p["hidden"], p["ffn"], p["experts"]
    return [InputSpec("x", 0, (m, d)), InputSpec("w_g", 1, (d, E)), InputSpec("U", 1, (E, d, f)),
            InputSpec("V", 1, (E, d, f)), InputSpec("D", 1, (E, f, d))]


def layer_inputs(p: dict):
    """x in [-1, 1] (token L1 norm <= d fits the gate up to d = 32; beyond, each token is scaled down to
    L1 norm GATE_L1, as the gate's inputs are), W_g in [-1, 1], expert weights in [-0.5, 0.5]."""
    from hypothesis import strategies as st

    from analysis.strategies import tensor

    m, d, f, E = p["tokens"], p["hidden"], p["ffn"], p["experts"]
    xs = st.one_of(st.sampled_from([0.0, 1.0, -1.0, 0.5]), st.floats(-X_RANGE, X_RANGE, allow_nan=False))
    gs = st.one_of(st.sampled_from([0.0, 0.5, -1.0, 1.0]), st.floats(-1, 1, allow_nan=False))
    ws = st.one_of(st.sampled_from([0.0, WEIGHT_RANGE, -WEIGHT_RANGE]),
                   st.floats(-WEIGHT_RANGE, WEIGHT_RANGE, allow_nan=False))
    return st.fixed_dictionaries({"x": tensor((m, d), xs), "w_g": tensor((d, E), gs),
                                  "U": tensor((E, d, f), ws), "V": tensor((E, d, f), ws), "D": tensor((E, f, d), ws)}
                                 ).map(lambda i: {**i, **gate_entry._clip_l1(i)})


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


__all__ = ["check_layer", "layer_errors", "layer_bound", "expert_bound", "layer_specs", "layer_inputs",
           "layer_bad_cases", "torch"]
