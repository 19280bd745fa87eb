"""The slot-level BFV simulator: the HE interface on plaintext slot vectors mod t -- no crypto.

It runs the same protocol code as SEAL, gives identical outputs (mod t) and identical operation counts
(tested), and makes paper-scale sizes cheap. A rotation must use a prepared step, as on SEAL.

``count_only=True`` runs the protocol code without computing any slot value (plaintexts are passed
lazily and never built): the operation counts of paper-scale runs (millions of plaintext products) in
seconds; outputs are then meaningless zeros.

On the wire the simulator sends STAND-INS of exactly SEAL's uncompressed length (``protocols/he/wire.py``:
``sim_blob``; ``SimBackend.wire_sizes`` is SEAL's size model), so a simulated run meters SEAL's bytes:
a 24-byte privmoe header, then what the simulator really has -- a ciphertext's slot (or coefficient) values,
the parameters, the Galois elements (a simulated key is the set of elements it allows) -- then zeros. In
``count_only`` mode a ciphertext is a token and its blob is the header alone, zero-filled to the length:
the count-only simulator's stand-in, carrying no value. The public key has no simulated content (zeros).
A ciphertext remembers the primes it was switched down to (``_Level``), so an answer's blob has SEAL's
answer size. Only compression ``"none"`` is simulated (zstd sizes are SEAL's data-dependent output).
"""
from __future__ import annotations

import numpy as np

from functionalities.errors import PublicParameterError
from protocols.he import wire
from protocols.he.interface import Encoded, HEBackend, HEParams, WireSizes

#: toy ring degrees (below SEAL's smallest, 1024): one batching prime per plain-modulus size, p = 1 mod 2N
#: for every toy N (no SEAL run to agree with; the docs' toy examples use t = 1,032,193)
_TOY_PRIMES = {17: 65537, 20: 1032193, 21: 1785857, 22: 4169729, 23: 8257537, 24: 16580609, 25: 33292289,
               26: 67043329, 30: 1073643521}
_WITNESSES = (2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37)      # deterministic Miller-Rabin below 3.3e24


def _is_prime(n: int) -> bool:
    if n < 2:
        return False
    for p in _WITNESSES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d, r = d // 2, r + 1
    for a in _WITNESSES:
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = x * x % n
            if x == n - 1:
                break
        else:
            return False
    return True


def mulmod(a: np.ndarray, b: np.ndarray, t: int) -> np.ndarray:
    """a b mod t elementwise for uint64 residues below t, exactly: one product when t < 2^32; above, b in
    16-bit limbs, Horner (every partial below 2^62 for t < 2^46; wider t goes through Python integers)."""
    a, b = np.asarray(a, dtype=np.uint64), np.asarray(b, dtype=np.uint64)
    tt = np.uint64(t)
    if t < 1 << 32:
        return (a * b) % tt
    if t >= 1 << 46:
        return (a.astype(object) * b.astype(object) % t).astype(np.uint64)
    out = np.zeros(np.broadcast(a, b).shape, dtype=np.uint64)
    for shift in (48, 32, 16, 0):
        limb = (b >> np.uint64(shift)) & np.uint64(0xFFFF)
        out = ((out << np.uint64(16)) % tt + (a * limb) % tt) % tt
    return out


def plain_prime(params: HEParams) -> int:
    """The batching prime of ``params``: at SEAL's ring degrees (N >= 1024) the one SEAL picks
    (``PlainModulus.Batching(N, bits)``: the largest prime below 2^bits that is 1 mod 2N, searched downward
    from 2^bits - 2N + 1 in steps of 2N; ``tests/test_he.py`` holds it to SEAL's); at toy degrees the table
    above. PublicParameterError when there is none."""
    n, bits = params.poly_degree, params.plain_bits
    if n < 1024:
        if bits not in _TOY_PRIMES:
            raise PublicParameterError(f"no toy batching prime of {bits} bits (tabulated: {sorted(_TOY_PRIMES)})")
        return _TOY_PRIMES[bits]
    step = 2 * n
    value = (1 << bits) - step + 1
    while value > (1 << (bits - 1)):
        if _is_prime(value):
            return value
        value -= step
    raise PublicParameterError(f"no {bits}-bit prime is 1 mod {step}")


