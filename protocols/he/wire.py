"""HE on the wire: SEAL objects <-> bytes, the exact size model, the simulator's stand-in blobs.

What travels (``protocols/he/channel.py`` sends it; the backends make it):

* set-up, once, client -> server: the backend's ``public_material()``, ``{name: bytes}`` for the names in
  ``Backend.MATERIAL`` = ``("params", "public_key", "galois_keys", "relin_keys")``;
* online: seeded fresh queries (``encrypt_bytes`` / ``encrypt_coeffs_bytes``), client -> server; answers
  (``to_bytes`` of a size-2 ciphertext after ``switch_down``), server -> client.

**Compression** (``COMPRESSIONS``). SEAL compresses every save with zstd by default and tenseal 0.3.18
exposes no compression argument, so a save is written to a temporary file (``/dev/shm`` when it exists),
read back, and for ``"none"`` (the default) its payload is decompressed and the 16-byte SEAL header rewritten
with ``compr_mode = 0`` and the new total size: SEAL loads that blob as it is. ``"none"`` is the default
because its size is a function of the public parameters only (:func:`seal_wire_sizes`, exact to the byte),
so a run's bytes are a model's bytes; ``"zstd"`` is SEAL's own output, smaller (coefficients mod a q_i of
36-60 bits fill 64-bit words) but data dependent: no size model is given for it (``wire_sizes`` refuses it),
the ratio is measured (``tests/test_he_wire.py``). Either form loads on either side.

**Seeding.** SEAL can send a freshly encrypted polynomial pair (c0, c1) with c1 replaced by the seed of the
PRNG that drew it; only the secret-key holder can make such a ciphertext, and only at encryption time:
* fresh symmetric encryptions (``Encryptor.encrypt_symmetric(pt)`` -> ``Serializable<Ciphertext>``): the
  client's queries are seeded (``encrypt_bytes``);
* answers are computed by the server: both polynomials are data, never seeded; ``to_bytes`` of an in-memory
  ciphertext is always the full form (also for ``encrypt``'s output: SEAL expands the seed in memory);
* Galois keys: ``KeyGenerator.create_galois_keys(elements)`` -> ``Serializable<GaloisKeys>`` (exposed by
  tenseal): every key-switching part is sent seeded;
* the public key: SEAL has ``Serializable<PublicKey>`` but tenseal 0.3.18 does not register that type
  (``TypeError: Unregistered type``), so it is sent in full.

**Size model** (:func:`seal_wire_sizes`; SEAL 4.x serialization, the uncompressed form). Every SEAL object is
saved as a 16-byte header (``struct '<HBBBBHQ'``: magic 0xA15E, header size 16, version major, minor,
compr_mode, reserved, total size) followed by its members; nested objects carry their own header. With N the
ring degree, K the number of coefficient primes incl. SEAL's special prime, L = K - 1 the data primes:

* a ciphertext of ``size`` polynomials over ``p`` primes: ``size N p 8 + 113``; 113 = header 16 +
  Ciphertext members 73 (parms_id 32, is_ntt_form 1, size 8, poly degree 8, coeff modulus size 8, scale 8,
  correction factor 8) + the coefficients' DynArray 24 (its own header 16 + element count 8);
* a seeded fresh ciphertext (query, both encodings): ``N L 8 + 194``; 194 = 113 + the PRNG info 81
  (header 16 + PRNG type 1 + seed 64) that replaces the second polynomial;
* the public key: a size-2 ciphertext over all K primes (NTT form): ``2 N K 8 + 113``;
* n Galois keys (seeded): ``56 + 8 N + n L (N K 8 + 194)``; 56 = header 16 + parms_id 32 + the key table's
  length 8; SEAL's table always has N entries (one per possible Galois element; ``8 N`` = their lengths, 0
  for an absent key) and each present key is a KSwitch key of L decomposition parts, each a seeded
  ciphertext over all K primes. So the size depends on the number of keys only, not on which elements.
  (Unseeded it would be ``56 + 8 N + n L (2 N K 8 + 113)``.) No key: nothing is sent (0 bytes);
* the relinearisation keys (seeded): ``56 + 8 + L (N K 8 + 194)``: the same KSwitch layout with a table of
  ONE entry (the key for s^2); sent only by a protocol that multiplies ciphertexts (else 0 bytes);
* the parameters: SEAL's EncryptionParameters ``57 + 24 K`` (header 16, scheme 1, N 8, K 8, every prime a
  headed 8-byte Modulus of 24, the plain modulus 24) + privmoe's 8-byte trailer (:data:`TRAILER`: what SEAL's
  parameters do not carry, the answers' prime count ``response_primes``, and the plain modulus' bits).

The simulator (``simulators/he.py``) sends stand-ins of exactly these lengths (:func:`sim_blob`): a 24-byte
privmoe header, its slot values / parameters / Galois elements, zeros up to SEAL's length; so its runs meter
SEAL's bytes.
"""
from __future__ import annotations

