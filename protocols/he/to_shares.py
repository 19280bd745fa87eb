"""HE -> shares: the server's masked, concealed answers, the client's decryptions, lifted to CrypTen shares.

The second half of every hybrid step of privmoe (``protocols/he/encrypt_shares.py`` is the first): the
server holds ciphertexts ``outs`` of values mod t under the client's key, and the parties end with Z_2^64
shares of the centred values.

1. ``answer`` (server -> client, one round): per ciphertext a fresh mask R uniform mod t (one ``add_plain``;
   the server's private generator ``rng``), then ``conceal`` (re-randomise, switch down, flood the noise:
   ``protocols/he/flooding.py``, with the circuit's worst case ``pre_bits``) and send; the client decrypts
   (its view: the masked values, claimed by the server's mask, and the flooded noise). ``read`` maps the
   decrypted slot vectors to the n residues that matter; it is linear per slot, so the server's share is
   ``read`` of the negated masks.
2. ``lift`` (``protocols/he/lift.py``): residues mod t -> Z_2^64 shares (one batched comparison of 2n).

``rescale`` turns integer shares of a product at scale 2^32 into fixed-point shares at 2^16 (CrypTen's
local truncation, as after a Beaver product).
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from functionalities.fixed_point import FRAC_BITS
from protocols.crypten_shim import MPCTensor, current_party
from protocols.he import channel, flooding
from protocols.he.lift import lift
from protocols.mpc.sharing import from_ring, ring, share_input
from protocols.runtime import step
from protocols.runtime.ledger import he_answer_mask


def first(width: int) -> Callable[[list[np.ndarray]], np.ndarray]:
    """A ``read``: the first ``width`` slots of every answer, concatenated."""
    return lambda vectors: np.concatenate([v[:width] for v in vectors])


def answer(end, outs: list | None, count: int, read: Callable[[list[np.ndarray]], np.ndarray],
           pre_bits: float | None = None, rng: np.random.Generator | None = None) -> np.ndarray:
    """Step ``answer`` (module docstring 1) on the open HE link ``end``: the server passes its ``count``
    ciphertexts ``outs`` and its private generator ``rng``, the client None. -> this party's residues
    mod t (n,) int64: the client's decryption, the server's negated masks (``read`` of each)."""
    party = current_party()
    be, t_mod = end.backend, end.backend.plain_modulus
    with step("answer"):
        if party.rank == 0:
            blobs, masked_by = channel.receive(end, count)
            received = [be.from_bytes(b) for b in blobs]
            end.noise += [n for n in (be.noise_budget(ct) for ct in received) if n is not None]
            channel.observe(end, received, pre_bits=pre_bits)
            mine = read([be.decrypt(ct) for ct in received]).astype(np.int64)
            party.meter.see("decrypted", torch.tensor(mine), "server", masked_by, party.meter.clock)
            return mine
        if len(outs) != count:
            raise ValueError(f"{len(outs)} answers to send, the plan says {count}")
        noise = flooding.stream(rng)
        blobs, negated = [], []
        for ct in outs:
            m = rng.integers(0, t_mod, be.params.slots, dtype=np.uint64)
            blobs.append(be.to_bytes(be.conceal(be.add_plain(ct, m), noise, pre_bits=pre_bits)))
            negated.append((t_mod - m) % t_mod)
        channel.send(end, blobs, he_answer_mask(t_mod))
        return read(negated).astype(np.int64)


def to_shares(end, outs: list | None, count: int, read: Callable[[list[np.ndarray]], np.ndarray],
              pre_bits: float | None = None, rng: np.random.Generator | None = None,
              precision: int = 0) -> MPCTensor:
    """:func:`answer`, then ``lift``: -> MPCTensor (n,) of the centred values (integers; ``precision``: the
    scale they were encoded at)."""
    mine = torch.tensor(answer(end, outs, count, read, pre_bits, rng))
    party = current_party()
    shape = tuple(mine.shape)
    c_sh = share_input(mine if party.rank == 0 else None, 0, shape, integer=True)
    s_sh = share_input(mine if party.rank == 1 else None, 1, shape, integer=True)
    return lift(c_sh, s_sh, end.backend.plain_modulus, precision=precision)


def rescale(v: MPCTensor) -> MPCTensor:
    """Integer shares of a value at scale 2^32 -> a fixed-point MPCTensor at 2^16 (one local truncation)."""
    return from_ring(ring(v), precision=FRAC_BITS).div(2 ** FRAC_BITS)
