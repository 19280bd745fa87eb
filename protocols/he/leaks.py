"""HE leaks on purpose (negative controls; never used by a protocol).

:class:`KeyCopy` is the bug of a client context shipped WITH its secret key: the server can decrypt what
the client sends it. It wraps the run's backend, keeps every ciphertext the client encrypts (what the
server receives) and lets the server decrypt them afterwards -- the client's inputs, in the clear.
:class:`ZeroGenerator` is a server whose mask generator returns zeros: its answers reach the client
unmasked. A control entry composes a secure protocol with one of these; the protocol has no switch.
"""
from __future__ import annotations

import numpy as np


class KeyCopy:
    """A backend proxy: ``encrypt`` also keeps the ciphertext (it is what the server receives);
    ``server_reads()`` is the server decrypting all of them with its copy of the key."""

    def __init__(self, backend) -> None:
        self._backend = backend
        self.received: list = []

    def __getattr__(self, name):
        return getattr(self._backend, name)

    def encrypt(self, values):
        ct = self._backend.encrypt(values)
        self.received.append(ct)
        return ct

    def server_reads(self) -> np.ndarray:
        """Every slot of every ciphertext the server received, decrypted (flattened)."""
        if not self.received:
            return np.zeros(0, dtype=np.int64)
        return np.concatenate([np.asarray(self._backend.decrypt(ct)).reshape(-1) for ct in self.received])


class ZeroGenerator:
    """A broken mask generator (negative controls ``unmasked.matmul``, ``unmasked_secmoe.moe``): the bug of
    a server whose PRNG returns zeros. The protocol still draws its answer masks from it and still claims
    them, so the client decrypts the unmasked result while the shares stay correct."""

    def integers(self, low, high=None, size=None, dtype=np.int64, **_):
        return np.zeros(size if size is not None else (), dtype=dtype)
