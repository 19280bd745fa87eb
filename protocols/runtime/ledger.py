"""What protects each value a party receives: the records of the mask ledger (``simulators/ledger.py``).

Every value that crosses from one party to the other must be *protected*: hidden by a fresh uniform mask
the receiver does not hold, or encrypted under a key the receiver does not hold -- unless the protocol
*declares* it (an output, or leakage its functionality admits). The runtime records, for every item of a
party's view, the :class:`Protection` that was claimed for it:

* an **opening** (both parties send their share of ``v - r`` and add them up) is protected by the
  correlated randomness the party's tuple provider handed out just before: the provider *registers* it
  (``PartyMeter.expect``) and the opening consumes it, first in first out, checking that the sizes match;
* a **one-way message** carries the protection its sender claimed (``with meter.protect(...)``), in the
  frame header;
* an **HE** ciphertext is protected by the key it is encrypted under; a decryption by the mask the
  evaluating party added before answering.

A claim is only a claim: ``simulators/ledger.py`` checks each one against what the run actually did, by
running the protocol again with the receiver's knowledge fixed and everything it does not hold drawn
afresh. This module only defines the records and how they travel.
"""
from __future__ import annotations

from dataclasses import dataclass

KINDS = ("mask", "ciphertext", "declared")
#: where a protection comes from (a fixed list, so a claim fits in a frame header as a small integer)
SOURCES = ("beaver triple", "square pair", "binary triple", "B2A bit", "wrap pair", "dealer correction",
           "dealer seed", "HE answer mask", "client key", "server key", "output", "leakage", "other",
           "HE public material", "HE noise flooding", "statistical mask")
OWNERS = (None, "client", "server", "dealer")


@dataclass(frozen=True)
class Protection:
    """A claim about one value: ``kind`` (``mask``, ``ciphertext`` or ``declared``), ``source``, the mask's
    domain (``bits`` = 64 for Z_2^64, 1 for a bit; ``modulus`` for mod t), and ``owner``: who holds the
    mask or the key (``None``: no party alone, as for the dealer's correlated randomness)."""

    kind: str
    source: str
    bits: int = 64
    owner: str | None = None
    modulus: int = 0

    def __post_init__(self):
        if self.kind not in KINDS or self.source not in SOURCES or self.owner not in OWNERS:
            raise ValueError(f"not a protection: {self}")

    def header(self) -> list[int]:
        """Five int64s for a frame header."""
        return [KINDS.index(self.kind) + 1, SOURCES.index(self.source), self.bits, OWNERS.index(self.owner),
                self.modulus]

    @staticmethod
    def from_header(values) -> "Protection | None":
        kind, source, bits, owner, modulus = (int(v) for v in values)
        if kind == 0:
            return None
        return Protection(KINDS[kind - 1], SOURCES[source], bits, OWNERS[owner], modulus)


NO_HEADER = [0, 0, 0, 0, 0]
DEALER = Protection("mask", "dealer correction", 64, "dealer")
OUTPUT = Protection("declared", "output")
#: the client's HE parameters, public key and Galois keys: public by design (``protocols/he/channel.py``)
HE_PUBLIC = Protection("declared", "HE public material")


def client_key(modulus: int = 0) -> Protection:
    """A ciphertext under the client's key."""
    return Protection("ciphertext", "client key", 0, "client", modulus)


def he_answer_mask(modulus: int, owner: str = "server") -> Protection:
    """A decrypted answer the evaluating party masked with a fresh uniform value mod t."""
    return Protection("mask", "HE answer mask", max(1, int(modulus - 1).bit_length()), owner, modulus)


def noise_flooding(bits: int, owner: str = "server") -> Protection:
    """An HE answer's decryption noise, flooded by its evaluator with noise uniform in [-2^bits, 2^bits): the
    view keeps its top ``flooding.VIEW_BITS`` bits (``protocols/he/flooding.observed``)."""
    return Protection("mask", "HE noise flooding", min(62, bits + 1), owner)
