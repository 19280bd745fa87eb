"""F_onehot: secret indices to their one-hot rows.

Input: client ``idx`` (r, t) int64 with values in [0, c). Output (shared): (r, t, c) int64,
``out[i, j, e] = [idx[i, j] == e]``. Leakage: r, t, c.
"""
from __future__ import annotations

import torch

from .errors import FixedPointRangeError, ShapeError
from .fixed_point import check_shape
from .validate import require_int


def validate(rows: int, width: int, classes: int, idx: torch.Tensor | None = None) -> None:
    require_int("rows", rows)
    require_int("width", width)
    require_int("classes", classes)
    if idx is not None:
        check_shape("idx", idx, (rows, width))
        if idx.is_floating_point():
            raise ShapeError("idx must be an integer tensor")
        if idx.numel() and (int(idx.min()) < 0 or int(idx.max()) >= classes):
            raise FixedPointRangeError(f"idx values must lie in [0, {classes})")


def onehot(idx: torch.Tensor, classes: int) -> torch.Tensor:
    """(r, t) int indices -> (r, t, c) int64 one-hot."""
    validate(idx.shape[0], idx.shape[1], classes, idx)
    return torch.nn.functional.one_hot(idx.long(), classes).long()
