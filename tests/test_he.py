"""HE matmul: the paper's toy, SEAL == simulator == formula, noise budget, exact rotation keys."""
import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import harness, registry
from analysis.cli import main
from analysis.cost_models import he as H
from protocols.he.interface import HEParams
from protocols.he.matmul import he_matmul
from protocols.he.seal_backend import SealBackend
from simulators.he import SimBackend


def _ab(E, t, di, do, seed=0, hi=1000):
    rng = np.random.default_rng(seed)
    return rng.integers(0, hi, (E, t, di)), rng.integers(0, hi, (E, di, do))


def _ideal(A, B, mod):
    return np.einsum("eti,eio->eto", A.astype(object), B.astype(object)) % mod


@pytest.mark.parametrize("packing,rotations", [("bolt", 6), ("batch", 2)])
def test_paper_toy(packing, rotations):
    """CryptoMoE's toy: E = 2, t = 2, d_in = d_out = 4 on 8 slots: BOLT 6 rotations, batch packing 2."""
    A, B = _ab(2, 2, 4, 4)
    be = SimBackend(HEParams(16))                       # 16 = 2 rows x 8 slots
    run = he_matmul(be, A, B, packing, bsgs=False)
    assert run.counts["rotations"] == rotations
    assert H.matmul(2, 2, 4, 4, 16, False, packing).rotations == rotations
    got = (run.client_share + run.server_share) % np.uint64(be.plain_modulus)
    assert np.array_equal(got.astype(object), _ideal(A, B, be.plain_modulus))


@settings(max_examples=40)
@given(E=st.integers(1, 4), t=st.integers(1, 6), di=st.integers(1, 24), do=st.integers(1, 24),
       n=st.sampled_from([16, 32, 64, 256]), bsgs=st.booleans(), packing=st.sampled_from(["bolt", "batch"]))
def test_simulator_counts_equal_the_formula_at_small_slot_counts(E, t, di, do, n, bsgs, packing):
    """Small N makes multi-ciphertext layouts (d > c) and partial blocks: every shape, exact."""
    try:
        model = H.matmul(E, t, di, do, n, bsgs, packing)
    except ValueError:          # rows do not fit: refused by the model and the protocol alike
        with pytest.raises(ValueError):
            he_matmul(SimBackend(HEParams(n)), *_ab(E, t, di, do), packing, bsgs)
        return
    A, B = _ab(E, t, di, do, hi=50)
    be = SimBackend(HEParams(n))
    run = he_matmul(be, A, B, packing, bsgs)
    for metric in ("rotations", "pt_mults", "ct_adds", "ciphertexts", "key_switches"):
        assert run.counts[metric] == getattr(model, metric), metric
    assert harness.measured(run.meter)["bytes_client_to_server"] == model.bytes_client_to_server
    got = (run.client_share + run.server_share) % np.uint64(be.plain_modulus)
    assert np.array_equal(got.astype(object), _ideal(A, B, be.plain_modulus))


@pytest.mark.parametrize("packing", ["bolt", "batch"])
@pytest.mark.parametrize("bsgs", [False, True])
def test_seal_equals_simulator_outputs_counts_and_keeps_noise_budget(packing, bsgs):
    A, B = _ab(3, 3, 20, 9, seed=1)
    params = HEParams(8192)                     # the smallest ring whose answers can be flooded
    seal, sim = SealBackend(params, 5), SimBackend(params, 5)
    r1, r2 = he_matmul(seal, A, B, packing, bsgs, rng=5), he_matmul(sim, A, B, packing, bsgs, rng=5)
    assert np.array_equal(r1.client_share, r2.client_share) and np.array_equal(r1.server_share, r2.server_share)
    assert r1.counts == r2.counts
    assert r1.noise_budget > 0
    got = (r1.client_share + r1.server_share) % np.uint64(seal.plain_modulus)
    assert np.array_equal(got.astype(object), _ideal(A, B, seal.plain_modulus))


def test_client_share_is_masked():
    """The client's decryption is A B + R with R uniform: it differs from A B almost everywhere."""
    A, B = _ab(1, 4, 8, 8, seed=3)
    be = SimBackend(HEParams(4096))
    run = he_matmul(be, A, B, "batch", False, rng=9)
    assert (run.client_share.astype(object) != _ideal(A, B, be.plain_modulus)).mean() > 0.9


