"""The fixed-point encoding every MPC protocol of privmoe shares on, and its declared range.

Values are encoded as ``round(x * 2**FRAC_BITS)`` in the ring Z_2^64 (CrypTen's encoder, 16 fractional
bits). Two-party truncation after a product is local (SecureML-style): each party divides its own share,
so the result is off by less than 2 units in the last place (``ULP = 2**-16``: each share's rounding
errs by less than one), and it fails outright with probability about ``|v| / 2**63`` for the
pre-truncation ring value ``v``. Keeping inputs within ``|x| <= FIXED_POINT_RANGE`` (2**10, i.e. at most
2**26 as a ring element) keeps a product of two inputs below 2**52 before truncation, so that failure
probability stays below 2**-11 per element; protocols that multiply declare tighter ranges of their own.
"""
from __future__ import annotations

import math

import torch

from .errors import FixedPointRangeError, ShapeError

FRAC_BITS = 16
SCALE = 1 << FRAC_BITS
ULP = 1.0 / SCALE
#: Inputs of fixed-point protocols must satisfy ``|x| <= FIXED_POINT_RANGE`` (see the module docstring).
FIXED_POINT_RANGE = 2.0**10


def encode(x: torch.Tensor) -> torch.Tensor:
    """Plaintext fixed-point encoding (int64), the exact value a fresh sharing reconstructs to."""
    return torch.round(x.double() * SCALE).long()


def decode(v: torch.Tensor, scale: int = SCALE) -> torch.Tensor:
    """Inverse of :func:`encode` for a ring tensor with the given scale."""
    return v.double() / scale


def quantize(x: torch.Tensor) -> torch.Tensor:
    """The value ``x`` takes once encoded: what the ideal functionality sees of a fixed-point input."""
    return decode(encode(x))


def check_range(name: str, x: torch.Tensor, bound: float = FIXED_POINT_RANGE) -> None:
    """Raise :class:`FixedPointRangeError` if ``x`` has NaN/inf or an entry with ``|x| > bound``."""
    if not isinstance(x, torch.Tensor):
        raise ShapeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if x.is_floating_point():
        if not torch.isfinite(x).all():
            raise FixedPointRangeError(f"{name}: contains NaN or inf")
        worst = float(x.abs().max()) if x.numel() else 0.0
        if worst > bound or math.isnan(worst):
            raise FixedPointRangeError(
                f"{name}: |value| {worst:g} exceeds the declared fixed-point range {bound:g}")


def check_shape(name: str, x: torch.Tensor, shape: tuple[int, ...]) -> None:
    """Raise :class:`ShapeError` unless ``x.shape == shape``."""
    if not isinstance(x, torch.Tensor):
        raise ShapeError(f"{name}: expected a torch.Tensor, got {type(x).__name__}")
    if tuple(x.shape) != tuple(shape):
        raise ShapeError(f"{name}: expected shape {tuple(shape)}, got {tuple(x.shape)}")