import os
import struct
import tempfile
import zlib
from typing import Callable

import numpy as np

from functionalities.errors import PrivMoEError, PublicParameterError
from protocols.he.interface import HEParams, WireSizes

#: compression modes of the backends' blobs (module docstring); "none" is the default
COMPRESSIONS = ("none", "zstd")

#: SEAL's serialization header: magic, header size, version major, minor, compr_mode, reserved, total size
SEAL_HEADER = struct.Struct("<HBBBBHQ")
SEAL_MAGIC = 0xA15E
#: SEAL's compr_mode_type values
COMPR_NONE, COMPR_ZLIB, COMPR_ZSTD = 0, 1, 2

# -- the size model's constants (module docstring, SEAL 4.x) ------------------------------------------------
CT_MEMBERS = 32 + 1 + 8 + 8 + 8 + 8 + 8            # parms_id, is_ntt_form, size, N, K, scale, correction
DYNARRAY = 16 + 8                                   # DynArray: its header + element count
PRNG_INFO = 16 + 1 + 64                             # UniformRandomGeneratorInfo: header + type + seed
CT_OVERHEAD = SEAL_HEADER.size + CT_MEMBERS + DYNARRAY            # 113
SEEDED_OVERHEAD = CT_OVERHEAD + PRNG_INFO                         # 194
KSWITCH_FIXED = SEAL_HEADER.size + 32 + 8                         # 56, + 8 N for the key table's lengths
MODULUS = SEAL_HEADER.size + 8                                    # a saved Modulus
PARMS_FIXED = SEAL_HEADER.size + 1 + 8 + 8 + MODULUS              # 57, + 24 K

#: privmoe's trailer after SEAL's parameters: magic, version, response_primes (0: None), plain bits, 0
TRAILER = struct.Struct("<4sBBBB")
TRAILER_MAGIC = b"PMHE"


class WireError(PrivMoEError, ValueError):
    """A blob is not what it claims to be (bad header, truncated, wrong parameters, refused by SEAL)."""


def check_compression(compression: str) -> str:
    if compression not in COMPRESSIONS:
        raise PublicParameterError(f"compression must be one of {COMPRESSIONS}, got {compression!r}")
    return compression


def as_bytes(blob) -> bytes:
    """bytes, bytearray, memoryview or a 1-D uint8 array (numpy, or a CPU tensor) -> bytes."""
    if isinstance(blob, bytes):
        return blob
    if isinstance(blob, (bytearray, memoryview)):
        return bytes(blob)
    arr = np.asarray(blob)
    if arr.dtype != np.uint8 or arr.ndim != 1:
        raise TypeError(f"a blob is bytes or a 1-D uint8 array, got {type(blob).__name__} {arr.dtype} {arr.shape}")
    return arr.tobytes()


