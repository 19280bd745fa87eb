"""Checks of public parameters, shared by the spec and the real protocols (both refuse the same inputs)."""
from __future__ import annotations

from .errors import PublicParameterError


def require_int(name: str, value: object, lo: int = 1, hi: int | None = None) -> int:
    """``value`` as an int in [lo, hi], else :class:`PublicParameterError`."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise PublicParameterError(f"{name} must be an integer, got {value!r}")
    if value < lo or (hi is not None and value > hi):
        bound = f"[{lo}, {hi}]" if hi is not None else f">= {lo}"
        raise PublicParameterError(f"{name}={value} is outside {bound}")
    return value


def require_le(small_name: str, small: int, big_name: str, big: int) -> None:
    """Refuse ``small > big`` (t > length, k > E, ...) with a message naming both."""
    if small > big:
        raise PublicParameterError(f"{small_name}={small} must not exceed {big_name}={big}")