def test_rotation_keys_exist_only_for_prepared_steps():
    """One rotation = one key switch: an unprepared step is refused, never decomposed."""
    be = SealBackend(HEParams(4096))
    be.prepare({4, 2})
    ct = be.encrypt(np.arange(2048))
    assert list(be.decrypt(be.rotate(ct, 4))[:3]) == [4, 5, 6]
    with pytest.raises(KeyError):
        be.rotate(ct, 6)          # SEAL could compose 4 + 2 (two key switches): refused
    sim = SimBackend(HEParams(4096))
    sim.prepare({4})
    with pytest.raises(KeyError):
        sim.rotate(sim.encrypt(np.arange(2048)), 3)


def test_zero_weights_do_not_change_the_counts():
    A, _ = _ab(2, 2, 6, 5)
    B = np.zeros((2, 6, 5), dtype=np.int64)
    be = SealBackend(HEParams(8192))
    r = he_matmul(be, A, B, "bolt", False)
    assert r.counts["pt_mults"] == H.matmul(2, 2, 6, 5, 8192, False, "bolt").pt_mults
    assert not ((r.client_share + r.server_share) % np.uint64(be.plain_modulus)).any()


def test_batch_beats_bolt_by_about_sqrt_e_with_bsgs_at_paper_scale(capsys):
    p = dict(experts=64, capacity=32, d_in=2048, d_out=2048, poly_degree=8192)
    bolt = H.matmul(**p, bsgs=True, packing="bolt").rotations
    batch = H.matmul(**p, bsgs=True, packing="batch").rotations
    assert bolt / batch > np.sqrt(64) / 2
    code = main(["costs", "bolt.matmul", "--backend", "sim", "--set", "experts=64 capacity=32 d_in=2048 d_out=2048",
                 "poly_degree=8192", "bsgs=true", "--json"])
    assert code == 0 and '"rotations": %d' % bolt in capsys.readouterr().out


def test_verify_runs_both_backends(capsys):
    for backend in ("seal", "sim"):
        # the security checks do not depend on the backend (tests/test_security.py runs them)
        code = main(["verify", "bolt.matmul", "cryptomoe.matmul", "--examples", "2", "--backend", backend,
                     "--security-runs", "0"])
        assert code == 0, capsys.readouterr().out


def test_he_matmul_shares_lift_into_crypten_shares():
    """HE matmul -> shares mod t -> the lift -> Z_2^64 shares of the signed product (values in range)."""
    rng = np.random.default_rng(4)
    A = rng.integers(-20, 20, (1, 2, 3))
    B = rng.integers(-20, 20, (1, 3, 2))
    be = SimBackend(HEParams(4096))
    t = be.plain_modulus
    run = he_matmul(be, A % t, B % t, "batch", False, rng=2)
    entry = registry.get("he.lift")
    params = {"n": 4, "modulus": t}
    c = torch.tensor(run.client_share.reshape(-1).astype(np.int64))
    s = torch.tensor(run.server_share.reshape(-1).astype(np.int64))
    lifted = harness.run_real(entry, params, {"c": c, "s": s}).outputs
    assert lifted.tolist() == np.einsum("eti,eio->eto", A, B).reshape(-1).tolist()


def test_nexus_on_seal_with_a_deep_expansion_tree():
    """A 256-value pack (8 levels of automorphisms) at N = 8192: right result, budget left, formula exact."""
    from protocols.he import nexus_matmul as nexus

    A, B = _ab(2, 4, 16, 8, seed=6)
    be = SealBackend(HEParams(8192))
    run = nexus.matmul(be, A, B, pack=256)
    assert run.noise_budget > 0
    got = (run.client_share + run.server_share) % np.uint64(be.plain_modulus)
    assert np.array_equal(got.astype(object), _ideal(A, B, be.plain_modulus))
    model = H.nexus_matmul(2, 4, 16, 8, 8192, 256)
    for metric in ("rotations", "pt_mults", "ct_adds", "ciphertexts", "key_switches"):
        assert run.counts[metric] == getattr(model, metric), metric


def test_nexus_does_not_amortise_per_expert():
    """Applied per expert NEXUS pays a key switch per packed value; batch packing pays far fewer."""
    p = dict(experts=64, capacity=32, d_in=2048, d_out=2048, poly_degree=8192)
    assert H.nexus_matmul(**p, pack=8192).key_switches > 10 * H.matmul(**p, bsgs=True, packing="batch").key_switches


def test_costs_measure_runs_the_count_only_simulator(capsys):
    """`privmoe costs NAME --backend sim --measure` runs the protocol (no values) beside the formula."""
    import json

    for name in ("bolt.matmul", "cryptomoe.matmul", "nexus.matmul"):
        code = main(["costs", name, "--backend", "sim", "--set", "experts=8 capacity=16 d_in=256 d_out=128",
                     "poly_degree=8192", "bsgs=true", "--measure", "--json"])
        obj = json.loads(capsys.readouterr().out)
        assert code == 0 and obj["model_equals_measured"], obj
        assert obj["measured"]["pt_mults"] == obj["total"]["pt_mults"] > 0


