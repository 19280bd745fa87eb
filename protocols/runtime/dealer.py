"""Correlated randomness from a dealer that is neither party (``docs/accounting.md``, "offline").

Seed-compressed dealing: the dealer gives each party a PRG seed once (8 bytes each, offline). Every
random part of a tuple is then drawn by the party itself from its seed, and the dealer -- who holds both
seeds and so mirrors both streams draw for draw -- sends only the *correction* that makes the tuple
consistent, to the server. Offline bytes per tuple = 8 x elements of the corrected part:

==================  ===============================  ==============================
tuple               each party draws                 server receives (corrected part)
==================  ===============================  ==============================
additive triple     a (size0), b (size1)             c = op(a, b) - c_client
binary triple       a, b (64-bit)                    c = (a & b) ^ c_client
square pair         r                                r^2 - r2_client
B2A bit             r_B (one bit)                    r_A = (r_B0 ^ r_B1) - r_A_client
wrap pair           r                                wraps(r0, r1) - theta_client
==================  ===============================  ==============================

The client learns nothing of the server's draws and vice versa, unlike CrypTen's default TFP provider
where rank 0 generates every triple. The dealer object lives beside the server (in its thread or
process); only the server's provider calls it. It is a *logical* third party: in one process, nothing
but convention keeps the server's code from reading the dealer's client seed -- an honest simulation of
the deployment where the dealer is a separate machine (its traffic is counted as if it were).
"""
from __future__ import annotations

import hashlib

import torch

from protocols.crypten_shim import (ArithmeticSharedTensor, BinarySharedTensor, TupleProvider,
                                    count_wraps, generate_kbit_random_tensor, generate_random_ring_element)

from .ledger import DEALER, Protection
from .meter import OFFLINE, PartyMeter

TRIPLE = Protection("mask", "beaver triple")
SQUARE = Protection("mask", "square pair")
BINARY_TRIPLE = Protection("mask", "binary triple")
B2A_BIT = Protection("mask", "B2A bit", bits=1)
WRAP = Protection("mask", "wrap pair")


def derive_seed(seed: int, *labels: object) -> int:
    """A 63-bit seed derived from the run seed and labels (SHA-256): reproducible, independent streams."""
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    text = ":".join(str(x) for x in (seed, *labels)).encode()
    return int.from_bytes(hashlib.sha256(text).digest()[:8], "big") >> 1


def _ring(g: torch.Generator, size) -> torch.Tensor:
    return generate_random_ring_element(tuple(size), generator=g)


def _bits(g: torch.Generator, size, bitlength: int | None = None) -> torch.Tensor:
    return generate_kbit_random_tensor(tuple(size), bitlength=bitlength, generator=g)


def _out_size(op: str, size0, size1, *args, **kwargs) -> torch.Size:
    a, b = torch.empty(tuple(size0), device="meta"), torch.empty(tuple(size1), device="meta")
    return getattr(torch, op)(a, b, *args, **kwargs).shape


def _reuse_rows(t: torch.Tensor) -> torch.Tensor:
    """NEGATIVE CONTROL only: the first row of a mask repeated along dim 0 (one mask row for every row)."""
    return t[:1].expand_as(t).clone() if t.dim() >= 1 and t.shape[0] > 1 else t


class Draws:
    """The random parts of each tuple as one party draws them, in a fixed order (shared by the parties
    and by the dealer's mirror of their streams, so the two can never drift apart).

    ``reuse_rows`` is the negative control of a dealer that draws ONE row of each Beaver triple's first
    mask and repeats it along dim 0 (``mode="reuse-rows"`` of :func:`protocols.runtime.party.setup_party`)."""

    def __init__(self, g: torch.Generator, reuse_rows: bool = False) -> None:
        self.g, self.reuse_rows = g, reuse_rows

    def triple(self, size0, size1, out, with_c: bool):
        a, b = _ring(self.g, size0), _ring(self.g, size1)
        if self.reuse_rows:
            a = _reuse_rows(a)
        return a, b, (_ring(self.g, out) if with_c else None)

    def binary_triple(self, size0, size1, out, with_c: bool):
        a, b = _bits(self.g, size0), _bits(self.g, size1)
        return a, b, (_bits(self.g, out) if with_c else None)

    def square(self, size, with_r2: bool):
        r = _ring(self.g, size)
        return r, (_ring(self.g, size) if with_r2 else None)

    def b2a(self, size, with_ra: bool):
        rb = _bits(self.g, size, bitlength=1)
        return rb, (_ring(self.g, size) if with_ra else None)

    def wrap(self, size, with_theta: bool):
        r = _ring(self.g, size)
        return r, (_ring(self.g, size) if with_theta else None)


