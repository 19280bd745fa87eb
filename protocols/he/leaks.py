"""An HE leak on purpose (negative control ``key_leak.matmul``; never used by a protocol).

:class:`KeyCopy` is the bug of a client context shipped WITH its secret key: the server can decrypt what
the client sends it. It wraps the run's backend, keeps every ciphertext the client encrypts (what the
server receives) and lets the server decrypt them afterwards -- the client's inputs, in the clear.
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