@pytest.mark.parametrize("t", [3, 65537, 1032193])
def test_lift_covers_every_wrap_of_the_share_sum(t):
    """u = c + s lies in [0, 2t - 2]; the centred value is u, u - t or u - 2t in four ranges of u, whose
    edges are t/2 and 3t/2. Every range and both edges appear here (at random, u >= 3t/2 is rare)."""
    h = (t + 1) // 2
    pairs = [(0, 0), (h - 1, 0), (h, 0), (t - 1, 0), (t - 1, 1), (t - 1, h - 1), (t - 1, h), (t - 1, t - 1),
             (h, h), (1, t - 1)]
    pairs = [(c % t, s % t) for c, s in pairs]
    c = torch.tensor([p[0] for p in pairs])
    s = torch.tensor([p[1] for p in pairs])
    want = [((a + b) % t) - (t if (a + b) % t >= h else 0) for a, b in pairs]
    entry = registry.get("he.lift")
    params = {"n": len(pairs), "modulus": t}
    assert entry.ideal(params, {"c": c, "s": s}).tolist() == want
    assert harness.run_real(entry, params, {"c": c, "s": s}).outputs.tolist() == want
    # the second wrap exists from t = 5 on (at t = 3, u <= 4 < 3t/2)
    assert any(a + b >= (3 * t + 1) // 2 for a, b in pairs) or 2 * t - 2 < (3 * t + 1) // 2


def test_cryptomoe_matmul_toy_reproduces_the_papers_rotation_counts():
    """CryptoMoE's toy (E = 2, t = 2, d_in = d_out = 4, 8 slots): BOLT 6 rotations, batch 2 (the paper's
    numbers); every packing's shares are right and its counts and bytes equal the closed form."""
    from analysis.toy_examples import matmul_toy

    toy = matmul_toy().set_index("packing")
    assert toy.loc["bolt", "rotations"] == 6 and toy.loc["batch", "rotations"] == 2
    assert toy["correct"].all() and toy["model == run"].all()
    assert toy.loc["bolt + BSGS", "rotations"] < toy.loc["bolt", "rotations"]


def test_the_simulators_plain_primes_are_seals():
    """At every SEAL ring degree the simulator's batching prime is the one SEAL picks (17 to 60 bits)."""
    import tenseal.sealapi as seal

    from simulators.he import plain_prime

    for n in (1024, 2048, 4096, 8192, 16384):
        for bits in (17, 20, 21, 22, 23, 24, 25, 26, 30, 38, 40, 45, 50, 60):
            assert plain_prime(HEParams(n, bits)) == seal.PlainModulus.Batching(n, bits).value(), (n, bits)


@pytest.mark.parametrize("backend,n,d_out", [("seal", 8192, 12), ("sim", 1024, 150)])
@pytest.mark.parametrize("packing,bsgs", [("bolt", False), ("bolt", True), ("batch", False), ("batch", True)])
def test_weights_encoded_once_give_the_same_answers_and_counts(packing, bsgs, backend, n, d_out):
    """The server's diagonals encoded once (``packing.matmul``'s cache) and reused by a second query: the
    same products, the same counted operations, nothing recomputed wrongly from a stale key (the simulator
    case has several output ciphertexts: d_out beyond a ciphertext's column blocks)."""
    from protocols.he.seal_backend import SealBackend
    from simulators.he import SimBackend

    cls = SealBackend if backend == "seal" else SimBackend
    rng = np.random.default_rng(3)
    A, A2 = rng.integers(0, 50, (3, 3, 20)), rng.integers(0, 50, (3, 3, 20))
    B = rng.integers(0, 50, (3, 20, d_out))
    params = HEParams(n)
    cache: dict = {}
    he_matmul(cls(params), A, B, packing, bsgs, 0, cache)                     # fills the cache
    assert cache and all(isinstance(v, dict) and v for v in cache.values())
    fresh = he_matmul(cls(params), A2, B, packing, bsgs, 0)
    reused = he_matmul(cls(params), A2, B, packing, bsgs, 0, cache)
    assert reused.counts["ciphertexts_out"] > 1 or backend == "seal"
    t = cls(params).plain_modulus
    want = np.einsum("eti,eio->eto", A2, B) % t
    for run in (fresh, reused):
        assert np.array_equal((run.client_share.astype(object) + run.server_share) % t, want)
    assert {k: v for k, v in reused.counts.items() if k != "ops"} == {k: v for k, v in fresh.counts.items() if k != "ops"}
