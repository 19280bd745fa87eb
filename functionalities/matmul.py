"""F_matmul: every expert's product A_e B_e over Z_t (the ideal of the HE matmul protocols).

Inputs: client A (E, t, d_in), server B (E, d_in, d_out), integers in [0, plain modulus). Output
(shared additively mod t): (E, t, d_out) with ``out_e = A_e B_e mod t``. Leakage: E, t, d_in, d_out and
the HE parameters (N, plain modulus, coefficient moduli).
"""
from __future__ import annotations

import numpy as np
import torch

from .errors import FixedPointRangeError, ShapeError
from .fixed_point import check_shape
from .validate import require_int


def validate(experts: int, capacity: int, d_in: int, d_out: int, modulus: int, A=None, B=None) -> None:
    for name, v in (("experts", experts), ("capacity", capacity), ("d_in", d_in), ("d_out", d_out)):
        require_int(name, v)
    for name, v, shape in (("A", A, (experts, capacity, d_in)), ("B", B, (experts, d_in, d_out))):
        if v is None:
            continue
        check_shape(name, v, shape)
        if v.is_floating_point():
            raise ShapeError(f"{name} must be an integer tensor (values mod t)")
        # per expert: the weights at paper scale are GBs (or a broadcast view, which a whole-tensor min
        # would materialise)
        if v.numel() and any(int(e.min()) < 0 or int(e.max()) >= modulus for e in v):
            raise FixedPointRangeError(f"{name}: values must lie in [0, {modulus})")


def matmul(A: torch.Tensor, B: torch.Tensor, modulus: int) -> torch.Tensor:
    """(E, t, d_in) x (E, d_in, d_out) -> (E, t, d_out) mod ``modulus`` (exact integer arithmetic)."""
    a = A.numpy().astype(object)
    b = B.numpy().astype(object)
    out = np.einsum("eti,eio->eto", a, b) % modulus
    return torch.tensor(out.astype(np.int64))