# -- SEAL blobs ----------------------------------------------------------------------------------------------
def read_header(blob: bytes, what: str = "blob") -> tuple[int, int, int]:
    """Check SEAL's 16-byte header against the blob -> (version major, minor, compr_mode). Raises
    :class:`WireError` on a short blob, a wrong magic or header size, an unknown compression mode or a total
    size that is not the blob's length (truncated or padded)."""
    if len(blob) < SEAL_HEADER.size:
        raise WireError(f"{what}: {len(blob)} bytes, shorter than SEAL's {SEAL_HEADER.size}-byte header")
    magic, hsize, major, minor, mode, _, total = SEAL_HEADER.unpack_from(blob)
    if magic != SEAL_MAGIC or hsize != SEAL_HEADER.size:
        raise WireError(f"{what}: not a SEAL blob (magic {magic:#06x}, header size {hsize}; "
                        f"want {SEAL_MAGIC:#06x}, {SEAL_HEADER.size})")
    if mode not in (COMPR_NONE, COMPR_ZLIB, COMPR_ZSTD):
        raise WireError(f"{what}: unknown SEAL compression mode {mode}")
    if total != len(blob):
        raise WireError(f"{what}: the header says {total} bytes, the blob has {len(blob)} (truncated or padded)")
    return major, minor, mode


def uncompressed(blob: bytes) -> bytes:
    """SEAL's (zstd or zlib) blob -> the same object uncompressed: payload decompressed, header rewritten
    with compr_mode 0 and the new total size (SEAL loads it as it is)."""
    major, minor, mode = read_header(blob)
    if mode == COMPR_NONE:
        return blob
    payload = blob[SEAL_HEADER.size:]
    if mode == COMPR_ZSTD:
        import zstandard

        data = zstandard.ZstdDecompressor().decompressobj().decompress(payload)
    else:
        data = zlib.decompress(payload)
    return SEAL_HEADER.pack(SEAL_MAGIC, SEAL_HEADER.size, major, minor, COMPR_NONE, 0,
                            SEAL_HEADER.size + len(data)) + data


def _tmpdir() -> str | None:
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None


def _with_file(use: Callable[[str], object]):
    fd, path = tempfile.mkstemp(prefix="privmoe-he-", suffix=".seal", dir=_tmpdir())
    os.close(fd)
    try:
        return use(path)
    finally:
        try:
            os.remove(path)
        except FileNotFoundError:
            pass


def save_bytes(obj, compression: str = "none") -> bytes:
    """A SEAL object (or a ``Serializable``) -> bytes in ``compression`` mode (module docstring)."""
    def save(path):
        obj.save(path)
        with open(path, "rb") as f:
            return f.read()

    blob = _with_file(save)
    return uncompressed(blob) if compression == "none" else blob


def load_bytes(obj, blob, context=None, what: str = "blob"):
    """Load ``blob`` into the SEAL object ``obj`` (with ``context`` when the type needs one); SEAL validates
    the data against the context. Any refusal is a :class:`WireError` naming ``what``. -> ``obj``."""
    blob = as_bytes(blob)
    read_header(blob, what)

    def load(path):
        with open(path, "wb") as f:
            f.write(blob)
        if context is None:
            obj.load(path)
        else:
            obj.load(context, path)

    try:
        _with_file(load)
    except WireError:
        raise
    except Exception as exc:           # SEAL's std::exceptions arrive as ValueError/RuntimeError/...
        raise WireError(f"{what}: SEAL refused it ({type(exc).__name__}: {exc})") from exc
    return obj


def split_params(blob) -> tuple[bytes, int | None, int]:
    """The material's ``"params"`` -> (SEAL's EncryptionParameters blob, response_primes, plain bits)."""
    blob = as_bytes(blob)
    if len(blob) < SEAL_HEADER.size + TRAILER.size:
        raise WireError(f"params: {len(blob)} bytes, too short")
    seal_part, trailer = blob[:-TRAILER.size], blob[-TRAILER.size:]
    magic, version, response, plain_bits, _ = TRAILER.unpack(trailer)
    if magic != TRAILER_MAGIC or version != 1:
        raise WireError("params: privmoe's trailer is missing or of another version")
    read_header(seal_part, "params")
    return seal_part, (response or None), plain_bits


def params_trailer(params: HEParams) -> bytes:
    return TRAILER.pack(TRAILER_MAGIC, 1, params.response_primes or 0, params.plain_bits, 0)


