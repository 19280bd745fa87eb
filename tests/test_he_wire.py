"""HE on the wire (issue 16): serialization, the server's backend from the client's public material, exact
sizes (measured against ``wire_sizes``), compression modes, malformed blobs, the size check's own control."""
from dataclasses import fields, replace

import numpy as np
import pytest

from functionalities.errors import PublicParameterError
from protocols.he import wire
from protocols.he.interface import HEParams, WireSizes
from protocols.he.seal_backend import SealBackend
from simulators.he import SimBackend

BACKENDS = [SealBackend, SimBackend]


def _vectors(t: int, slots: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    return [rng.integers(0, t, slots, dtype=np.uint64) for _ in range(3)]


def slot_round_trip(backend, params: HEParams, **options):
    """Client encrypts -> bytes -> server (built from the public material) rotates a prepared step,
    multiplies by a plaintext and by an all-zero plaintext, adds, masks, switches down -> bytes -> client
    decrypts. -> (decrypted, expected, client counts, server counts, the server)."""
    client = backend(params, seed=3, **options)
    client.prepare({1, 5})
    server = backend.evaluator(client.public_material(), **options)
    t, slots = client.plain_modulus, params.slots
    v, w, m = _vectors(t, slots)
    ct = server.from_bytes(client.encrypt_bytes(v))
    prod = server.multiply_plain(server.rotate(ct, 5), w)
    zero = server.multiply_plain(ct, np.zeros(slots, dtype=np.uint64))
    answer = server.switch_down(server.add_plain(server.add(prod, zero), m))
    got = client.decrypt(client.from_bytes(server.to_bytes(answer)))
    want = (np.roll(v, -5).astype(object) * w.astype(object) + m.astype(object)) % t
    return got, want, client.counts, server.counts, server


def coeff_round_trip(backend, params: HEParams, **options):
    """NEXUS's first expansion level over the wire: the client sends a0/2, a1/2 as coefficients; the server
    applies the prepared automorphism x -> x^(N+1), splits into the constants a0 and a1, multiplies them by
    slot plaintexts, adds, masks, switches down; the client decrypts a0 w0 + a1 w1 + m."""
    n = params.poly_degree
    client = backend(params, seed=3, **options)
    client.prepare_galois({n + 1}, set())
    server = backend.evaluator(client.public_material(), **options)
    t, slots = client.plain_modulus, params.slots
    a0, a1 = 123, 4567
    inv2 = pow(2, -1, t)
    blob = client.encrypt_coeffs_bytes(np.array([a0 * inv2 % t, a1 * inv2 % t], dtype=np.uint64))
    ct = server.from_bytes(blob)
    tau = server.apply_galois(ct, n + 1)
    leaf0, leaf1 = server.add(ct, tau), server.multiply_monomial(server.sub(ct, tau), -1)
    w0, w1, m = _vectors(t, slots, seed=1)
    acc = server.add(server.multiply_plain(leaf0, w0), server.multiply_plain(leaf1, w1))
    answer = server.switch_down(server.add_plain(acc, m))
    got = client.decrypt(client.from_bytes(server.to_bytes(answer)))
    want = (a0 * w0.astype(object) + a1 * w1.astype(object) + m.astype(object)) % t
    return got, want, client.counts, server.counts, server


# -- round trips -----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("n", [4096, 8192])
@pytest.mark.parametrize("trip", [slot_round_trip, coeff_round_trip])
def test_round_trip_through_bytes_equal_on_seal_and_the_simulator(trip, n):
    params = HEParams(n)
    seal = trip(SealBackend, params)
    sim = trip(SimBackend, params)
    assert np.array_equal(seal[0].astype(object), seal[1])
    assert np.array_equal(seal[0], sim[0])                       # identical decrypted values
    assert seal[2] == sim[2] and seal[3] == sim[3]               # identical counts (client, server)
    assert seal[2].encryptions == 1 and seal[2].decryptions == 1 and seal[3].encryptions == 0
    assert seal[4].params == params == sim[4].params             # the server's HEParams are the client's


@pytest.mark.parametrize("trip", [slot_round_trip, coeff_round_trip])
def test_count_only_simulator_counts_and_sizes_the_same(trip):
    params = HEParams(8192)
    full = trip(SimBackend, params)
    counted = trip(SimBackend, params, count_only=True)
    assert full[2] == counted[2] and full[3] == counted[3]
    server = counted[4]
    sizes = SimBackend.wire_sizes(params)
    token = server.from_bytes(bytes(wire.sim_blob(wire.SIM_TOKEN, sizes.query, (), 1, params.data_primes)))
    assert len(server.to_bytes(server.switch_down(server.add(token, token)))) == sizes.answer


def test_evaluator_rebuilds_nondefault_params():
    for params in (HEParams(4096, plain_bits=22, response_primes=1), HEParams(8192, plain_bits=17)):
        client = SealBackend(params)
        assert SealBackend.evaluator(client.public_material()).params == params
        sim = SimBackend(params, plain_modulus=65537)
        server = SimBackend.evaluator(sim.public_material())
        assert server.params == params and server.plain_modulus == 65537


def test_material_names_and_blob_types():
    for backend in BACKENDS:
        client = backend(HEParams(4096))
        client.prepare(set())
        material = client.public_material()
        assert tuple(material) == backend.MATERIAL and material["galois_keys"] == b""
        server = backend.evaluator(material)
        blob = client.encrypt_bytes(np.ones(2048, dtype=np.uint64))
        for form in (bytearray(blob), memoryview(blob), np.frombuffer(blob, dtype=np.uint8)):
            assert np.array_equal(client.decrypt(client.from_bytes(server.to_bytes(server.from_bytes(form)))),
                                  np.ones(2048, dtype=np.uint64))


# -- the server holds no secret key ------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
def test_the_server_cannot_decrypt_encrypt_or_rotate_unprepared(backend):
    params = HEParams(4096)
    client = backend(params)
    client.prepare({1})
    server = backend.evaluator(client.public_material())
    ct = server.from_bytes(client.encrypt_bytes(np.arange(params.slots)))
    before = server.counts.ops[:]
    for call in (lambda: server.decrypt(ct), lambda: server.noise_budget(ct), lambda: server.public_material(),
                 lambda: server.encrypt_bytes(np.zeros(params.slots)), lambda: server.encrypt(np.zeros(params.slots)),
                 lambda: server.encrypt_coeffs_bytes([1]), lambda: server.encrypt_coeffs([1])):
        with pytest.raises(PermissionError, match="no secret key"):
            call()
    with pytest.raises(KeyError, match="no rotation key for step 2"):
        server.rotate(ct, 2)
    with pytest.raises(KeyError, match="no Galois key"):
        server.apply_galois(ct, params.poly_degree + 1)
    with pytest.raises(PermissionError, match="cannot make Galois keys"):
        server.prepare({2})
    assert server.counts.ops == before                           # refused before counting
    server.prepare({1})                                          # keys it holds: fine
    assert server.rotate(ct, 1) is not None


# -- sizes -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("n", [4096, 8192])
def test_every_blob_has_the_modelled_size(backend, n):
    assert wire.size_problems(backend, HEParams(n)) == []


def test_the_simulator_sizes_hold_at_toy_degrees():
    for n in (16, 64, 1024):
        assert wire.size_problems(SimBackend, HEParams(n)) == []


def test_seal_and_simulator_blobs_have_equal_lengths():
    params = HEParams(8192)
    lengths = []
    for backend in BACKENDS:
        client = backend(params)
        client.prepare_galois({8193}, {1, 7})
        material = client.public_material()
        server = backend.evaluator(material)
        q = client.encrypt_bytes(np.arange(params.slots))
        ans = server.to_bytes(server.switch_down(server.from_bytes(q)))
        lengths.append([len(material[k]) for k in backend.MATERIAL] + [len(q), len(ans)])
    assert lengths[0] == lengths[1]


def test_the_model_reproduces_independently_measured_sizes():
    """Sizes measured by hand with tenseal 0.3.18 before this model was written (issue 16)."""
    for n, query, full in ((4096, 65730, 131185), (8192, 196802, 393329)):
        sizes = SealBackend.wire_sizes(HEParams(n))
        assert (sizes.query, sizes.ciphertext(2, len(HEParams(n).coeff_bits) - 1)) == (query, full)


@pytest.mark.parametrize("field", ["params", "public_key", "query", "query_coeffs", "answer", "ciphertext_overhead",
                                   "galois_fixed", "galois_per_key"])
def test_size_check_catches_a_model_off_by_one_byte(monkeypatch, field):
    """Negative control of ``size_problems``: every number of the model, one byte off, is reported."""
    real = SealBackend.wire_sizes
    monkeypatch.setattr(SealBackend, "wire_sizes", staticmethod(
        lambda params, compression="none": replace(real(params), **{field: getattr(real(params), field) + 1})))
    problems = wire.size_problems(SealBackend, HEParams(4096))
    assert problems and any("(-1)" in p for p in problems), problems
    assert all("measured" in p and "model" in p and "(-" in p for p in problems), problems


def test_wire_sizes_is_a_frozen_dataclass_with_every_kind():
    sizes = SimBackend.wire_sizes(HEParams(8192))
    assert isinstance(sizes, WireSizes) and {f.name for f in fields(sizes)} >= {
        "params", "public_key", "query", "query_coeffs", "answer"}
    with pytest.raises(AttributeError):
        sizes.query = 0
    assert sizes.galois_keys(0) == 0 and sizes.galois_keys(2) - sizes.galois_keys(1) == sizes.galois_per_key


# -- compression -------------------------------------------------------------------------------------------------
def test_zstd_blobs_load_decrypt_and_are_smaller():
    ratios = {}
    for n in (4096, 8192):
        params = HEParams(n)
        blobs = {}
        for mode in ("none", "zstd"):
            client = SealBackend(params, compression=mode)
            client.prepare({1})
            client.prepare_relin()
            material = client.public_material()
            server = SealBackend.evaluator(material, compression=mode)
            v, w, _ = _vectors(client.plain_modulus, params.slots)
            q = client.encrypt_bytes(v)
            ans = server.to_bytes(server.switch_down(server.multiply_plain(server.rotate(server.from_bytes(q), 1), w)))
            got = client.decrypt(client.from_bytes(ans))
            assert np.array_equal(got.astype(object), np.roll(v, -1).astype(object) * w.astype(object)
                                  % client.plain_modulus)
            blobs[mode] = {"query": q, "answer": ans, **material}
        none_server = SealBackend.evaluator({k: blobs["zstd"][k] for k in SealBackend.MATERIAL})   # either form loads
        none_server.from_bytes(blobs["zstd"]["answer"])
        for kind in blobs["none"]:
            assert len(blobs["zstd"][kind]) < len(blobs["none"][kind]), kind
            ratios[(n, kind)] = round(len(blobs["zstd"][kind]) / len(blobs["none"][kind]), 3)
    print("zstd / none:", ratios)


def test_compression_modes_are_checked():
    with pytest.raises(PublicParameterError, match="data dependent"):
        SealBackend.wire_sizes(HEParams(4096), "zstd")
    with pytest.raises(PublicParameterError, match="data dependent"):
        SimBackend.wire_sizes(HEParams(4096), "zstd")
    for call in (lambda: SealBackend(HEParams(4096), compression="lz4"), lambda: SimBackend(HEParams(4096),
                 compression="gzip"), lambda: SealBackend.wire_sizes(HEParams(4096), "zlib"),
                 lambda: SimBackend(HEParams(4096), compression="zstd")):
        with pytest.raises(PublicParameterError):
            call()


# -- malformed blobs (negative controls) ------------------------------------------------------------------------
def _corruptions(blob: bytes) -> dict[str, bytes]:
    bad_magic = bytes([blob[0] ^ 0xFF]) + blob[1:]
    truncated = blob[:-100]
    # truncated, with the size fields (SEAL's at byte 8, the simulator's at byte 16) rewritten to match:
    # only the payload is short
    relabelled = bytearray(truncated)
    at = 8 if blob[:2] == wire.SEAL_MAGIC.to_bytes(2, "little") else 16
    relabelled[at:at + 8] = len(truncated).to_bytes(8, "little")
    return {"bad magic": bad_magic, "truncated": truncated, "truncated, size relabelled": bytes(relabelled),
            "header only": blob[:16], "empty": b"", "garbage": bytes(range(256)) * 4}


@pytest.mark.timeout(60)
@pytest.mark.parametrize("backend", BACKENDS)
def test_malformed_blobs_raise_a_wire_error(backend):
    params = HEParams(4096)
    client = backend(params)
    client.prepare({1})
    material = client.public_material()
    server = backend.evaluator(material)
    blob = client.encrypt_bytes(np.arange(params.slots))
    answer = server.to_bytes(server.from_bytes(blob))
    for source in (blob, answer):
        for name, bad in _corruptions(source).items():
            with pytest.raises(wire.WireError):
                server.from_bytes(bad)
            with pytest.raises(wire.WireError):
                client.from_bytes(bad)
    other = backend(HEParams(8192))                       # a blob of other parameters
    with pytest.raises(wire.WireError):
        server.from_bytes(other.encrypt_bytes(np.arange(4096)))
    for name in backend.MATERIAL:                          # corrupted key material
        if material[name]:
            with pytest.raises(wire.WireError):
                backend.evaluator({**material, name: material[name][:-100]})
    with pytest.raises(wire.WireError, match="lacks"):
        backend.evaluator({"params": material["params"]})
