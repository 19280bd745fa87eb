"""The HE interface on Microsoft SEAL (BFV) through ``tenseal.sealapi``.

Keys: the client's secret key decrypts; the server gets the public key and Galois keys for exactly the
prepared steps (element ``3^step mod 2N`` per left row rotation). One rotation = one key switch.

On the wire (``protocols/he/wire.py``: formats, compression modes, the size model and its derivation):
the client's ``public_material()`` is SEAL's EncryptionParameters (+ privmoe's 8-byte trailer), its public
key (full: tenseal does not expose the seeded form) and SEEDED Galois keys for exactly the prepared
elements; ``SealBackend.evaluator(material)`` is the server's backend (public key, Galois keys, no secret
key). Queries travel seeded (``encrypt_bytes``), answers in full (``to_bytes``).
"""
from __future__ import annotations

import time

import numpy as np
import tenseal.sealapi as seal

from functionalities.errors import PublicParameterError
from protocols.he import flooding, wire
from protocols.he.interface import Encoded, HEBackend, HEParams, WireSizes


class SealBackend(HEBackend):
    """``SealBackend(params, seed, compression="none")``: the client's backend (keys generated here; ``seed``
    seeds ``rng`` only, SEAL draws its keys from the OS). ``compression``: the mode of every blob it makes
    (``wire.COMPRESSIONS``). ``SealBackend.evaluator(material)``: the server's."""

    name = "seal"
    #: flood the answers' noise in ``conceal`` (False only in the negative control ``unflooded.matmul``)
    flood = True

    def __init__(self, params: HEParams, seed: int = 0, compression: str = "none") -> None:
        super().__init__(params, seed)
        self.compression = wire.check_compression(compression)
        if not params.secure:
            raise PublicParameterError(f"SEAL needs poly_degree >= 4096 for 128-bit security (got "
                                       f"{params.poly_degree}); toy sizes run on the simulator (--backend sim)")
        n = params.poly_degree
        parms = seal.EncryptionParameters(seal.SCHEME_TYPE.BFV)
        parms.set_poly_modulus_degree(n)
        parms.set_coeff_modulus(seal.CoeffModulus.Create(n, list(params.coeff_bits)))
        parms.set_plain_modulus(seal.PlainModulus.Batching(n, params.plain_bits))
        self._context(parms)
        self.keygen = seal.KeyGenerator(self.ctx)
        pk = seal.PublicKey()
        self.keygen.create_public_key(pk)
        self.public_key = pk
        self.encryptor = seal.Encryptor(self.ctx, pk)
        self.encryptor.set_secret_key(self.keygen.secret_key())   # the client's inputs: symmetric, seedable
        self.decryptor = seal.Decryptor(self.ctx, self.keygen.secret_key())
        self.keygen_seconds = 0.0     # Galois key generation (a one-off set-up, reported apart)

    def _context(self, parms) -> None:
        """SEALContext, evaluator, encoder from EncryptionParameters (client and server alike)."""
        self.parms = parms
        self.ctx = seal.SEALContext(parms, True, seal.SEC_LEVEL_TYPE.TC128)
        if not self.ctx.parameters_set():
            raise ValueError(f"SEAL refused the parameters: {self.ctx.parameters_error_message()}")
        self.evaluator = seal.Evaluator(self.ctx)
        self.encoder = seal.BatchEncoder(self.ctx)
        self._t = parms.plain_modulus().value()
        self.galois = None
        self._steps: set[int] = set()
        self._galois_elts: list[int] = []
        self._material_galois: tuple[tuple[int, ...], bytes] | None = None
        self.relin_keys = None
        self._material_relin: bytes = b""

    @property
    def plain_modulus(self) -> int:
        return self._t

    def prepare(self, steps):
        start = time.perf_counter()
        self._prepare(steps)
        self.keygen_seconds += time.perf_counter() - start

    def _prepare(self, steps):
        if not self.has_secret_key:
            return self._check_keys(set(), steps)
        self._steps = {s % self.params.slots for s in steps if s % self.params.slots}
        n = self.params.poly_degree
        elts = sorted({pow(3, s % self.params.slots, 2 * n) for s in steps if s % self.params.slots})
        self._galois_elts = elts
        self.galois = seal.GaloisKeys()
        if elts:
            self.keygen.create_galois_keys(elts, self.galois)

    def _check_keys(self, elements, steps) -> None:
        """The server cannot make keys: ``prepare`` there checks it received every key the steps/elements need,
        and narrows the allowed rotations to ``steps``."""
        need = wire.galois_elements(self.params, steps, elements)
        missing = [e for e in need if e not in self._galois_elts]
        if missing:
            raise PermissionError(f"the server holds no secret key and cannot make Galois keys; missing keys for "
                                  f"elements {missing} (received {self._galois_elts})")
        self._steps = {s % self.params.slots for s in steps if s % self.params.slots}

    def encode(self, values):
        pt = seal.Plaintext()
        self.encoder.encode(self._row(values).tolist(), pt)
        return pt

    def encrypt(self, values):
        """The client encrypts with its SECRET key (symmetric). In memory SEAL expands the second polynomial
        from its seed: to send a query seeded (``wire_sizes(params).query`` bytes) use ``encrypt_bytes``;
        ``to_bytes(encrypt(v))`` is the full size-2 form."""
        self._need_secret("encrypt")
        self.counts.record("encrypt", encryptions=1)
        ct = seal.Ciphertext()
        self.encryptor.encrypt_symmetric(self.encode(values), ct)
        return ct

    def encrypt_bytes(self, values) -> bytes:
        """Encrypt (symmetric) and serialize SEEDED: ``encrypt_symmetric(pt)`` returns SEAL's
        ``Serializable<Ciphertext>``, saved with the second polynomial as its 64-byte PRNG seed:
        N L 8 + 194 bytes in mode "none" (``wire.py``). One encryption counted."""
        self._need_secret("encrypt")
        self.counts.record("encrypt", encryptions=1)
        return wire.save_bytes(self.encryptor.encrypt_symmetric(self.encode(values)), self.compression)

    def encrypt_coeffs_bytes(self, coeffs) -> bytes:
        """``encrypt_coeffs`` serialized seeded (as ``encrypt_bytes``). One encryption counted."""
        self._need_secret("encrypt")
        self.counts.record("encrypt", encryptions=1)
        pt = self._poly(np.asarray(coeffs, dtype=np.uint64) % np.uint64(self._t))
        return wire.save_bytes(self.encryptor.encrypt_symmetric(pt), self.compression)

    def to_bytes(self, ct) -> bytes:
        """A ciphertext -> SEAL's serialization in this backend's compression mode (full form, not seeded:
        size N p 8 + 113 bytes for ``size`` polynomials over p primes in mode "none")."""
        return wire.save_bytes(ct, self.compression)

    def from_bytes(self, blob) -> "seal.Ciphertext":
        """SEAL bytes (either mode; a seeded blob is expanded) -> a ciphertext, validated by SEAL against this
        context; :class:`protocols.he.wire.WireError` on a malformed blob."""
        return wire.load_bytes(seal.Ciphertext(), blob, self.ctx, "ciphertext")

    def public_material(self) -> dict[str, bytes]:
        """``params``: SEAL's EncryptionParameters + privmoe's trailer (response primes, plain bits);
        ``public_key``: the public key (full form: tenseal does not expose ``Serializable<PublicKey>``);
        ``galois_keys``: SEEDED Galois keys (``KeyGenerator.create_galois_keys(elements)`` ->
        ``Serializable<GaloisKeys>``) for exactly the prepared elements, b"" when none. These Galois keys are
        generated here (once per prepared set; time added to ``keygen_seconds``): a second, equally valid key
        set for the same secret key as the in-memory keys ``rotate`` uses when one backend plays both parties."""
        self._need_secret("make key material")
        elts = tuple(self._galois_elts)
        if self._material_galois is None or self._material_galois[0] != elts:
            start = time.perf_counter()
            blob = wire.save_bytes(self.keygen.create_galois_keys(list(elts)), self.compression) if elts else b""
            self.keygen_seconds += time.perf_counter() - start
            self._material_galois = (elts, blob)
        return {"params": wire.save_bytes(self.parms, self.compression) + wire.params_trailer(self.params),
                "public_key": wire.save_bytes(self.public_key, self.compression),
                "galois_keys": self._material_galois[1],
                "relin_keys": self._material_relin}

    @classmethod
    def evaluator(cls, material: dict[str, bytes], seed: int = 0, compression: str = "none",
                  **kw) -> "SealBackend":
        """The server's backend from ``public_material()`` alone: EncryptionParameters -> SEALContext; the
        public key -> a public-key Encryptor (``multiply_plain`` by an all-zero plaintext encrypts zero);
        Evaluator, BatchEncoder; the Galois keys, whose elements set the allowed rotation steps (step s iff
        the key of 3^s mod 2N was received). ``HEParams`` from SEAL's parameters and privmoe's trailer: equal
        to the client's. No secret key: ``encrypt*``, ``decrypt``, ``noise_budget`` raise PermissionError."""
        if kw:
            raise TypeError(f"SealBackend.evaluator: unexpected options {sorted(kw)}")
        missing = [k for k in cls.MATERIAL if k not in material]
        if missing:
            raise wire.WireError(f"public material lacks {missing}")
        seal_part, response, plain_bits = wire.split_params(material["params"])
        parms = wire.load_bytes(seal.EncryptionParameters(seal.SCHEME_TYPE.BFV), seal_part, None, "params")
        if parms.scheme() != seal.SCHEME_TYPE.BFV:
            raise wire.WireError(f"params: scheme {parms.scheme()}, not BFV")
        if parms.plain_modulus().bit_count() != plain_bits:
            raise wire.WireError(f"params: a {parms.plain_modulus().bit_count()}-bit plain modulus, the trailer "
                                 f"says {plain_bits}")
        params = HEParams(parms.poly_modulus_degree(), plain_bits,
                          tuple(m.bit_count() for m in parms.coeff_modulus()), response)
        self = cls.__new__(cls)
        HEBackend.__init__(self, params, seed)
        self.compression = wire.check_compression(compression)
        self.has_secret_key = False
        self._context(parms)
        self.keygen, self.decryptor, self.keygen_seconds = None, None, 0.0
        self.public_key = wire.load_bytes(seal.PublicKey(), material["public_key"], self.ctx, "public_key")
        self.encryptor = seal.Encryptor(self.ctx, self.public_key)
        self.galois = seal.GaloisKeys()
        if len(material["galois_keys"]):
            wire.load_bytes(self.galois, material["galois_keys"], self.ctx, "galois_keys")
            n = params.poly_degree
            self._galois_elts = [e for e in range(3, 2 * n, 2) if self.galois.has_key(e)]
        self._steps = wire.steps_of(params, self._galois_elts)
        if len(material["relin_keys"]):
            self.relin_keys = wire.load_bytes(seal.RelinKeys(), material["relin_keys"], self.ctx, "relin_keys")
        return self

    @staticmethod
    def wire_sizes(params: HEParams, compression: str = "none") -> WireSizes:
        """Exact sizes of SEAL's uncompressed blobs at ``params`` (``wire.seal_wire_sizes``; derivation in
        ``protocols/he/wire.py``); ``compression="zstd"`` raises PublicParameterError (data dependent)."""
        return wire.wire_sizes(params, compression)

    def decrypt(self, ct):
        self._need_secret("decrypt")
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
        enc = values if isinstance(values, Encoded) else self.encode_weights(values)
        if enc.zero:
            self.encryptor.encrypt_zero(out)
            return out
        self.evaluator.multiply_plain(a, enc.plain, out)
        return out

    def encode_weights(self, values) -> Encoded:
        row = self._row(values)                        # reduced mod t, both rows
        if not row.any():
            return Encoded(None, True)
        pt = seal.Plaintext()
        self.encoder.encode(row.tolist(), pt)
        return Encoded(pt, False)

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
        if not self.has_secret_key:
            return self._check_keys(elements, steps)
        self._steps = {s % self.params.slots for s in steps if s % self.params.slots}
        n = self.params.poly_degree
        elts = sorted(set(elements) | {pow(3, s % self.params.slots, 2 * n) for s in steps if s % self.params.slots})
        self._galois_elts = elts
        self.galois = seal.GaloisKeys()
        if elts:
            self.keygen.create_galois_keys(elts, self.galois)

    @staticmethod
    def _poly(coeffs) -> "seal.Plaintext":
        """SEAL's plaintext of a coefficient vector (its hex polynomial syntax; only the non-zero terms)."""
        coeffs = np.asarray(coeffs, dtype=np.uint64)
        terms = [f"{int(coeffs[k]):X}x^{k}" if k else f"{int(coeffs[k]):X}" for k in np.flatnonzero(coeffs)]
        return seal.Plaintext(" + ".join(reversed(terms)) or "0")

    @staticmethod
    def _monomial(power: int) -> "seal.Plaintext":
        """The plaintext x^power (0 <= power < N)."""
        return seal.Plaintext(f"1x^{power}" if power else "1")

    def encrypt_coeffs(self, coeffs):
        self._need_secret("encrypt")
        self.counts.record("encrypt", encryptions=1)
        ct = seal.Ciphertext()
        self.encryptor.encrypt_symmetric(self._poly(np.asarray(coeffs, dtype=np.uint64) % np.uint64(self._t)), ct)
        return ct

    def apply_galois(self, a, element):
        if element not in self._galois_elts:
            raise KeyError(f"no Galois key for element {element} (prepared: {self._galois_elts})")
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
        self.evaluator.multiply_plain(a, self._monomial(p % n), out)
        if p >= n:
            self.evaluator.negate_inplace(out)
        return out

    def sub(self, a, b):
        self.counts.record("sub", ct_adds=1)
        out = seal.Ciphertext()
        self.evaluator.sub(a, b, out)
        return out

    # -- ciphertext x ciphertext -----------------------------------------------------------------------------
    def prepare_relin(self) -> None:
        """Relinearisation keys (client): kept in memory for ``relinearize`` and serialized SEEDED
        (``KeyGenerator.create_relin_keys()`` -> ``Serializable<RelinKeys>``) for the public material; the
        server's backend gets them from it. Generation time goes to ``keygen_seconds``."""
        if not self.has_secret_key:
            if self.relin_keys is None:
                raise PermissionError("the server holds no secret key and cannot make relinearisation keys; "
                                      "none were received")
            return
        start = time.perf_counter()
        self.relin_keys = seal.RelinKeys()
        self.keygen.create_relin_keys(self.relin_keys)
        self._material_relin = wire.save_bytes(self.keygen.create_relin_keys(), self.compression)
        self.keygen_seconds += time.perf_counter() - start

    def multiply(self, a, b):
        """Slot-wise product (size 3); both operands size 2 at one level (ValueError otherwise, as the
        simulator: privmoe relinearises every product before it is used again)."""
        if a.size() != 2 or b.size() != 2:
            raise ValueError("multiply: relinearise a product before multiplying it again (privmoe keeps size 2)")
        if a.coeff_modulus_size() != b.coeff_modulus_size():
            raise ValueError(f"multiply: operands over {a.coeff_modulus_size()} and {b.coeff_modulus_size()} primes "
                             "(SEAL refuses ciphertexts at different levels)")
        self.counts.record("multiply", ct_mults=1)
        out = seal.Ciphertext()
        self.evaluator.multiply(a, b, out)
        return out

    def relinearize(self, a):
        if self.relin_keys is None:
            raise KeyError("no relinearisation keys: the client must prepare_relin() before the keys are sent")
        self.counts.record("relinearize", relinearizations=1, key_switches=1)
        out = seal.Ciphertext()
        self.evaluator.relinearize(a, self.relin_keys, out)
        return out

    def switch_down(self, ct):
        """Drop coefficient primes before answering, down to ``params.response_primes``."""
        want = self.params.response_primes
        while want is not None and ct.coeff_modulus_size() > want:
            self.evaluator.mod_switch_to_next_inplace(ct)
        return ct

    def noise_budget(self, ct) -> int:
        self._need_secret("measure a noise budget")
        return self.decryptor.invariant_noise_budget(ct)

    # -- circuit privacy (protocols/he/flooding.py) ------------------------------------------------------------
    def _primes(self, ct) -> list[int]:
        return [m.value() for m in self.ctx.get_context_data(ct.parms_id()).parms().coeff_modulus()]

    def conceal(self, ct, rng: np.random.Generator, pre_bits: float | None = None):
        """The server's last step on an answer (``protocols/he/flooding.py``): add a fresh public-key
        encryption of zero (counted: one encryption, one addition), switch down, and add noise uniform in
        ``[-2^b, 2^b)`` (``b = flooding.plan(params, pre_bits=pre_bits).bits``, from ``rng``: the server's private generator) to
        every coefficient of the first polynomial, prime by prime, in the serialized answer."""
        bits = flooding.check(self.params, pre_bits=pre_bits).bits if self.flood else 0   # FloodingError: no room
        self.counts.record("conceal", encryptions=1, ct_adds=1)
        zero = seal.Ciphertext()
        self.encryptor.encrypt_zero(zero)              # with the PUBLIC key (the server holds no other)
        out = seal.Ciphertext()
        self.evaluator.add(ct, zero, out)
        out = self.switch_down(out)
        if not self.flood:
            return out
        n, primes = self.params.poly_degree, self._primes(out)
        blob = wire.uncompressed(wire.save_bytes(out, "none"))
        coeffs = np.frombuffer(blob, dtype="<u8", offset=wire.CT_OVERHEAD).copy().reshape(-1, len(primes), n)
        coeffs[0] = flooding.add_to_poly(coeffs[0], flooding.draw(rng, n, bits), primes)
        return self.from_bytes(blob[:wire.CT_OVERHEAD] + coeffs.astype("<u8").tobytes())

    def _secret(self) -> np.ndarray:
        """The secret key's coefficients (int64 in {-1, 0, 1}), read through SEAL's own decryption: the
        ciphertext (0, floor(q/t)) decrypts to round(t/q floor(q/t) s) = s mod t (tenseal exposes the key only
        in NTT form). Client only; cached."""
        self._need_secret("read its secret key")
        if getattr(self, "_s", None) is None:
            n = self.params.poly_degree
            probe = seal.Ciphertext()                  # a template of the right level (not counted)
            self.encryptor.encrypt_symmetric(self.encode(np.zeros(self.params.slots, dtype=np.uint64)), probe)
            primes = self._primes(probe)
            q = 1
            for p in primes:
                q *= p
            blob = self.to_bytes(probe)
            coeffs = np.zeros((2, len(primes), n), dtype=np.uint64)
            coeffs[1, :, 0] = [(q // self._t) % p for p in primes]
            pt = seal.Plaintext()
            self.decryptor.decrypt(self.from_bytes(blob[:wire.CT_OVERHEAD] + coeffs.astype("<u8").tobytes()), pt)
            s = np.array(_coeffs(pt, n), dtype=np.int64)
            self._s = np.where(s == self._t - 1, -1, s)
        return self._s

    def answer_noise(self, ct) -> list[int]:
        """The decryption noise of ``ct`` (client only; not counted): per coefficient, the phase
        ``c0 + c1 s mod q`` minus ``round(q m / t)`` for the decrypted plaintext polynomial m, centred in
        ``(-q/2, q/2]`` (Python ints). What the client learns beyond m when it decrypts."""
        s = self._secret()
        n, primes = self.params.poly_degree, self._primes(ct)
        blob = wire.uncompressed(wire.save_bytes(ct, "none"))
        coeffs = np.frombuffer(blob, dtype="<u8", offset=wire.CT_OVERHEAD).reshape(-1, len(primes), n)
        pt = seal.Plaintext()
        self.decryptor.decrypt(ct, pt)
        m = _coeffs(pt, n)
        return flooding.phase_noise(coeffs, s, primes, m, self._t)


def _coeffs(pt, n: int) -> list[int]:
    """A plaintext's N coefficients (SEAL stores only up to the last non-zero one)."""
    k = pt.coeff_count()
    return [pt.data(i) for i in range(k)] + [0] * (n - k)


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