class Dealer:
    """The third party: holds both seeds, returns the server's corrected share of each tuple."""

    def __init__(self, seed_client: int, seed_server: int, reuse_rows: bool = False) -> None:
        self.seed_client, self.seed_server = seed_client, seed_server
        self.client = Draws(torch.Generator().manual_seed(seed_client), reuse_rows)
        self.server = Draws(torch.Generator().manual_seed(seed_server), reuse_rows)

    def additive_triple(self, size0, size1, op, *args, **kwargs) -> torch.Tensor:
        out = _out_size(op, size0, size1, *args, **kwargs)
        a0, b0, c0 = self.client.triple(size0, size1, out, True)
        a1, b1, _ = self.server.triple(size0, size1, out, False)
        return getattr(torch, op)(a0 + a1, b0 + b1, *args, **kwargs) - c0

    def binary_triple(self, size0, size1) -> torch.Tensor:
        out = torch.broadcast_shapes(tuple(size0), tuple(size1))
        a0, b0, c0 = self.client.binary_triple(size0, size1, out, True)
        a1, b1, _ = self.server.binary_triple(size0, size1, out, False)
        return ((a0 ^ a1) & (b0 ^ b1)) ^ c0

    def square(self, size) -> torch.Tensor:
        r0, s0 = self.client.square(size, True)
        r1, _ = self.server.square(size, False)
        return (r0 + r1) * (r0 + r1) - s0

    def b2a(self, size) -> torch.Tensor:
        rb0, ra0 = self.client.b2a(size, True)
        rb1, _ = self.server.b2a(size, False)
        return (rb0 ^ rb1) - ra0

    def wrap(self, size) -> torch.Tensor:
        r0, t0 = self.client.wrap(size, True)
        r1, _ = self.server.wrap(size, False)
        return count_wraps([r0, r1]) - t0


class DealerProvider(TupleProvider):
    """CrypTen's tuple-provider interface for one party, backed by the dealer.

    The client draws every part from its dealer seed; the server draws the random parts from its own
    dealer seed and receives the corrected part from the dealer (recorded as an offline message)."""

    NAME = "privmoe-dealer"

    def __init__(self, rank: int, seed: int, meter: PartyMeter, dealer: Dealer | None = None,
                 leaky_comm=None, reuse_rows: bool = False) -> None:
        super().__init__()
        if rank == 1 and dealer is None:
            raise ValueError("the server's provider needs the dealer")
        self._rank, self.meter, self.dealer = rank, meter, dealer
        self.draws = Draws(torch.Generator().manual_seed(seed), reuse_rows)
        #: NEGATIVE CONTROL only: a dealer that also hands the client the server's triple halves
        self.leaky_comm = leaky_comm

    def _leak(self, *server_parts: torch.Tensor) -> None:
        """Leaky dealer: the server's halves go to the client too (offline, from the dealer)."""
        if self.leaky_comm is None:
            return
        flat = torch.cat([t.reshape(-1) for t in server_parts])
        if self._rank == 1:
            self.leaky_comm.send_tensor(flat, phase=OFFLINE, sender="dealer", protect=DEALER)   # a lie
        else:
            self.leaky_comm.recv_tensor(flat.shape, sender="dealer")

    def _from_dealer(self, tensor: torch.Tensor) -> torch.Tensor:
        self.meter.on_send("server", tensor.numel() * 8, OFFLINE, sender="dealer")
        self.meter.see("dealer", tensor, "dealer", DEALER)
        return tensor

    def _expect(self, protect: Protection, *parts: torch.Tensor) -> None:
        """Register the masks handed out for the next opening and this party's part of them, in the order
        the opening lays its values out (``PartyMeter.expect``)."""
        self.meter.expect(protect, sum(int(p.numel()) for p in parts),
                          torch.cat([p.reshape(-1) for p in parts]) if self.meter.view is not None else None)

    def generate_additive_triple(self, size0, size1, op, device=None, *args, **kwargs):
        out = _out_size(op, size0, size1, *args, **kwargs)
        a, b, c = self.draws.triple(size0, size1, out, self._rank == 0)
        self._expect(TRIPLE, a, b)
        if self._rank == 1:
            c = self._from_dealer(self.dealer.additive_triple(size0, size1, op, *args, **kwargs))
        self._leak(a, b)
        return tuple(ArithmeticSharedTensor.from_shares(t, precision=0) for t in (a, b, c))

    def generate_binary_triple(self, size0, size1, device=None):
        out = torch.broadcast_shapes(tuple(size0), tuple(size1))
        a, b, c = self.draws.binary_triple(size0, size1, out, self._rank == 0)
        self._expect(BINARY_TRIPLE, a, b)
        if self._rank == 1:
            c = self._from_dealer(self.dealer.binary_triple(size0, size1))
        self._leak(a, b)
        return tuple(BinarySharedTensor.from_shares(t) for t in (a, b, c))

    def square(self, size, device=None):
        r, r2 = self.draws.square(size, self._rank == 0)
        self._expect(SQUARE, r)
        if self._rank == 1:
            r2 = self._from_dealer(self.dealer.square(size))
        return (ArithmeticSharedTensor.from_shares(r, precision=0),
                ArithmeticSharedTensor.from_shares(r2, precision=0))

    def B2A_rng(self, size, device=None):
        rb, ra = self.draws.b2a(size, self._rank == 0)
        self._expect(B2A_BIT, rb)
        if self._rank == 1:
            ra = self._from_dealer(self.dealer.b2a(size))
        return (ArithmeticSharedTensor.from_shares(ra, precision=0), BinarySharedTensor.from_shares(rb))

    def wrap_rng(self, size, device=None):
        r, theta = self.draws.wrap(size, self._rank == 0)
        self._expect(WRAP, r)
        if self._rank == 1:
            theta = self._from_dealer(self.dealer.wrap(size))
        return (ArithmeticSharedTensor.from_shares(r, precision=0),
                ArithmeticSharedTensor.from_shares(theta, precision=0))