# -- the size model ------------------------------------------------------------------------------------------
def seal_wire_sizes(params: HEParams) -> WireSizes:
    """The exact byte sizes of SEAL's uncompressed blobs at ``params`` (derivation: module docstring)."""
    n, k = params.poly_degree, len(params.coeff_bits)
    data = params.data_primes
    ct = lambda size, primes: size * n * primes * 8 + CT_OVERHEAD      # noqa: E731
    seeded = n * data * 8 + SEEDED_OVERHEAD
    return WireSizes(
        poly_degree=n, data_primes=data, key_primes=k,
        params=PARMS_FIXED + MODULUS * k + TRAILER.size,
        public_key=ct(2, k),
        query=seeded, query_coeffs=seeded,
        answer=ct(2, params.response_primes or data),
        ciphertext_overhead=CT_OVERHEAD,
        galois_fixed=KSWITCH_FIXED + 8 * n,
        galois_per_key=(k - 1) * (n * k * 8 + SEEDED_OVERHEAD),
        relin_keys=KSWITCH_FIXED + 8 + (k - 1) * (n * k * 8 + SEEDED_OVERHEAD),
    )


def wire_sizes(params: HEParams, compression: str = "none") -> WireSizes:
    """:func:`seal_wire_sizes` for ``compression = "none"``; ``"zstd"`` sizes are data dependent: refused."""
    check_compression(compression)
    if compression != "none":
        raise PublicParameterError(f"no size model for compression={compression!r}: SEAL's zstd output is data "
                                   "dependent (measure it: len(blob)); the model covers 'none'")
    return seal_wire_sizes(params)


def galois_elements(params: HEParams, steps, elements=()) -> list[int]:
    """The distinct Galois elements behind left row rotations ``steps`` (3^step mod 2N) and ``elements``."""
    n, slots = params.poly_degree, params.slots
    return sorted(set(int(e) for e in elements) | {pow(3, s % slots, 2 * n) for s in steps if s % slots})


def steps_of(params: HEParams, elements) -> set[int]:
    """The row-rotation steps whose Galois element 3^s mod 2N is among ``elements`` (what a server holding
    those keys can do in one key switch)."""
    n, have = params.poly_degree, set(elements)
    out, g = set(), 1
    for s in range(1, params.slots):
        g = g * 3 % (2 * n)
        if g in have:
            out.add(s)
    return out


# -- the simulator's stand-ins -------------------------------------------------------------------------------
#: the simulator's blob header: magic, version, kind, polynomials, primes, value count, reserved, total size
SIM_HEADER = struct.Struct("<4sBBBBIIQ")
SIM_MAGIC = b"PMSM"
SIM_SLOT, SIM_COEFF, SIM_TOKEN, SIM_PARAMS, SIM_PUBLIC_KEY, SIM_GALOIS, SIM_RELIN = 0, 1, 2, 16, 17, 18, 19
SIM_KINDS = {SIM_SLOT: "slot ciphertext", SIM_COEFF: "coefficient ciphertext", SIM_TOKEN: "count-only ciphertext",
             SIM_PARAMS: "params", SIM_PUBLIC_KEY: "public key", SIM_GALOIS: "galois keys",
             SIM_RELIN: "relinearisation keys"}


def sim_blob(kind: int, total: int, values=(), size: int = 0, primes: int = 0) -> bytes:
    """A simulator stand-in of exactly ``total`` bytes (SEAL's length of the same object): the 24-byte header,
    ``values`` as little-endian uint64, zeros after."""
    vals = np.asarray(values, dtype="<u8")
    body = SIM_HEADER.pack(SIM_MAGIC, 1, kind, size, primes, len(vals), 0, total) + vals.tobytes()
    if len(body) > total:
        raise ValueError(f"{SIM_KINDS[kind]}: {len(body)} bytes of content do not fit SEAL's {total}")
    return body + bytes(total - len(body))


def read_sim_blob(blob) -> tuple[int, int, int, np.ndarray]:
    """A simulator stand-in -> (kind, polynomials, primes, values); :class:`WireError` if malformed."""
    blob = as_bytes(blob)
    if len(blob) < SIM_HEADER.size:
        raise WireError(f"{len(blob)} bytes: shorter than the simulator's {SIM_HEADER.size}-byte header")
    magic, version, kind, size, primes, count, _, total = SIM_HEADER.unpack_from(blob)
    if magic != SIM_MAGIC or version != 1 or kind not in SIM_KINDS:
        raise WireError(f"not a simulator blob (magic {magic!r}, version {version}, kind {kind})")
    if total != len(blob):
        raise WireError(f"the header says {total} bytes, the blob has {len(blob)} (truncated or padded)")
    if SIM_HEADER.size + 8 * count > total:
        raise WireError(f"{count} values do not fit in {total} bytes")
    values = np.frombuffer(blob, dtype="<u8", count=count, offset=SIM_HEADER.size).astype(np.uint64)
    return kind, size, primes, values


