"""F_combine: the experts' outputs back to their tokens (CryptoMoE, Xu et al., NeurIPS 2025, §4).

combine(y (E, t, d), O (E, t, m), S (E, t)) -> (m, d): ``sum_e O[e]^T (S[e] * y[e])``, with O and S the
dispatch's (``functionalities/dispatch.py``). Leakage: m, d, E, t.
"""
from __future__ import annotations

import torch

from .fixed_point import check_range, check_shape, quantize
from .validate import require_int


def validate(tokens: int, hidden: int, experts: int, capacity: int, y=None, O=None, S=None) -> None:
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
    validate(O.shape[-1], hidden, experts, capacity, y, O, S)
    return torch.einsum("etm,et,etd->md", O.double(), quantize(S), quantize(y))
