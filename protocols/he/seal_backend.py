"""The HE interface on Microsoft SEAL (BFV) through ``tenseal.sealapi``.

Keys: the client's secret key decrypts; the server gets the public key and Galois keys for exactly the
prepared steps (element ``3^step mod 2N`` per left row rotation). One rotation = one key switch.
"""
from __future__ import annotations

import time

import numpy as np
import tenseal.sealapi as seal

from protocols.he.interface import HEBackend, HEParams


class SealBackend(HEBackend):
    name = "seal"

    def __init__(self, params: HEParams, seed: int = 0) -> None:
        super().__init__(params, seed)
        if not params.secure:
            from functionalities.errors import PublicParameterError

            raise PublicParameterError(f"SEAL needs poly_degree >= 4096 for 128-bit security (got "
                                       f"{params.poly_degree}); toy sizes run on the simulator (--backend sim)")
        n = params.poly_degree
        parms = seal.EncryptionParameters(seal.SCHEME_TYPE.BFV)
        parms.set_poly_modulus_degree(n)
        parms.set_coeff_modulus(seal.CoeffModulus.Create(n, list(params.coeff_bits)))
        parms.set_plain_modulus(seal.PlainModulus.Batching(n, params.plain_bits))
        self.ctx = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)
        if not self.ctx.parameters_set():
            raise ValueError(f"SEAL refused the parameters: {self.ctx.parameters_error_message()}")
        self.keygen = seal.KeyGenerator(self.ctx)
        pk = seal.PublicKey()
        self.keygen.create_public_key(pk)
        self.encryptor = seal.Encryptor(self.ctx, pk)
        self.encryptor.set_secret_key(self.keygen.secret_key())   # the client's inputs: symmetric, seedable
        self.decryptor = seal.Decryptor(self.ctx, self.keygen.secret_key())
        self.evaluator = seal.Evaluator(self.ctx)
        self.encoder = seal.BatchEncoder(self.ctx)
        self._t = parms.plain_modulus().value()
        self.galois = None
        self.keygen_seconds = 0.0     # Galois key generation (a one-off set-up, reported apart)

    @property
    def plain_modulus(self) -> int:
        return self._t

    def prepare(self, steps):
        start = time.perf_counter()
        self._prepare(steps)
        self.keygen_seconds += time.perf_counter() - start

    def _prepare(self, steps):
        self._steps = {s % self.params.slots for s in steps if s % self.params.slots}
        n = self.params.poly_degree
        elts = sorted({pow(3, s % self.params.slots, 2 * n) for s in steps if s % self.params.slots})
        self.galois = seal.GaloisKeys()
        if elts:
            self.keygen.create_galois_keys(elts, self.galois)

    def encode(self, values):
        pt = seal.Plaintext()
        self.encoder.encode(self._row(values).tolist(), pt)
        return pt

    def encrypt(self, values):
        """The client encrypts with its SECRET key (symmetric): the second polynomial is pseudo-random from
        a seed, so the ciphertext travels as N L 8 + 64 bytes (``HEParams.seeded_ciphertext_bytes``)."""
        self.counts.record("encrypt", encryptions=1)
        ct = seal.Ciphertext()
        self.encryptor.encrypt_symmetric(self.encode(values), ct)
        return ct

    def decrypt(self, ct):
        self.counts.record("decrypt", decryptions=1)
        pt = seal.Plaintext()
        self.decryptor.decrypt(ct, pt)
        return np.array(self.encoder.decode_uint64(pt)[: self.params.slots], dtype=np.uint64)

    def add(self, a, b):
        self.counts.record("add", ct_adds=1)
        out = seal.Ciphertext()
        self.evaluator.add(a, b, out)
        return out

    def add_plain(self, a, values):
        self.counts.record("add_plain", ct_adds=1)
        out = seal.Ciphertext()
        self.evaluator.add_plain(a, self.encode(values), out)
        return out

    def multiply_plain(self, a, values):
        """An all-zero plaintext (the server's weights may be 0) would make SEAL return a transparent
        ciphertext and throw; a fresh public-key encryption of zero stands in, counted as the product."""
        self.counts.record("multiply_plain", pt_mults=1)
        out = seal.Ciphertext()
        values = values() if callable(values) else values
        if not np.any(np.asarray(values) % self._t):
            self.encryptor.encrypt_zero(out)
            return out
        self.evaluator.multiply_plain(a, self.encode(values), out)
        return out

    def rotate(self, a, step):
        s = step % self.params.slots
        if s not in getattr(self, "_steps", set()):
            # SEAL would quietly compose the step from other keys (several key switches): refuse instead
            raise KeyError(f"no rotation key for step {step} (prepared: {sorted(getattr(self, '_steps', []))})")
        self.counts.record(f"rotate{s}", rotations=1, key_switches=1)
        out = seal.Ciphertext()
        try:
            self.evaluator.rotate_rows(a, s, self.galois, out)
        except (ValueError, RuntimeError) as exc:
            raise KeyError(f"no rotation key for step {step}: {exc}") from exc
        return out

    def prepare_galois(self, elements, steps):
        start = time.perf_counter()
        self._prepare_galois(elements, steps)
        self.keygen_seconds += time.perf_counter() - start

    def _prepare_galois(self, elements, steps):
        self._steps = {s % self.params.slots for s in steps if s % self.params.slots}
        n = self.params.poly_degree
        elts = sorted(set(elements) | {pow(3, s % self.params.slots, 2 * n) for s in steps if s % self.params.slots})
        self.galois = seal.GaloisKeys()
        if elts:
            self.keygen.create_galois_keys(elts, self.galois)

    @staticmethod
    def _poly(coeffs) -> "seal.Plaintext":
        terms = [f"{int(c):X}x^{k}" if k else f"{int(c):X}" for k, c in enumerate(coeffs) if int(c)]
        return seal.Plaintext(" + ".join(reversed(terms)) or "0")

    def encrypt_coeffs(self, coeffs):
        self.counts.record("encrypt", encryptions=1)
        ct = seal.Ciphertext()
        self.encryptor.encrypt_symmetric(self._poly(np.asarray(coeffs, dtype=np.uint64) % np.uint64(self._t)), ct)
        return ct

    def apply_galois(self, a, element):
        self.counts.record(f"galois{element}", key_switches=1)
        out = seal.Ciphertext()
        self.evaluator.apply_galois(a, element, self.galois, out)
        return out

    def multiply_monomial(self, a, power):
        self.counts.record("multiply_monomial", pt_mults=1)
        n = self.params.poly_degree
        p = power % (2 * n)
        out = seal.Ciphertext()
        # x^p for p >= N is -x^(p-N): multiply by the coefficient-1 monomial and negate (a plaintext
        # coefficient t - 1 would multiply the noise by ~t)
        self.evaluator.multiply_plain(a, self._poly([0] * (p % n) + [1]), out)
        if p >= n:
            self.evaluator.negate_inplace(out)
        return out

    def sub(self, a, b):
        self.counts.record("sub", ct_adds=1)
        out = seal.Ciphertext()
        self.evaluator.sub(a, b, out)
        return out

    def switch_down(self, ct):
        """Drop coefficient primes before answering, down to ``params.response_primes``."""
        want = self.params.response_primes
        while want is not None and ct.coeff_modulus_size() > want:
            self.evaluator.mod_switch_to_next_inplace(ct)
        return ct

    def noise_budget(self, ct) -> int:
        return self.decryptor.invariant_noise_budget(ct)


def self_test(poly_degree: int = 4096) -> str:
    """A BFV round trip through this backend (``privmoe doctor``): encrypt, multiply by a plaintext,
    rotate, decrypt; raises RuntimeError on a wrong result. -> a one-line description."""
    import tenseal

    be = SealBackend(HEParams(poly_degree))
    slots, t = be.params.slots, be.plain_modulus
    values = np.arange(slots, dtype=np.uint64) % np.uint64(t)
    be.prepare({1})
    got = be.decrypt(be.rotate(be.multiply_plain(be.encrypt(values), np.full(slots, 2, dtype=np.uint64)), 1))
    want = np.roll(2 * values % np.uint64(t), -1)
    if not np.array_equal(np.asarray(got[:slots], dtype=np.uint64), want):
        raise RuntimeError("BFV round trip through SealBackend gave a wrong result")
    return f"tenseal {tenseal.__version__}, BFV N={poly_degree} round trip ok (encrypt, plain product, rotation)"
