"""F_topk: the t largest entries of each row of a secret matrix, with their indices.

Input: ``x`` (r, L) fixed-point, ``|x| <= FIXED_POINT_RANGE``; public ``t`` with 1 <= t <= L.
Output (shared): ``values`` (r, t) in descending order and ``indices`` (r, t) int64. Ties are broken to
the LOWER index (a stable descending sort). Leakage: r, L, t.
"""
from __future__ import annotations

import torch

from .fixed_point import check_range, check_shape, quantize
from .validate import require_int, require_le


def validate(rows: int, length: int, t: int, x: torch.Tensor | None = None) -> None:
    require_int("rows", rows)
    require_int("length", length, hi=2**20)
    require_int("t", t)
    require_le("t", t, "length", length)
    if x is not None:
        check_shape("x", x, (rows, length))
        check_range("x", x)


def topk(x: torch.Tensor, t: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(r, L) -> values (r, t) float64 descending, indices (r, t) int64; ties -> lower index."""
    validate(x.shape[0], x.shape[-1], t, x)
    q = quantize(x)
    values, indices = torch.sort(q, dim=-1, descending=True, stable=True)
    return values[:, :t], indices[:, :t]
