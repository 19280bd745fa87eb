"""The slot-level BFV simulator: the HE interface on plaintext slot vectors mod t -- no crypto.

It runs the same protocol code as SEAL, gives identical outputs (mod t) and identical operation counts
(tested), and makes paper-scale sizes cheap. A rotation must use a prepared step, as on SEAL.

``count_only=True`` runs the protocol code without computing any slot value (plaintexts are passed
lazily and never built): the operation counts of paper-scale runs (millions of plaintext products) in
seconds; outputs are then meaningless zeros.
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

    def __init__(self, params: HEParams, seed: int = 0, plain_modulus: int | None = None,
                 count_only: bool = False) -> None:
        super().__init__(params, seed)
        self._t = plain_modulus or _PRIMES[params.plain_bits]
        self._steps: set[int] = set()
        self.count_only = count_only
        if count_only:
            self._install_counting()

    def _install_counting(self) -> None:
        """Replace every value computation by a count (same op records as the full simulator)."""
        zero = np.zeros(self.params.slots, dtype=np.uint64)
        token = ("ciphertext",)            # stands for every ciphertext (never None: None means "empty")

        def rec(op, **inc):
            self.counts.record(op, **inc)
            return token

        def rotate(a, step):
            s = step % self.params.slots
            if s not in self._steps:
                raise KeyError(f"no rotation key for step {step}")
            return rec(f"rotate{s}", rotations=1, key_switches=1)

        self.encrypt = lambda values: rec("encrypt", encryptions=1)
        self.encrypt_coeffs = lambda coeffs: rec("encrypt", encryptions=1)
        self.decrypt = lambda ct: (rec("decrypt", decryptions=1), zero)[1]
        self.add = lambda a, b: rec("add", ct_adds=1)
        self.sub = lambda a, b: rec("sub", ct_adds=1)
        self.add_plain = lambda a, values: rec("add_plain", ct_adds=1)
        self.multiply_plain = lambda a, values: rec("multiply_plain", pt_mults=1)
        self.multiply_monomial = lambda a, power: rec("multiply_monomial", pt_mults=1)
        self.apply_galois = lambda a, element: rec(f"galois{element}", key_switches=1)
        self.rotate = rotate

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
        if isinstance(a, tuple):
            return ("coeff", (a[1] + b[1]) % np.uint64(self._t))
        return (a + b) % np.uint64(self._t)

    def add_plain(self, a, values):
        self.counts.record("add_plain", ct_adds=1)
        return (a + self.encode(values)) % np.uint64(self._t)

    def multiply_plain(self, a, values):
        self.counts.record("multiply_plain", pt_mults=1)
        p = self.encode(values)
        if isinstance(a, tuple):   # a coefficient-mode ciphertext: only a constant polynomial has slots
            if np.any(a[1][1:]):
                raise ValueError("the simulator multiplies slot vectors only by constant polynomials")
            a = np.full(self.params.slots, a[1][0], dtype=np.uint64)
        return (a * p) % np.uint64(self._t)

    # coefficient mode: a ciphertext is ("coeff", N coefficients mod t); slot mode is a plain slot vector.
    def prepare_galois(self, elements, steps):
        self.prepare(steps)
        self._elements = set(elements)

    def encrypt_coeffs(self, coeffs):
        self.counts.record("encrypt", encryptions=1)
        v = np.zeros(self.params.poly_degree, dtype=np.uint64)
        v[: len(coeffs)] = np.asarray(coeffs, dtype=np.uint64) % np.uint64(self._t)
        return ("coeff", v)

    def apply_galois(self, a, element):
        if element not in getattr(self, "_elements", set()):
            raise KeyError(f"no Galois key for element {element}")
        self.counts.record(f"galois{element}", key_switches=1)
        n, t = self.params.poly_degree, self._t
        v = a[1]
        out = np.zeros_like(v)
        k = np.arange(n)
        pos = (k * element) % (2 * n)
        sign_neg = pos >= n
        idx = pos % n
        vals = np.where(sign_neg & (v != 0), (t - v) % t, v)
        out[idx] = vals
        return ("coeff", out)

    def multiply_monomial(self, a, power):
        self.counts.record("multiply_monomial", pt_mults=1)
        n, t = self.params.poly_degree, self._t
        p = power % (2 * n)
        v = a[1]
        k = np.arange(n)
        pos = (k + p) % (2 * n)
        vals = np.where((pos >= n) & (v != 0), (t - v) % t, v)
        out = np.zeros_like(v)
        out[pos % n] = vals
        return ("coeff", out)

    def sub(self, a, b):
        self.counts.record("sub", ct_adds=1)
        if isinstance(a, tuple):
            return ("coeff", (a[1] + (np.uint64(self._t) - b[1])) % np.uint64(self._t))
        return (a + (np.uint64(self._t) - b)) % np.uint64(self._t)

    def rotate(self, a, step):
        s = step % self.params.slots
        if s not in self._steps:
            raise KeyError(f"no rotation key for step {step} (prepared: {sorted(self._steps)})")
        self.counts.record(f"rotate{s}", rotations=1, key_switches=1)
        return np.roll(a, -s)
