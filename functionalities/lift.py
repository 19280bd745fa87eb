"""F_lift: additive shares mod t -> the centred integer they share.

Inputs: client c, server s (n,) in [0, t). Output (shared in Z_2^64): the centred residue
v = r if r < ceil(t/2) else r - t, where r = (c + s) mod t. Leakage: n, t.
"""
from __future__ import annotations

import torch

from .errors import FixedPointRangeError, ShapeError
from .fixed_point import check_shape
from .validate import require_int


def validate(n: int, modulus: int, c=None, s=None) -> None:
    require_int("n", n)
    require_int("modulus", modulus, lo=3, hi=2**40)
    for name, v in (("c", c), ("s", s)):
        if v is None:
            continue
        check_shape(name, v, (n,))
        if v.is_floating_point():
            raise ShapeError(f"{name} must be an integer tensor")
        if v.numel() and (int(v.min()) < 0 or int(v.max()) >= modulus):
            raise FixedPointRangeError(f"{name}: residues must lie in [0, {modulus})")


def lift(c: torch.Tensor, s: torch.Tensor, modulus: int) -> torch.Tensor:
    validate(c.shape[0], modulus, c, s)
    r = (c.long() + s.long()) % modulus
    return torch.where(r < (modulus + 1) // 2, r, r - modulus)
