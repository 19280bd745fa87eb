"""One small BFV interface every HE protocol of privmoe is written against.

Served by SEAL (``protocols/he/seal_backend.py``, through ``tenseal.sealapi``) or by the slot simulator
(``simulators/he.py``: plaintext slot vectors mod t, no crypto). Both count every operation the same
way, so a protocol's counts are identical on both, and the simulator makes paper-scale sizes cheap.

Slot model: BFV batching gives 2 rows x N/2 slots; ``rotate`` is SEAL's row rotation (both rows rotate
together, left by ``step``). privmoe's protocols use **row rotations only**: the second row mirrors the
first, so a ciphertext carries ``slots = N/2`` useful values and a rotation is a cyclic rotation of them.
(Using the column swap to fill the second row would halve ciphertext counts; not done here.)
Galois keys are generated for exactly the steps a protocol declares (``prepare``), so one rotation is
one key switch: SEAL would quietly compose a missing step from other keys (several key switches), so
both backends refuse a step that was not prepared.

Ciphertext x ciphertext (``multiply`` -> size 3, ``relinearize`` -> size 2, one key switch with the
relinearisation keys the client prepares with ``prepare_relin`` and sends once in its public material):
counted as ``ct_mults`` and ``relinearizations``; privmoe relinearises every product before using it again.

On the wire (``protocols/he/wire.py``): ciphertexts and the client's public material are serialized to
bytes (``encrypt_bytes``, ``to_bytes``/``from_bytes``, ``public_material``); the server's backend is rebuilt
from that material alone (``evaluator``) and holds no secret key. A backend's ``wire_sizes(params)``
(:class:`WireSizes`) is the exact byte size of every blob in the default compression mode ``"none"``, derived
from SEAL's serialization format and checked by measurement (``wire.size_problems``). The older formulas
``HEParams.seeded_ciphertext_bytes`` (``N L 8 + 64``) and ``response_bytes`` (``2 N L' 8``) count the
coefficient data only, without SEAL's per-object overhead (194 and 113 bytes).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from functionalities.errors import PublicParameterError

COUNTED = ("rotations", "pt_mults", "ct_adds", "encryptions", "decryptions", "key_switches", "ct_mults",
           "relinearizations")


def default_coeff_bits(n: int) -> tuple[int, ...]:
    """Coefficient moduli (the last is SEAL's special prime): N = 8192 as BumbleBee/SPU (``docs/accounting.md``:
    {59, 55, 49} + 55); N = 4096 the 109-bit budget of 128-bit security; the simulator's toy sizes reuse
    the 4096 choice (no security claimed)."""
    if n >= 16384:
        return (60, 60, 60, 60, 60, 60, 60)
    if n == 8192:
        return (59, 55, 49, 55)
    return (36, 36, 37)


@dataclass(frozen=True)
class HEParams:
    """BFV parameters: ring degree N, plain modulus bits (a batching prime), coefficient primes' bits.

    ``response_primes``: primes left after switching the server's answers down (``docs/accounting.md``:
    {59, 55, 49} + special 55, answers at {59, 55}); ``None`` keeps them all."""

    poly_degree: int = 4096
    plain_bits: int = 20
    coeff_bits: tuple[int, ...] | None = None
    response_primes: int | None = None

    def __post_init__(self):
        n = self.poly_degree
        if isinstance(n, bool) or not isinstance(n, int) or n < 8 or n & (n - 1):
            raise PublicParameterError(f"poly_degree must be a power of two >= 8, got {n}")
        if self.coeff_bits is None:
            object.__setattr__(self, "coeff_bits", default_coeff_bits(n))
        if self.response_primes is None and n == 8192:
            object.__setattr__(self, "response_primes", 2)    # answers at {59, 55} (docs/accounting.md)

    @property
    def secure(self) -> bool:
        """SEAL accepts these parameters at 128-bit security (N >= 4096 with the default moduli)."""
        return self.poly_degree >= 4096

    @property
    def slots(self) -> int:
        """Useful slots per ciphertext (one BFV row: N / 2)."""
        return self.poly_degree // 2

    @property
    def data_primes(self) -> int:
        """Coefficient primes a fresh ciphertext is expressed over (SEAL drops the special prime)."""
        return max(1, len(self.coeff_bits) - 1)

    def ciphertext_bytes(self, size: int = 2, primes: int | None = None) -> int:
        return size * self.poly_degree * (self.data_primes if primes is None else primes) * 8

    def seeded_ciphertext_bytes(self) -> int:
        """A fresh symmetric encryption: one polynomial plus the 64-byte PRNG seed of the other."""
        return self.poly_degree * self.data_primes * 8 + 64

    def response_bytes(self) -> int:
        return self.ciphertext_bytes(2, self.response_primes or self.data_primes)


@dataclass(frozen=True)
class WireSizes:
    """Exact byte sizes of a backend's serialized blobs (compression ``"none"``) at one ``HEParams``.

    ``query``: a seeded fresh slot-encoded ciphertext (``encrypt_bytes``); ``query_coeffs``: the same for
    coefficient encoding (``encrypt_coeffs_bytes``); ``answer``: a size-2 ciphertext after ``switch_down``
    (``params.response_primes`` primes, all data primes when None); ``public_key``, ``params`` and
    ``galois_keys(n)``: the entries of ``public_material()`` (n distinct Galois elements; 0 keys: 0 bytes).
    ``ciphertext(size, primes)``: any unseeded ciphertext. Derivation: ``protocols/he/wire.py``."""

    poly_degree: int
    data_primes: int
    key_primes: int                 # all coefficient primes, SEAL's special prime included
    params: int
    public_key: int
    query: int
    query_coeffs: int
    answer: int
    ciphertext_overhead: int        # bytes of a ciphertext beyond its size * N * primes * 8 coefficients
    galois_fixed: int               # bytes of a Galois key blob beyond its keys
    galois_per_key: int             # bytes per Galois key (element)
    relin_keys: int = 0             # the (seeded) relinearisation keys, when a protocol multiplies ciphertexts

    def ciphertext(self, size: int = 2, primes: int | None = None) -> int:
        """An (unseeded) ciphertext of ``size`` polynomials over ``primes`` primes (default: all data primes)."""
        return size * self.poly_degree * (self.data_primes if primes is None else primes) * 8 + self.ciphertext_overhead

    def galois_keys(self, n: int) -> int:
        """Galois keys for ``n`` distinct elements (nothing is sent for none)."""
        return self.galois_fixed + n * self.galois_per_key if n else 0


@dataclass(frozen=True)
class Encoded:
    """A plaintext the server encoded ONCE (``HEBackend.encode_weights``), e.g. a diagonal of its weights:
    reusable across queries (its weights do not change), so the encoding leaves the online path.
    ``plain``: the backend's plaintext (SEAL's ``Plaintext``; the simulator's reduced slot vector);
    ``zero``: every slot is 0 mod t (SEAL cannot multiply by it: ``multiply_plain`` stands in a fresh
    encryption of zero, as for an all-zero vector)."""

    plain: object
    zero: bool


@dataclass
class Counts:
    """Every operation a protocol performed (identical on SEAL and on the simulator)."""

    rotations: int = 0
    pt_mults: int = 0
    ct_adds: int = 0
    encryptions: int = 0
    decryptions: int = 0
    key_switches: int = 0
    ct_mults: int = 0                 # ciphertext x ciphertext products (``multiply``)
    relinearizations: int = 0         # size 3 -> 2 (``relinearize``; each also one key switch)
    ops: list[str] = field(default_factory=list)   # the op sequence (obliviousness signature)

    def record(self, op: str, **inc: int) -> None:
        self.ops.append(op)
        for k, v in inc.items():
            setattr(self, k, getattr(self, k) + v)


class HEBackend:
    """The interface. ``Ct``/``Pt`` are backend objects; vectors are numpy uint64 of length ``slots``.

    A backend made by its constructor is the CLIENT's (it holds the secret key); one made by
    ``evaluator(material)`` is the SERVER's (public key and Galois keys only): there ``encrypt*``,
    ``decrypt``, ``noise_budget`` and ``public_material`` raise ``PermissionError``."""

    name = "abstract"
    #: the names of ``public_material()``'s entries, in the order the client sends them
    MATERIAL = ("params", "public_key", "galois_keys", "relin_keys")
    #: False on a server's backend built by ``evaluator``
    has_secret_key = True
    #: ``"none"`` (deterministic sizes, the default) or ``"zstd"`` (SEAL's own, data dependent)
    compression = "none"
    #: whether ``conceal`` floods the answers' noise (SEAL; the simulator has no noise to flood), so the
    #: parameters must leave room for it (``protocols/he/flooding.check``)
    flood = False

    def __init__(self, params: HEParams, seed: int = 0) -> None:
        self.params = params
        self.counts = Counts()
        self.rng = np.random.default_rng(seed)

    def _need_secret(self, what: str) -> None:
        if not self.has_secret_key:
            raise PermissionError(f"the server holds no secret key: it cannot {what} (this backend was built by "
                                  "evaluator() from the client's public material)")

    @property
    def plain_modulus(self) -> int:
        raise NotImplementedError

    def prepare(self, steps: set[int]) -> None:
        """Generate rotation keys for exactly these (left) row-rotation steps."""
        raise NotImplementedError

    def encode(self, values: np.ndarray):
        raise NotImplementedError

    def encrypt(self, values: np.ndarray):
        raise NotImplementedError

    def decrypt(self, ct) -> np.ndarray:
        raise NotImplementedError

    def add(self, a, b):
        raise NotImplementedError

    def add_plain(self, a, values: np.ndarray):
        raise NotImplementedError

    def multiply_plain(self, a, values: np.ndarray):
        """``a`` times the plaintext of ``values`` (slot vector, a zero-argument callable building one, or an
        :class:`Encoded`)."""
        raise NotImplementedError

    def encode_weights(self, values) -> Encoded:
        """Encode ``values`` (slot vector or zero-argument callable) once for repeated products (not an HE
        operation: nothing is counted)."""
        raise NotImplementedError

    def rotate(self, a, step: int):
        raise NotImplementedError

    # -- coefficient encoding (NEXUS): a ciphertext of a polynomial's coefficients ----------------------
    def encrypt_coeffs(self, coeffs: np.ndarray):
        """Encrypt up to N coefficients mod t (coefficient encoding, no batching)."""
        raise NotImplementedError

    def apply_galois(self, a, element: int):
        """The automorphism x -> x^element (one key switch)."""
        raise NotImplementedError

    def multiply_monomial(self, a, power: int):
        """Times x^power (negacyclic: x^N = -1), a plaintext multiplication."""
        raise NotImplementedError

    def sub(self, a, b):
        raise NotImplementedError

    # -- ciphertext x ciphertext ---------------------------------------------------------------------------
    def prepare_relin(self) -> None:
        """Generate relinearisation keys (client; set-up: sent once with the public material as
        ``relin_keys``). A server's backend has them iff it received them."""
        raise NotImplementedError

    def multiply(self, a, b):
        """Slot-wise product of two ciphertexts (both over the same primes): a size-3 ciphertext. Counts
        one ``ct_mults``."""
        raise NotImplementedError

    def relinearize(self, a):
        """A size-3 ciphertext back to size 2 with the relinearisation keys (one key switch). Counts one
        ``relinearizations`` and one ``key_switches``; KeyError without keys."""
        raise NotImplementedError

    def prepare_galois(self, elements: set[int], steps: set[int]) -> None:
        """Keys for exactly these automorphism elements and row-rotation steps."""
        raise NotImplementedError

    def switch_down(self, ct):
        """Modulus-switch an answer down to ``params.response_primes`` (SEAL); no-op on the simulator."""
        return ct

    def noise_budget(self, ct) -> int | None:
        """Remaining invariant noise budget in bits (SEAL); ``None`` on the simulator."""
        self._need_secret("measure a noise budget")
        return None

    # -- circuit privacy (protocols/he/flooding.py) ------------------------------------------------------------
    def conceal(self, ct, rng: np.random.Generator, pre_bits: float | None = None):
        """The server's last step on every answer: re-randomise (a public-key encryption of zero added: one
        encryption and one addition, counted), ``switch_down``, flood the noise with ``rng`` (the server's
        private generator), at the width ``flooding.plan(params, pre_bits=pre_bits)`` gives (``pre_bits``:
        the answer circuit's worst-case noise when it is not a plaintext circuit). The simulator has no
        noise: it counts the same operations and switches down."""
        self.counts.record("conceal", encryptions=1, ct_adds=1)
        return self.switch_down(ct)

    def answer_noise(self, ct) -> list[int] | None:
        """The decryption noise of an answer, per coefficient (phase minus message; SEAL), ``None`` where
        there is no noise (the simulator). Client only; not counted."""
        self._need_secret("measure noise")
        return None

    # -- on the wire (protocols/he/wire.py) ----------------------------------------------------------------
    def encrypt_bytes(self, values: np.ndarray) -> bytes:
        """Encrypt a slot vector and serialize it, SEEDED (SEAL: ``encrypt_symmetric(pt)``, the second
        polynomial sent as its PRNG seed): ``wire_sizes(params).query`` bytes in mode "none". Counts one
        encryption, like ``encrypt``. Client only."""
        raise NotImplementedError

    def encrypt_coeffs_bytes(self, coeffs: np.ndarray) -> bytes:
        """``encrypt_coeffs`` serialized, seeded (``wire_sizes(params).query_coeffs`` bytes). Client only."""
        raise NotImplementedError

    def to_bytes(self, ct) -> bytes:
        """A ciphertext -> bytes (full form: ``wire_sizes(params).ciphertext(size, primes)``; an answer after
        ``switch_down`` is ``.answer``). Not counted."""
        raise NotImplementedError

    def from_bytes(self, blob):
        """Bytes (either compression mode) -> a ciphertext; needs only the parameters (works on a server's
        backend). A malformed blob raises ``protocols.he.wire.WireError``. Not counted."""
        raise NotImplementedError

    def public_material(self) -> dict[str, bytes]:
        """What the client sends the server once: ``{name: bytes}`` for ``MATERIAL`` = params, public key,
        Galois keys for exactly the prepared steps/elements (b"" when none), relinearisation keys (b"" unless
        ``prepare_relin`` was called). Client only."""
        raise NotImplementedError

    @classmethod
    def evaluator(cls, material: dict[str, bytes], seed: int = 0, compression: str = "none", **kw) -> "HEBackend":
        """The SERVER's backend rebuilt from ``public_material()``'s bytes alone: same ``HEParams``, no secret
        key; rotations only by the steps whose Galois keys it received."""
        raise NotImplementedError

    @staticmethod
    def wire_sizes(params: HEParams, compression: str = "none") -> WireSizes:
        """The exact size of every blob at ``params`` (:class:`WireSizes`); ``"zstd"`` is refused (data
        dependent)."""
        raise NotImplementedError

    def _row(self, values: np.ndarray) -> np.ndarray:
        """A full BFV slot vector: the ``slots`` values in row 0, mirrored in row 1. ``values`` may be a
        zero-argument callable (built only when a backend needs the numbers)."""
        if callable(values):
            values = values()
        v = np.asarray(values, dtype=np.uint64) % np.uint64(self.plain_modulus)
        if v.shape != (self.params.slots,):
            raise ValueError(f"expected {self.params.slots} slot values, got shape {v.shape}")
        return np.concatenate([v, v])