# -- measured against the model ------------------------------------------------------------------------------
def size_problems(backend, params: HEParams) -> list[str]:
    """Measure every kind of blob a ``backend`` class makes at ``params`` (compression "none") and compare
    each length with ``backend.wire_sizes(params)``. -> one line per disagreement ([] when the model is exact).

    Measured: ``public_material()`` for 0, 1, 2 and 3 Galois keys (params, public key, Galois keys), a slot
    query (``encrypt_bytes``), a coefficient query (``encrypt_coeffs_bytes``), on a server built by
    ``evaluator`` from that material: a received query re-serialized (size 2, all data primes), a rotation, a
    Galois automorphism, a product by an all-zero plaintext (SEAL: a public-key encryption of zero), and an
    answer (``add_plain`` + ``switch_down``); the relinearisation keys, a ciphertext x ciphertext product
    (size 3) and its relinearisation; and the client's in-memory ``encrypt`` serialized (full form)."""
    model = backend.wire_sizes(params)
    client = backend(params, seed=1)
    n, slots, data = params.poly_degree, params.slots, params.data_primes
    problems: list[str] = []

    def check(kind: str, got: int, want: int) -> None:
        if got != want:
            problems.append(f"{backend.__name__} N={n} {kind}: measured {got} B, model {want} B ({got - want:+d})")

    material = {}
    for n_keys, elements in ((0, None), (1, set()), (2, {n + 1}), (3, {n + 1, n // 2 + 1})):
        if elements is None:
            client.prepare(set())
        else:
            client.prepare_galois(elements, {1})
        material = client.public_material()
        check("params", len(material["params"]), model.params)
        check("public_key", len(material["public_key"]), model.public_key)
        check(f"galois_keys({n_keys})", len(material["galois_keys"]), model.galois_keys(n_keys))
    server = backend.evaluator(material)
    values = np.arange(slots, dtype=np.uint64) % np.uint64(client.plain_modulus)
    query = client.encrypt_bytes(values)
    check("query", len(query), model.query)
    query_c = client.encrypt_coeffs_bytes(np.arange(min(n, 8), dtype=np.uint64))
    check("query_coeffs", len(query_c), model.query_coeffs)
    ct = server.from_bytes(query)
    check(f"ciphertext(2, {data}) (a received query)", len(server.to_bytes(ct)), model.ciphertext(2, data))
    check(f"ciphertext(2, {data}) (rotated)", len(server.to_bytes(server.rotate(ct, 1))), model.ciphertext(2, data))
    check(f"ciphertext(2, {data}) (automorphism)", len(server.to_bytes(server.apply_galois(server.from_bytes(query_c),
                                                                                            n + 1))),
          model.ciphertext(2, data))
    zero = server.multiply_plain(ct, np.zeros(slots, dtype=np.uint64))
    check(f"ciphertext(2, {data}) (times zero)", len(server.to_bytes(zero)), model.ciphertext(2, data))
    ans = server.switch_down(server.add_plain(server.multiply_plain(ct, values), values))
    check("answer", len(server.to_bytes(ans)), model.answer)
    client.prepare_relin()
    material = client.public_material()
    check("relin_keys", len(material["relin_keys"]), model.relin_keys)
    server = backend.evaluator(material)
    product = server.multiply(server.from_bytes(query), server.from_bytes(client.encrypt_bytes(values)))
    check(f"ciphertext(3, {data}) (a product)", len(server.to_bytes(product)), model.ciphertext(3, data))
    check(f"ciphertext(2, {data}) (relinearised)", len(server.to_bytes(server.relinearize(product))),
          model.ciphertext(2, data))
    check(f"ciphertext(2, {data}) (client's encrypt)", len(client.to_bytes(client.encrypt(values))),
          model.ciphertext(2, data))
    return problems
