"""F_equal: elementwise equality of two secret vectors.

Inputs: client ``x`` (n,), server ``y`` (n,), fixed-point values with ``|v| <= FIXED_POINT_RANGE``.
Output (shared): ``b`` (n,) int64 in {0, 1}, ``b_i = [q(x_i) == q(y_i)]`` where ``q`` is the fixed-point
quantisation both parties share on. Leakage: n.
"""
from __future__ import annotations

import torch

from .fixed_point import check_range, check_shape, encode
from .validate import require_int


def validate(n: int, x: torch.Tensor | None = None, y: torch.Tensor | None = None) -> None:
    """Refuse bad public parameters and (for the owner) bad inputs."""
    require_int("n", n)
    for name, v in (("x", x), ("y", y)):
        if v is not None:
            check_shape(name, v, (n,))
            check_range(name, v)


def equal(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """``[x == y]`` elementwise on the fixed-point encodings: (n,), (n,) -> (n,) int64."""
    validate(x.shape[0] if x.dim() == 1 else -1, x, y)
    return (encode(x) == encode(y)).long()
