"""Ciphertext x ciphertext in the HE interface: ``multiply`` (size 3) and ``relinearize`` (one key switch,
keys sent once with the public material), identical outputs and counts on SEAL, the slot simulator and
the count-only simulator, the noise budget left on SEAL, serialized sizes, and the refusals."""
from __future__ import annotations

import numpy as np
import pytest

from protocols.he import wire
from protocols.he.interface import HEParams
from protocols.he.seal_backend import SealBackend
from simulators.he import SimBackend, SimCountBackend

PARAMS = HEParams(8192)


def _circuit(cls, a, b, c, relin=True):
    """Client encrypts a and b; the server (rebuilt from the public material) computes
    rot1(a * b) + c, relinearised before the rotation, and answers (concealed); the client decrypts."""
    client = cls(PARAMS, seed=1)
    client.prepare({1})
    if relin:
        client.prepare_relin()
    material = client.public_material()
    server = cls.evaluator(material)
    qa, qb = client.encrypt_bytes(a), client.encrypt_bytes(b)
    prod = server.multiply(server.from_bytes(qa), server.from_bytes(qb))
    size3 = len(server.to_bytes(prod))
    out = server.add_plain(server.rotate(server.relinearize(prod), 1), c)
    answer = server.to_bytes(server.conceal(out, np.random.default_rng(3)))
    ct = client.from_bytes(answer)
    got = client.decrypt(ct)
    return got, server.counts, client.noise_budget(ct), material, size3, len(answer)


def test_seal_and_both_simulators_agree_on_values_counts_and_bytes():
    rng = np.random.default_rng(0)
    slots = PARAMS.slots
    t = SimBackend(PARAMS).plain_modulus
    a, b, c = (rng.integers(0, t, slots, dtype=np.uint64) for _ in range(3))
    want = (np.roll(a.astype(object) * b.astype(object) % t, -1) + c.astype(object)) % t
    runs = {cls.__name__: _circuit(cls, a, b, c) for cls in (SealBackend, SimBackend, SimCountBackend)}
    for name in ("SealBackend", "SimBackend"):
        assert np.array_equal(runs[name][0].astype(object), want), name
    counts = {n: (r[1].ct_mults, r[1].relinearizations, r[1].key_switches, r[1].rotations, r[1].ct_adds, r[1].ops)
              for n, r in runs.items()}
    assert len(set(map(repr, counts.values()))) == 1, counts
    assert counts["SealBackend"][:4] == (1, 1, 2, 1)          # one product, one relinearisation, two key switches
    sizes = SealBackend.wire_sizes(PARAMS)
    for name, r in runs.items():
        material, size3, answer = r[3], r[4], r[5]
        assert len(material["relin_keys"]) == sizes.relin_keys, name
        assert size3 == sizes.ciphertext(3) and answer == sizes.answer, name
    assert runs["SealBackend"][2] > 0                           # budget left after product, rotation, flooding


def test_relinearisation_keys_are_sent_only_when_prepared_and_needed():
    for cls in (SealBackend, SimBackend):
        client = cls(PARAMS, seed=2)
        assert client.public_material()["relin_keys"] == b""
        server = cls.evaluator(client.public_material())
        one = server.from_bytes(client.encrypt_bytes(np.ones(PARAMS.slots, dtype=np.uint64)))
        product = server.multiply(one, one)
        with pytest.raises(KeyError, match="relinearisation keys"):
            server.relinearize(product)
        with pytest.raises(PermissionError):
            server.prepare_relin()                               # the server cannot make them


def test_a_product_is_relinearised_before_it_is_multiplied_again():
    for cls in (SealBackend, SimBackend):
        be = cls(PARAMS, seed=3)
        be.prepare_relin()
        x = be.encrypt(np.arange(PARAMS.slots, dtype=np.uint64))
        with pytest.raises(ValueError, match="relinearise"):
            be.multiply(be.multiply(x, x), x)
        low = be.switch_down(be.encrypt(np.ones(PARAMS.slots, dtype=np.uint64)))
        with pytest.raises(ValueError, match="different levels"):
            be.multiply(x, low)


def test_two_products_fit_the_budget_at_8192_and_decrypt():
    """Depth 2 (x * y, relinearised, times z): SecMoE's compute needs two ciphertext products in a row."""
    be = SealBackend(PARAMS, seed=4)
    be.prepare_relin()
    rng = np.random.default_rng(4)
    t = be.plain_modulus
    x, y, z = (rng.integers(0, t, PARAMS.slots, dtype=np.uint64) for _ in range(3))
    ct = be.relinearize(be.multiply(be.relinearize(be.multiply(be.encrypt(x), be.encrypt(y))), be.encrypt(z)))
    want = x.astype(object) * y.astype(object) % t * z.astype(object) % t
    assert np.array_equal(be.decrypt(ct).astype(object), want)
    assert be.noise_budget(ct) > 0


def test_the_size_model_covers_products_and_relinearisation_keys():
    for cls in (SealBackend, SimBackend, SimCountBackend):
        assert wire.size_problems(cls, HEParams(8192)) == [], cls.__name__
