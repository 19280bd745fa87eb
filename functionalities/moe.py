"""F_expert_ffn and F_moe_layer (``docs/protocols/moe.md``).

expert_ffn(x (n, d), U (d, f), V (d, f), D (f, d)) = (silu(x U) * (x V)) D   -- SwiGLU.

moe_layer(x, W_g, U (E, d, f), V (E, d, f), D (E, f, d); k, semantics, t) -> MoEOutput(y, K, W, dropped):
gate ``(K, W) = topk(softmax(x W_g), k)``, then

* ``semantics="exact"`` -- what dense computes: every routed token reaches its k experts,
  ``y_j = sum_i W[j, i] E_{K[j, i]}(x_j)``; nothing is dropped.
* ``semantics="balanced"`` -- what CryptoMoE computes: every expert processes exactly t candidates
  (balanced routing, ``functionalities/routing.py``); ``y = combine(E_e(dispatch(x)))``. It differs from
  ``exact`` by the ``dropped`` assignments: ``y_exact - y_balanced = sum over dropped (j, i) of
  W[j, i] E_{K[j, i]}(x_j)`` (padding contributes 0), up to the combine's fixed-point quantisation of the
  expert outputs (< ULP/2 times the kept weight per token; tests/test_routing_fidelity.py).

The layer's outputs include the routing (K, W): in the protocols they stay shared; the harness opens
them to check the gate and then checks y given that routing (``moe_given_routing``).

Declared domain (so that the real protocols' fixed point and SiLU approximation hold): ``|x| <= 1``,
``|W_g| <= 1`` with each token's L1 norm <= 32 (the gate's domain), ``|U|, |V|, |D| <= 0.5``.
Leakage: m, d, d_ff, E, k, t.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from . import gate as gate_mod
from .combine import combine
from .dispatch import dispatch
from .fixed_point import check_range, check_shape, quantize
from .routing import balanced_routing
from .validate import require_int, require_le

SEMANTICS = ("exact", "balanced")
X_RANGE = 1.0
WEIGHT_RANGE = 0.5


def silu(h: torch.Tensor) -> torch.Tensor:
    return h * torch.sigmoid(h)


def validate_expert_weights(experts: int, hidden: int, ffn: int, U=None, V=None, D=None) -> None:
    require_int("ffn", ffn)
    for name, w, shape in (("U", U, (experts, hidden, ffn)), ("V", V, (experts, hidden, ffn)),
                           ("D", D, (experts, ffn, hidden))):
        if w is not None:
            check_shape(name, w, shape)
            check_range(name, w, WEIGHT_RANGE)


def expert_ffn(x: torch.Tensor, U: torch.Tensor, V: torch.Tensor, D: torch.Tensor) -> torch.Tensor:
    """(..., n, d) with (..., d, f), (..., d, f), (..., f, d) -> (..., n, d), float64 on quantised inputs."""
    xq = quantize(x)
    return (silu(xq @ quantize(U)) * (xq @ quantize(V))) @ quantize(D)


@dataclass
class MoEOutput:
    y: torch.Tensor          # (m, d)
    K: torch.Tensor          # (m, k)
    W: torch.Tensor          # (m, k)
    dropped: torch.Tensor    # (m, k) bool (all False for "exact")


def validate(tokens: int, hidden: int, ffn: int, experts: int, top_k: int, capacity: int | None,
             semantics: str, x=None, w_g=None, U=None, V=None, D=None) -> None:
    if semantics not in SEMANTICS:
        from .errors import PublicParameterError

        raise PublicParameterError(f"semantics must be one of {SEMANTICS}, got {semantics!r}")
    gate_mod.validate(tokens, hidden, experts, top_k, x, w_g)
    if semantics == "balanced":
        require_int("capacity", capacity)
        require_le("capacity", capacity, "top_k * tokens", top_k * tokens)
    if x is not None:
        check_range("x", x, X_RANGE)
    validate_expert_weights(experts, hidden, ffn, U, V, D)


def moe_given_routing(x, K, W, U, V, D, semantics: str, capacity: int | None = None) -> MoEOutput:
    """The layer after the gate, for a given routing (K, W)."""
    tokens, top_k = K.shape
    experts = U.shape[0]
    if semantics == "exact":
        outs = expert_ffn(quantize(x).unsqueeze(0), U, V, D)          # (E, m, d): every expert, every token
        gathered = outs[K, torch.arange(tokens).unsqueeze(1)]         # (m, k, d)
        y = (quantize(W).unsqueeze(-1) * gathered).sum(1)
        return MoEOutput(y, K, quantize(W), torch.zeros(tokens, top_k, dtype=torch.bool))
    X, O, S = dispatch(x, K, W, experts, capacity)
    y = combine(expert_ffn(X, U, V, D), O, S)
    return MoEOutput(y, K, quantize(W), balanced_routing(K, W, experts, capacity).dropped)


def moe_layer(x, w_g, U, V, D, top_k: int, semantics: str = "exact", capacity: int | None = None) -> MoEOutput:
    """The MoE layer: gate, then ``moe_given_routing``."""
    tokens, hidden = x.shape
    validate(tokens, hidden, U.shape[-1], U.shape[0], top_k, capacity, semantics, x, w_g, U, V, D)
    K, W = gate_mod.gate(x, w_g, top_k)
    return moe_given_routing(x, K, W, U, V, D, semantics, capacity)
