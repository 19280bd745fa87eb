"""Circuit privacy of the HE answers (``protocols/he/flooding.py``): the bound and where it fits, the noise
the client sees (measured through its secret key, checked against a direct computation), flooding that
hides the weights' noise and keeps decryption correct, and the unflooded control whose noise shows the
weights -- caught by the security checks, while the flooded protocols pass them (``tests/test_security.py``)."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from protocols.he import flooding
from protocols.he.interface import HEParams
from protocols.he.leaks import unflooded
from protocols.he.seal_backend import SealBackend


@pytest.fixture(scope="module")
def client():
    return SealBackend(HEParams(8192), seed=3)


def _answer(be, weights, rng, values=None):
    """One answer as the server makes it: a query times ``weights``, plus a mask, concealed."""
    slots, t = be.params.slots, be.plain_modulus
    values = np.arange(slots, dtype=np.uint64) % np.uint64(t) if values is None else values
    mask = rng.integers(0, t, slots, dtype=np.uint64)
    ct = be.conceal(be.add_plain(be.multiply_plain(be.encrypt(values), weights), mask), rng)
    return ct, (values * weights + mask) % np.uint64(t)


# -- the bound -------------------------------------------------------------------------------------------------
def test_flooding_fits_at_8192_and_is_refused_where_it_cannot():
    p = flooding.plan(HEParams(8192))
    assert p.fits and p.bits >= flooding.LAMBDA + 13 and 0 < p.left < p.unflooded_left
    # statistical distance per answer: N |v'| / 2^(b+1) <= 2^-lambda
    assert math.log2(8192) + p.bound - (p.bits + 1) <= -flooding.LAMBDA
    for params in (HEParams(4096), HEParams(8192, response_primes=1)):
        assert not flooding.plan(params).fits
        with pytest.raises(flooding.FloodingError, match="no room to flood"):
            flooding.check(params)
    # one prime fits the unflooded answers but not the flooded ones: flooding's byte cost is that prime
    assert flooding.plan(HEParams(8192, response_primes=1)).unflooded_left > 0


def test_a_larger_lambda_floods_wider_and_leaves_less():
    a, b = flooding.plan(HEParams(8192), 40), flooding.plan(HEParams(8192), 60)
    assert b.bits == a.bits + 20 and b.left < a.left


def test_seal_refuses_to_answer_at_4096_with_a_named_error():
    be = SealBackend(HEParams(4096))
    ct = be.encrypt(np.zeros(be.params.slots, dtype=np.uint64))
    with pytest.raises(flooding.FloodingError):
        be.conceal(ct, np.random.default_rng(0))


def test_draw_is_uniform_on_its_interval_beyond_64_bits():
    small = np.array(flooding.draw(np.random.default_rng(1), 20000, 5))
    assert small.min() == -32 and small.max() == 31
    assert stats.chisquare(np.bincount(small + 32, minlength=64)).pvalue > 1e-4
    x = np.array([float(v) for v in flooding.draw(np.random.default_rng(1), 20000, 69)]) / 2.0 ** 69
    assert x.min() >= -1 and x.max() < 1 and x.min() < -0.99 and x.max() > 0.99
    assert stats.kstest(x, stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-4


# -- the noise the client sees -------------------------------------------------------------------------------------
def test_phase_noise_matches_a_schoolbook_negacyclic_product():
    rng = np.random.default_rng(2)
    n, primes, t = 32, [(1 << 59) - 55, (1 << 55) - 55 + 6], 257
    coeffs = np.stack([np.stack([rng.integers(0, q, n, dtype=np.uint64) for q in primes]) for _ in range(2)])
    s = rng.integers(-1, 2, n)
    m = rng.integers(0, t, n).tolist()
    q = primes[0] * primes[1]
    crt = [int(pow(q // p, -1, p)) * (q // p) for p in primes]
    want = []
    for k in range(n):
        c0 = sum(int(coeffs[0][j][k]) * crt[j] for j in range(2)) % q
        c1s = 0
        for i in range(n):
            c1 = sum(int(coeffs[1][j][i]) * crt[j] for j in range(2)) % q
            j2 = k - i
            c1s += c1 * int(s[j2]) if j2 >= 0 else -c1 * int(s[j2 + n])
        v = (c0 + c1s - (q * m[k] + t // 2) // t) % q
        want.append(v - q if v > q // 2 else v)
    assert flooding.phase_noise(coeffs, s, primes, m, t) == want


def test_a_fresh_encryption_has_seals_noise(client):
    noise = client.answer_noise(client.encrypt(np.ones(client.params.slots, dtype=np.uint64)))
    assert 0 < max(map(abs, noise)) <= flooding.FRESH


def test_flooded_answers_decrypt_correctly_with_the_planned_noise(client):
    p = flooding.plan(client.params)
    rng = np.random.default_rng(4)
    ct, want = _answer(client, rng.integers(0, client.plain_modulus, client.params.slots, dtype=np.uint64), rng)
    assert np.array_equal(client.decrypt(ct), want)
    noise = np.array([float(v) for v in client.answer_noise(ct)])
    assert np.abs(noise).max() <= 2.0 ** p.bits + 2.0 ** p.bound
    assert stats.kstest(noise / 2.0 ** p.bits, stats.uniform(loc=-1, scale=2).cdf).pvalue > 1e-4
    assert client.noise_budget(ct) >= p.left - 1                    # the worst case is a bound, not a guess


def test_flooding_hides_the_weights_noise_the_unflooded_answers_show():
    """Zero weights vs random weights: the unflooded answers' noise differs by many bits (N = 4096, no prime
    to drop: the protocol before this issue); the flooded answers' noise at N = 8192 is one distribution."""
    rng = np.random.default_rng(5)
    plain = unflooded(SealBackend)(HEParams(4096), seed=1)
    t, slots = plain.plain_modulus, plain.params.slots
    zero, heavy = np.zeros(slots, dtype=np.uint64), rng.integers(0, t, slots, dtype=np.uint64)
    mags = [max(map(abs, plain.answer_noise(_answer(plain, w, rng)[0]))) for w in (zero, heavy)]
    assert math.log2(mags[1]) - math.log2(mags[0]) > 10, mags
    flooded = SealBackend(HEParams(8192), seed=1)
    zero, heavy = np.zeros(flooded.params.slots, dtype=np.uint64), rng.integers(
        0, t, flooded.params.slots, dtype=np.uint64)
    a, b = ([float(v) for v in flooded.answer_noise(_answer(flooded, w, rng)[0])] for w in (zero, heavy))
    assert stats.ks_2samp(a, b).pvalue > 1e-4


