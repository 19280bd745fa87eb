"""Named errors raised on bad input, shared by the spec, the protocols and the harness.

Every bad input is refused with one of these *before* any message is sent: a protocol never
returns a silently wrong answer and never hangs on input it cannot handle.
"""
from __future__ import annotations


class PrivMoEError(Exception):
    """Base class of every error privmoe raises on purpose."""


class PublicParameterError(PrivMoEError, ValueError):
    """A public parameter is out of its domain (t > length, k > E, t < 1, unknown option...)."""


class ShapeError(PrivMoEError, ValueError):
    """An input does not have the shape the public parameters announce."""


class FixedPointRangeError(PrivMoEError, ValueError):
    """A value lies outside the declared fixed-point range (or is NaN / inf)."""


class PeerError(PrivMoEError, ConnectionError):
    """The other party (or the dealer) did not answer in time or went away.

    Deliberately not a RuntimeError: CrypTen's A2B catches RuntimeError (as out-of-memory) and retries
    another way, which would turn a dead peer into a second wait."""
