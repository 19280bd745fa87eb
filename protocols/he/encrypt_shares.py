"""Shares -> HE: from CrypTen's Z_2^64 shares of a bounded value to a ciphertext of it mod t at the server.

The reverse of ``protocols/he/lift.py``. The value x (n,), |x| < 2^k as an integer (a fixed-point encoding
at its scale), is shared as x_c + x_s = x (mod 2^64). Working mod t directly would be wrong by
``w 2^64 mod t`` where w is the (secret) wrap of x_c + x_s; instead the server masks statistically:

1. ``to_client``: the server draws r uniform in ``[2^k, 2^64 - 2^k)`` and sends ``x_s + r mod 2^64``
   (one round, n 8-byte values; claimed: the server's ``statistical mask``). The client adds its share:
   ``z = x + r`` -- as an integer, with no wrap, because ``2^k <= r`` and ``r + 2^k <= 2^64``;
2. ``encrypt``: the client encrypts ``z mod t`` in the caller's slot layout (seeded queries, one round);
   the server subtracts ``r mod t`` (one ``add_plain`` per ciphertext): ``Enc(x mod t)`` under the client's key.

Security: z hides x statistically: for |x|, |x'| < 2^k the distributions of x + r and x' + r differ by at
most ``2^(k+1) / (2^64 - 2^(k+1))`` per element -- ``2^-40`` for ``k <= 23`` (fixed-point values below
``ACT_RANGE`` = 64 at 16 fractional bits), the statistical parameter of the HE answers' flooding. A value
outside the bound is not refused (nothing reveals it) -- it converts wrongly: the caller guarantees the bound.

Cost: server -> client n 8 bytes (1 round); client -> server one seeded query per layout ciphertext (1 round);
``add_plain`` per ciphertext at the server.
"""
from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from protocols.crypten_shim import MPCTensor, current_party
from protocols.mpc.sharing import ring
from protocols.runtime import step
from protocols.runtime.ledger import Protection, client_key

#: the bound on |x| (as an integer) the statistical mask covers at 2^-40 (module docstring)
MAX_BITS = 23


def statistical_mask(bits: int = MAX_BITS, owner: str = "server") -> Protection:
    """The claim on ``x_s + r``: a 64-bit mask r drawn from ``[2^bits, 2^64 - 2^bits)``."""
    return Protection("mask", "statistical mask", 64, owner)


def encrypt_shares(x: MPCTensor, end, layout: Callable[[np.ndarray], list[np.ndarray]], bits: int = MAX_BITS,
                   label: str = "encrypt_shares") -> list | None:
    """x (n,) shared, |x| < 2^bits as an integer (its ring value: a fixed-point x at its scale) -> at the
    SERVER, the ciphertexts of ``layout(x mod t)`` (``layout``: (n,) residues -> list of (slots,) vectors,
    linear per slot, e.g. ``protocols/he/encrypted_linear.replicate``); None at the client. ``end``: the
    run's HE link (``protocols/he/channel.open``). Steps ``<label>/to_client`` and ``<label>/encrypt``."""
    from protocols.he import channel

    if not 0 < bits <= MAX_BITS:
        raise ValueError(f"bits must be in 1..{MAX_BITS} (the statistical mask's bound), got {bits}")
    party = current_party()
    comm = party.communicator
    be = end.backend
    t = int(be.plain_modulus)
    share = ring(x).reshape(-1)
    n = share.numel()
    with step(label):
        with step("to_client"):
            if party.rank == 1:
                rng = party.numpy_generator("he", label, "statistical mask")
                r = rng.integers(1 << bits, (1 << 64) - (1 << bits), n, dtype=np.uint64)
                masked = (share.numpy().view(np.uint64) + r).view(np.int64)       # mod 2^64
                comm.send_tensor(torch.from_numpy(masked.copy()), protect=statistical_mask(bits))
            else:
                got = comm.recv_tensor(torch.Size([n]))
                z = (share.numpy().view(np.uint64) + got.numpy().view(np.uint64))   # = x + r, no wrap
        with step("encrypt"):
            if party.rank == 0:
                residues = (z % np.uint64(t)).astype(np.uint64)
                vectors = layout(residues)
                channel.send(end, [be.encrypt_bytes(v) for v in vectors], client_key(t))
                return None
            minus_r = ((np.uint64(t) - r % np.uint64(t)) % np.uint64(t)).astype(np.uint64)
            vectors = layout(minus_r)
            blobs, _ = channel.receive(end, len(vectors))
            return [be.add_plain(be.from_bytes(b), v) for b, v in zip(blobs, vectors)]
