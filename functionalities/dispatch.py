"""F_dispatch and F_combine: move tokens to experts and the experts' outputs back (CryptoMoE, §4).

dispatch(x (m, d), K (m, k), W (m, k); E, t) -> X (E, t, d), O (E, t, m), S (E, t):
    balanced routing (``functionalities/routing.py``, confidence selection) gives each expert t
    candidates; ``O[e, i] = onehot(T[e, i], m)``; ``X[e] = O[e] x``; ``S`` the kept scores (0 on padding,
    so a padding row holds some token's embedding but contributes 0 at the combine).
combine(y (E, t, d), O (E, t, m), S (E, t)) -> (m, d): ``sum_e O[e]^T (S[e] * y[e])``.
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


def validate_combine(tokens: int, hidden: int, experts: int, capacity: int, y=None, O=None, S=None) -> None:
    for name, v in (("tokens", tokens), ("hidden", hidden), ("experts", experts), ("capacity", capacity)):
        require_int(name, v)
    if y is not None:
        check_shape("y", y, (experts, capacity, hidden))
        check_range("y", y)
    if O is not None:
        check_shape("O", O, (experts, capacity, tokens))
    if S is not None:
        check_shape("S", S, (experts, capacity))
        check_range("S", S, 1.0)


def combine(y: torch.Tensor, O: torch.Tensor, S: torch.Tensor) -> torch.Tensor:
    """(E, t, d), (E, t, m), (E, t) -> (m, d)."""
    experts, capacity, hidden = y.shape
    validate_combine(O.shape[-1], hidden, experts, capacity, y, O, S)
    return torch.einsum("etm,et,etd->md", O.double(), quantize(S), quantize(y))
