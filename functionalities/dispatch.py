"""F_dispatch: move tokens to experts (CryptoMoE, Xu et al., NeurIPS 2025, §4); ``combine.py`` moves the
experts' outputs back.

dispatch(x (m, d), K (m, k), W (m, k); E, t) -> X (E, t, d), O (E, t, m), S (E, t):
    balanced routing (``functionalities/routing.py``, confidence selection) gives each expert t
    candidates; ``O[e, i] = onehot(T[e, i], m)``; ``X[e] = O[e] x``; ``S`` the kept scores (0 on padding,
    so a padding row holds some token's embedding but contributes 0 at the combine).
Leakage: m, d, E, k, t.
"""
from __future__ import annotations

import torch

from .fixed_point import check_range, check_shape, quantize
from .routing import balanced_routing, validate_routing
from .validate import require_int, require_le


def validate(tokens: int, hidden: int, experts: int, top_k: int, capacity: int, x=None, K=None, W=None) -> None:
    require_int("hidden", hidden)
    require_int("tokens", tokens)
    require_int("experts", experts)
    require_int("top_k", top_k)
    require_le("top_k", top_k, "experts", experts)
    require_int("capacity", capacity)
    require_le("capacity", capacity, "top_k * tokens", top_k * tokens)
    if x is not None:
        check_shape("x", x, (tokens, hidden))
        check_range("x", x)
    validate_routing(tokens, top_k, experts, K, W)


def dispatch(x: torch.Tensor, K: torch.Tensor, W: torch.Tensor, experts: int, capacity: int):
    """-> X (E, t, d) float64, O (E, t, m) int64, S (E, t) float64."""
    tokens, hidden = x.shape
    validate(tokens, hidden, experts, K.shape[1], capacity, x, K, W)
    r = balanced_routing(K, W, experts, capacity)
    O = torch.nn.functional.one_hot(r.T, tokens).long()
    return O.double() @ quantize(x), O, r.S