def test_observed_noise_is_uniform_when_flooded_and_a_spike_when_not():
    bits = 69
    flooded = flooding.observed(flooding.draw(np.random.default_rng(6), 4096, bits), bits)
    assert flooded.min() >= 0 and flooded.max() < 2 ** flooding.VIEW_BITS
    assert stats.kstest(flooded / 2.0 ** flooding.VIEW_BITS, "uniform").pvalue > 1e-4
    spike = flooding.observed(list(range(-64, 64)), bits)
    assert len(set(spike.tolist())) <= 2


# -- the re-randomisation, and every protocol concealing every answer ----------------------------------------------
def _second_poly(be, ct) -> bytes:
    from protocols.he import wire

    blob = be.to_bytes(ct)
    data = blob[wire.CT_OVERHEAD:]
    return data[len(data) // 2:]


def test_the_answers_second_polynomial_is_fresh_only_when_re_randomised():
    """Without the encryption of zero the answer's c1 is sum p_i c1_i: the same query and weights give the
    same c1 (the client knows the c1_i, so c1 tells it about the weights). Concealed, it is fresh each time."""
    for cls, fresh in ((SealBackend, True), (unflooded(SealBackend), False)):
        be = cls(HEParams(8192), seed=2)
        rng = np.random.default_rng(7)
        ct = be.encrypt(np.arange(be.params.slots, dtype=np.uint64))
        w = rng.integers(0, be.plain_modulus, be.params.slots, dtype=np.uint64)
        first, second = (_second_poly(be, be.conceal(be.multiply_plain(ct, w), np.random.default_rng(1)))
                         for _ in range(2))
        assert (first != second) == fresh, cls.__name__


HE_RUNS = [("bolt.matmul", {"experts": 2, "capacity": 3, "d_in": 5, "d_out": 4}),
           ("cryptomoe.matmul", {"experts": 3, "capacity": 2, "d_in": 4, "d_out": 6, "bsgs": True}),
           ("nexus.matmul", {"experts": 2, "capacity": 2, "d_in": 3, "d_out": 4, "pack": 4}),
           ("secmoe.moe", {"tokens": 2, "hidden": 4, "ffn": 4, "experts": 4, "top_k": 2})]


@pytest.mark.parametrize("name,params", HE_RUNS, ids=[n for n, _ in HE_RUNS])
def test_every_he_protocol_conceals_every_answer(name, params):
    """The server conceals exactly the answers the client decrypts (op counts of a real run, both parties);
    on SEAL the client's view holds one ``noise`` item per answer."""
    from analysis import harness, registry
    from analysis.strategies import draw_example_inputs

    entry = registry.get(name)
    p = entry.resolve(params)
    inputs = draw_example_inputs(entry, p, 0)
    run = harness.run_real(entry, p, inputs, seed=0, record_views=True)
    ops = run.counts["ops"]
    answers = ops.count("decrypt")
    assert answers > 0 and ops.count("conceal") == answers, (ops.count("conceal"), answers)
    noise = [it for it in run.views["client"] if it.kind == "noise"]
    n = p.get("poly_degree") or p.get("he_poly_degree")
    assert len(noise) == answers and all(it.values.numel() == n for it in noise)


def test_a_protocols_own_noise_bound_decides_where_flooding_fits():
    """``pre_bits`` (a ciphertext x ciphertext answer's bound) replaces the plaintext-circuit bound: a noise
    the switch brings under SEAL's rounding fits; one past the full modulus (no correct decryption even
    before switching) is refused."""
    p = HEParams(8192)
    full = sum(b - 1 for b in p.coeff_bits[:-1]) - p.plain_bits - 1
    assert flooding.plan(p, pre_bits=55).fits and flooding.plan(p, pre_bits=55).bits < flooding.plan(p).bits
    assert not flooding.plan(p, pre_bits=full + 1).fits
    with pytest.raises(flooding.FloodingError):
        flooding.check(p, pre_bits=full + 1)
