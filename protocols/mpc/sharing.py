"""Entering and leaving the shared world.

Inputs are shared with CrypTen's pseudo-random zero sharing (PRZS): both parties draw the same
pseudo-random values from the seeds swapped at set-up, which form a sharing of zero; the owner adds
``enc(x)`` to its share of that zero. No online message is needed, and the other party's share is a
pseudo-random value independent of ``x``.

Outputs stay shared; :func:`held` turns a party's output into plain data the harness can reconstruct.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from functionalities.fixed_point import FRAC_BITS, encode
from protocols.crypten_shim import ArithmeticSharedTensor, MPCTensor, current_party
from protocols.runtime import step
from protocols.runtime.faults import fire


def share_input(value: torch.Tensor | None, src: int, shape: tuple[int, ...], integer: bool = False) -> MPCTensor:
    """Share ``value`` (held by party ``src``; ``None`` elsewhere) as an MPCTensor of ``shape``.

    ``integer=True`` shares an integer tensor with scale 1 (indices, bits); otherwise the value is
    fixed-point encoded with 16 fractional bits (round to nearest). Online cost: 0 bytes, 0 rounds."""
    party = current_party()
    with step("input"):
        z = ArithmeticSharedTensor.PRZS(tuple(shape))
        if party.rank == src:
            if value is None or tuple(value.shape) != tuple(shape):
                raise ValueError(f"party {src} must provide its input of shape {tuple(shape)}")
            z.share += value.long() if integer else encode(value)
    return MPCTensor.from_shares(z.share, precision=0 if integer else FRAC_BITS)


def from_ring(share: torch.Tensor, precision: int = 0) -> MPCTensor:
    """Wrap a party's raw ring share as an MPCTensor of the given precision (no communication)."""
    return MPCTensor.from_shares(share, precision=precision)


def ring(x: MPCTensor) -> torch.Tensor:
    """This party's raw ring share of ``x`` (int64)."""
    return x._tensor.share


def scale_of(x: MPCTensor) -> int:
    return int(x._tensor.encoder.scale)


@dataclass
class Held:
    """One party's share of one output: the ring share and the fixed-point scale it decodes with."""

    share: torch.Tensor
    scale: int


@dataclass
class HeldMod:
    """One party's additive share mod ``modulus`` (an HE protocol's output: the client's decryption, the
    server's minus-mask); two of them reconstruct to (a + b) mod modulus."""

    share: torch.Tensor
    modulus: int


def held(out):
    """Map MPCTensors inside ``out`` (tensor, tuple, list or dict) to :class:`Held` shares."""
    if isinstance(out, MPCTensor):
        return Held(ring(out).clone(), scale_of(out))
    if isinstance(out, (tuple, list)):
        return type(out)(held(o) for o in out)
    if isinstance(out, dict):
        return {k: held(v) for k, v in out.items()}
    return out


def reconstruct(a, b):
    """Open two parties' :class:`Held` outputs into plaintext (float64 for scale > 1, int64 otherwise)."""
    if isinstance(a, Held):
        v = a.share + b.share
        return v.double() / a.scale if a.scale > 1 else v
    if isinstance(a, HeldMod):
        return (a.share + b.share) % a.modulus
    if isinstance(a, (tuple, list)):
        return type(a)(reconstruct(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return {k: reconstruct(a[k], b[k]) for k in a}
    return a


def trace(name: str, x: MPCTensor) -> MPCTensor:
    """Publish a named intermediate for teaching (``privmoe explain``): when the run records views, each
    party keeps ITS share of ``x`` (never the other's). No communication; a no-op otherwise -- except in a
    negative control, whose planted taps run here (``protocols/runtime/faults.py``)."""
    fire(name, x)
    meter = current_party().meter
    if meter.view is not None:
        # published between steps, it belongs to the step that just produced it
        where = meter.current_step if meter.current_step != "(unlabelled)" else meter.last_step
        meter.traces.append((where, name, ring(x).clone(), scale_of(x)))
    return x
