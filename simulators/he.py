"""The slot-level BFV simulator: the HE interface on plaintext slot vectors mod t -- no crypto.

It runs the same protocol code as SEAL, gives identical outputs (mod t) and identical operation counts
(tested), and makes paper-scale sizes cheap. A rotation must use a prepared step, as on SEAL.
"""
from __future__ import annotations

import numpy as np

from protocols.he.interface import HEBackend, HEParams

#: a batching prime per plain-modulus size (p = 1 mod 2N for every N <= 2^14 used here), as SEAL picks
_PRIMES = {17: 65537, 20: 1032193, 21: 1785857, 22: 4169729, 23: 8257537, 24: 16580609, 25: 33292289,
           26: 67043329, 30: 1073643521}


class SimBackend(HEBackend):
    """Ciphertexts are numpy uint64 slot vectors; every op counted like SEAL's."""

    name = "sim"

    def __init__(self, params: HEParams, seed: int = 0, plain_modulus: int | None = None) -> None:
        super().__init__(params, seed)
        self._t = plain_modulus or _PRIMES[params.plain_bits]
        self._steps: set[int] = set()

    @property
    def plain_modulus(self) -> int:
        return self._t

    def prepare(self, steps):
        self._steps = {s % self.params.slots for s in steps if s % self.params.slots}

    def encode(self, values):
        return self._row(values)[: self.params.slots].copy()

    def encrypt(self, values):
        self.counts.record("encrypt", encryptions=1)
        return self.encode(values)

    def decrypt(self, ct):
        self.counts.record("decrypt", decryptions=1)
        return ct.copy()

    def add(self, a, b):
        self.counts.record("add", ct_adds=1)
        return (a + b) % np.uint64(self._t)

    def add_plain(self, a, values):
        self.counts.record("add_plain", ct_adds=1)
        return (a + self.encode(values)) % np.uint64(self._t)

    def multiply_plain(self, a, values):
        self.counts.record("multiply_plain", pt_mults=1)
        p = self.encode(values)
        return ((a.astype(object) * p.astype(object)) % self._t).astype(np.uint64)

    def rotate(self, a, step):
        s = step % self.params.slots
        if s not in self._steps:
            raise KeyError(f"no rotation key for step {step} (prepared: {sorted(self._steps)})")
        self.counts.record(f"rotate{s}", rotations=1, key_switches=1)
        return np.roll(a, -s)