class _Level(np.ndarray):
    """A slot (or coefficient) vector switched down to ``primes`` coefficient primes, like SEAL's modulus
    switch, or of ``polys`` = 3 polynomials (a product not yet relinearised): numpy results computed from
    it keep the marks, as SEAL's operations keep a ciphertext's level and size."""

    primes: int | None
    polys: int | None

    def __array_finalize__(self, obj):
        self.primes = getattr(obj, "primes", None)
        self.polys = getattr(obj, "polys", None)


def _polys(ct) -> int:
    """2, or 3 for an unrelinearised product (a marked vector, or a count-only token ("ciphertext", p, 3))."""
    if isinstance(ct, tuple):
        return ct[2] if len(ct) > 2 else 2
    return getattr(ct, "polys", None) or 2


class SimBackend(HEBackend):
    """Ciphertexts are numpy uint64 slot vectors; every op counted like SEAL's.

    ``SimBackend(params, seed, plain_modulus=None, count_only=False, compression="none")``: the client's;
    ``SimBackend.evaluator(material, seed, count_only=...)``: the server's (no secret key)."""

    name = "sim"

    def __init__(self, params: HEParams, seed: int = 0, plain_modulus: int | None = None,
                 count_only: bool = False, compression: str = "none") -> None:
        super().__init__(params, seed)
        if wire.check_compression(compression) != "none":
            raise PublicParameterError("the simulator sends stand-ins of SEAL's uncompressed sizes only; "
                                       f"compression={compression!r} is SEAL's data-dependent output: use SEAL")
        self.compression = compression
        self._t = plain_modulus or plain_prime(params)
        self._steps: set[int] = set()
        self._galois_elts: set[int] = set()
        self._relin = False
        self._sizes = wire.seal_wire_sizes(params)
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

        def secret(what, op, **inc):
            self._need_secret(what)
            return rec(op, **inc)

        def apply_galois(a, element):
            if element not in self._galois_elts:
                raise KeyError(f"no Galois key for element {element}")
            return rec(f"galois{element}", key_switches=1)

        def switch_down(ct):
            want = self.params.response_primes
            if want is None or want >= self._primes(ct):
                return ct
            return ("ciphertext", want, 3) if _polys(ct) == 3 else ("ciphertext", want)

        def multiply(a, b):
            self._same_level(a, b)
            self.counts.record("multiply", ct_mults=1)
            return ("ciphertext", self._primes(a), 3)

        def relinearize(a):
            self._need_relin()
            self.counts.record("relinearize", relinearizations=1, key_switches=1)
            primes = self._primes(a)
            return ("ciphertext", primes) if primes < self.params.data_primes else token

        self.encrypt = lambda values: secret("encrypt", "encrypt", encryptions=1)
        self.encrypt_coeffs = lambda coeffs: secret("encrypt", "encrypt", encryptions=1)
        self.decrypt = lambda ct: (secret("decrypt", "decrypt", decryptions=1), zero)[1]
        self.add = lambda a, b: rec("add", ct_adds=1)
        self.sub = lambda a, b: rec("sub", ct_adds=1)
        self.add_plain = lambda a, values: rec("add_plain", ct_adds=1)
        self.multiply_plain = lambda a, values: rec("multiply_plain", pt_mults=1)
        self.multiply_monomial = lambda a, power: rec("multiply_monomial", pt_mults=1)
        self.apply_galois = apply_galois
        self.rotate = rotate
        self.switch_down = switch_down
        self.multiply = multiply
        self.relinearize = relinearize

    @property
    def plain_modulus(self) -> int:
        return self._t

    def prepare(self, steps):
        self.prepare_galois(set(), steps)

    def encode(self, values):
        return self._row(values)[: self.params.slots].copy()

    def encode_weights(self, values) -> Encoded:
        p = self.encode(values)
        return Encoded(p, not p.any())

    def encrypt(self, values):
        self._need_secret("encrypt")
        self.counts.record("encrypt", encryptions=1)
        return self.encode(values)

    def decrypt(self, ct):
        self._need_secret("decrypt")
        self.counts.record("decrypt", decryptions=1)
        return np.array(ct, dtype=np.uint64)

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
        p = values.plain if isinstance(values, Encoded) else self.encode(values)
        if isinstance(a, tuple):   # a coefficient-mode ciphertext: only a constant polynomial has slots
            if np.any(a[1][1:]):
                raise ValueError("the simulator multiplies slot vectors only by constant polynomials")
            a = np.full(self.params.slots, a[1][0], dtype=np.uint64)
        out = mulmod(a, p, self._t)
        if isinstance(a, _Level):                        # keep the level (and size) marks, as SEAL does
            out = out.view(_Level)
            out.primes, out.polys = a.primes, a.polys
        return out

    # coefficient mode: a ciphertext is ("coeff", N coefficients mod t); slot mode is a plain slot vector.
    def prepare_galois(self, elements, steps):
        """Keys for exactly these elements and steps (as SEAL: a step s is the element 3^s mod 2N). On a
        server's backend nothing is generated: it checks the received keys cover them and narrows the steps."""
        elts = set(wire.galois_elements(self.params, steps, elements))
        if not self.has_secret_key:
            missing = sorted(elts - self._galois_elts)
            if missing:
                raise PermissionError(f"the server holds no secret key and cannot make Galois keys; missing keys "
                                      f"for elements {missing} (received {sorted(self._galois_elts)})")
        else:
            self._galois_elts = elts
        self._steps = {s % self.params.slots for s in steps if s % self.params.slots}

    def encrypt_coeffs(self, coeffs):
        self._need_secret("encrypt")
        self.counts.record("encrypt", encryptions=1)
        v = np.zeros(self.params.poly_degree, dtype=np.uint64)
        v[: len(coeffs)] = np.asarray(coeffs, dtype=np.uint64) % np.uint64(self._t)
        return ("coeff", v)

    def apply_galois(self, a, element):
        if element not in self._galois_elts:
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

    # -- ciphertext x ciphertext ----------------------------------------------------------------------------
    def prepare_relin(self) -> None:
        """Relinearisation keys: a flag (the simulator has no key), sent as a stand-in of SEAL's size."""
        if not self.has_secret_key:
            if not self._relin:
                raise PermissionError("the server holds no secret key and cannot make relinearisation keys; "
                                      "none were received")
            return
        self._relin = True

    def _need_relin(self) -> None:
        if not self._relin:
            raise KeyError("no relinearisation keys: the client must prepare_relin() before the keys are sent")

    def _same_level(self, a, b) -> None:
        if self._primes(a) != self._primes(b):
            raise ValueError(f"multiply: operands over {self._primes(a)} and {self._primes(b)} primes (SEAL "
                             "refuses ciphertexts at different levels)")
        if _polys(a) != 2 or _polys(b) != 2:
            raise ValueError("multiply: relinearise a product before multiplying it again (privmoe keeps size 2)")

    def multiply(self, a, b):
        """Slot-wise product mod t; the result is marked as 3 polynomials (serialized at SEAL's size-3 length)."""
        self._same_level(a, b)
        self.counts.record("multiply", ct_mults=1)
        out = mulmod(a, b, self._t).view(_Level)
        out.primes, out.polys = getattr(a, "primes", None), 3
        return out

    def relinearize(self, a):
        self._need_relin()
        self.counts.record("relinearize", relinearizations=1, key_switches=1)
        out = np.array(a, dtype=np.uint64).view(_Level)
        out.primes, out.polys = getattr(a, "primes", None), None
        return out if out.primes else np.array(out, dtype=np.uint64)

    # -- levels and the wire (module docstring; protocols/he/wire.py) ------------------------------------
    def _primes(self, ct) -> int:
        """The coefficient primes ``ct`` is over: all data primes unless switched down."""
        if isinstance(ct, tuple):
            v = ct[1] if len(ct) > 1 else None
            if isinstance(v, (int, np.integer)):          # a count-only token ("ciphertext", primes)
                return int(v)
            if v is not None and getattr(v, "primes", None):
                return v.primes
            return self.params.data_primes
        return getattr(ct, "primes", None) or self.params.data_primes

    def switch_down(self, ct):
        """SEAL's modulus switch to ``params.response_primes``: the values are unchanged; the ciphertext is
        marked (``_Level``) so its blob has SEAL's answer size."""
        want = self.params.response_primes
        if want is None or want >= self._primes(ct):
            return ct
        if isinstance(ct, tuple):
            v = ct[1].view(_Level)
            v.primes = want
            return ("coeff", v)
        v = ct.view(_Level)
        v.primes = want
        return v

    def _ct_blob(self, ct, seeded: bool) -> bytes:
        primes, polys = self._primes(ct), _polys(ct)
        total = self._sizes.query if seeded else self._sizes.ciphertext(polys, primes)
        size = 1 if seeded else polys
        if self.count_only:
            return wire.sim_blob(wire.SIM_TOKEN, total, (), size, primes)
        if isinstance(ct, tuple):
            return wire.sim_blob(wire.SIM_COEFF, total, ct[1], size, primes)
        return wire.sim_blob(wire.SIM_SLOT, total, np.asarray(ct), size, primes)

    def encrypt_bytes(self, values) -> bytes:
        """Encrypt (one encryption counted) -> the stand-in of SEAL's seeded query (``wire_sizes.query``
        bytes: header, the slot values, zeros; count-only: header and zeros)."""
        return self._ct_blob(self.encrypt(values), seeded=True)

    def encrypt_coeffs_bytes(self, coeffs) -> bytes:
        """``encrypt_coeffs`` -> the stand-in of SEAL's seeded coefficient query (``wire_sizes.query_coeffs``)."""
        return self._ct_blob(self.encrypt_coeffs(coeffs), seeded=True)

    def to_bytes(self, ct) -> bytes:
        """A ciphertext -> the stand-in of SEAL's full size-2 form over its primes
        (``wire_sizes.ciphertext(2, primes)``; ``.answer`` after ``switch_down``)."""
        return self._ct_blob(ct, seeded=False)

    def from_bytes(self, blob):
        """A stand-in -> a ciphertext (a token in count-only mode); :class:`wire.WireError` if malformed, of
        another length than SEAL's for its kind, or (full mode) a count-only blob without values."""
        kind, size, primes, values = wire.read_sim_blob(blob)
        n, slots, data = self.params.poly_degree, self.params.slots, self.params.data_primes
        if kind not in (wire.SIM_SLOT, wire.SIM_COEFF, wire.SIM_TOKEN):
            raise wire.WireError(f"a {wire.SIM_KINDS[kind]} blob is not a ciphertext")
        if size not in (1, 2, 3) or not 1 <= primes <= data or (size == 1 and primes != data):
            raise wire.WireError(f"a ciphertext of {size} polynomials over {primes} primes is not one these "
                                 f"parameters make ({data} data primes)")
        want = self._sizes.query if size == 1 else self._sizes.ciphertext(size, primes)
        if len(wire.as_bytes(blob)) != want:
            raise wire.WireError(f"{len(wire.as_bytes(blob))} bytes; SEAL's size of this ciphertext is {want}")
        if self.count_only:
            if size == 3:
                return ("ciphertext", primes, 3)
            return ("ciphertext", primes) if primes < data else ("ciphertext",)
        if kind == wire.SIM_TOKEN:
            raise wire.WireError("a count-only stand-in carries no values: the full simulator cannot load it")
        if len(values) != (slots if kind == wire.SIM_SLOT else n) or np.any(values >= np.uint64(self._t)):
            raise wire.WireError(f"{len(values)} values (mod {self._t}) do not make a "
                                 f"{wire.SIM_KINDS[kind]} at N = {n}")
        ct = values.copy()
        if primes < data or size == 3:
            ct = ct.view(_Level)
            ct.primes = primes if primes < data else None
            ct.polys = 3 if size == 3 else None
        return ("coeff", ct) if kind == wire.SIM_COEFF else ct

    def public_material(self) -> dict[str, bytes]:
        """Stand-ins of SEAL's lengths (``wire_sizes``): ``params`` carries [N, t, plain bits, response primes
        (0: None), K, coefficient bits...]; ``public_key`` nothing (the simulator has no key: zeros);
        ``galois_keys`` the prepared Galois elements (b"" when none)."""
        self._need_secret("make key material")
        p, z = self.params, self._sizes
        head = [p.poly_degree, self._t, p.plain_bits, p.response_primes or 0, len(p.coeff_bits), *p.coeff_bits]
        elts = sorted(self._galois_elts)
        return {"params": wire.sim_blob(wire.SIM_PARAMS, z.params, head),
                "public_key": wire.sim_blob(wire.SIM_PUBLIC_KEY, z.public_key),
                "galois_keys": wire.sim_blob(wire.SIM_GALOIS, z.galois_keys(len(elts)), elts) if elts else b"",
                "relin_keys": wire.sim_blob(wire.SIM_RELIN, z.relin_keys) if self._relin else b""}

    @classmethod
    def evaluator(cls, material: dict[str, bytes], seed: int = 0, compression: str = "none",
                  plain_modulus: int | None = None, count_only: bool = False) -> "SimBackend":
        """The server's simulator from ``public_material()`` alone (same HEParams and plain modulus; the
        allowed Galois elements are the received ones, a step s allowed iff 3^s mod 2N is among them); no
        secret key: ``encrypt*``, ``decrypt``, ``noise_budget`` raise PermissionError."""
        missing = [k for k in cls.MATERIAL if k not in material]
        if missing:
            raise wire.WireError(f"public material lacks {missing}")
        kind, _, _, head = wire.read_sim_blob(material["params"])
        if kind != wire.SIM_PARAMS or len(head) < 5 or len(head) != 5 + int(head[4]):
            raise wire.WireError("params: not the simulator's parameter blob")
        n, t, plain_bits, response, k = (int(x) for x in head[:5])
        params = HEParams(n, plain_bits, tuple(int(b) for b in head[5:]), response or None)
        if plain_modulus is not None and plain_modulus != t:
            raise wire.WireError(f"params: plain modulus {t}, the caller expects {plain_modulus}")
        sizes = wire.seal_wire_sizes(params)
        for name, want in (("params", sizes.params), ("public_key", sizes.public_key)):
            if len(wire.as_bytes(material[name])) != want:
                raise wire.WireError(f"{name}: {len(wire.as_bytes(material[name]))} bytes, SEAL's size is {want}")
        wire.read_sim_blob(material["public_key"])
        elts: set[int] = set()
        if len(material["galois_keys"]):
            kind, _, _, values = wire.read_sim_blob(material["galois_keys"])
            if kind != wire.SIM_GALOIS or len(wire.as_bytes(material["galois_keys"])) != sizes.galois_keys(len(values)):
                raise wire.WireError("galois_keys: not the simulator's Galois key blob of SEAL's size")
            elts = {int(e) for e in values}
        if len(material["relin_keys"]):
            kind, _, _, _ = wire.read_sim_blob(material["relin_keys"])
            if kind != wire.SIM_RELIN or len(wire.as_bytes(material["relin_keys"])) != sizes.relin_keys:
                raise wire.WireError("relin_keys: not the simulator's relinearisation key blob of SEAL's size")
        self = cls(params, seed, plain_modulus=t, count_only=count_only, compression=compression)
        self.has_secret_key = False
        self._relin = bool(len(material["relin_keys"]))
        self._galois_elts = elts
        self._steps = wire.steps_of(params, elts)
        return self

    @staticmethod
    def wire_sizes(params: HEParams, compression: str = "none") -> WireSizes:
        """SEAL's size model (the simulator's blobs are stand-ins of SEAL's lengths); "zstd" raises."""
        return wire.wire_sizes(params, compression)


class SimCountBackend(SimBackend):
    """The count-only simulator as a backend class of its own (``privmoe costs NAME --backend sim --measure``):
    both parties run the real two-party protocol on the wire, every frame of SEAL's serialized length (a
    stand-in without values), so counts and bytes are measured at sizes where values would be too slow."""

    name = "sim-count"

    def __init__(self, params: HEParams, seed: int = 0, plain_modulus: int | None = None, compression: str = "none",
                 **_) -> None:
        super().__init__(params, seed, plain_modulus, count_only=True, compression=compression)

    @classmethod
    def evaluator(cls, material: dict[str, bytes], seed: int = 0, compression: str = "none",
                  plain_modulus: int | None = None, **_) -> "SimCountBackend":
        return super().evaluator(material, seed, compression, plain_modulus, count_only=True)
