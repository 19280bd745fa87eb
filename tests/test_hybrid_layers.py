"""The MoE layers with ``linear=he`` (``protocols/he/hybrid_linear.py``): the server's plaintext weights
through HE, shares -> HE and HE -> shares named and counted. Each layer equals its spec within the layer's
bound, and every metric (MPC rounds and bytes, HE counts, serialized HE bytes) equals the model."""
import math

import numpy as np
import pytest
import torch

from analysis import harness, registry
from analysis.cost_models import crypten
from analysis.cost_models import moe as M
from functionalities.errors import PublicParameterError
from protocols.he import flooding
from protocols.he.hybrid_linear import plan, pre_bits
from protocols.he.interface import HEParams
from protocols.mpc.secmoe_moe import he_params

LAYERS = ("cryptomoe.moe", "dense.moe", "cipherprune.moe")
SMALL = {"tokens": 3, "hidden": 2, "ffn": 2, "experts": 2, "top_k": 1, "linear": "he", "he_backend": "sim"}


def _inputs(entry, params, seed=1):
    g = torch.Generator().manual_seed(seed)
    return {s.name: (torch.rand(s.shape, generator=g) - 0.5) * 0.9 for s in entry.input_specs(params)}


@pytest.mark.parametrize("bsgs", [False, True])
@pytest.mark.parametrize("name", LAYERS)
def test_each_layer_with_he_linears_equals_its_spec_and_its_model(name, bsgs):
    entry = registry.get(name)
    params = entry.resolve({**SMALL, "bsgs": bsgs})
    ex = harness.run_example(entry, params, _inputs(entry, params))
    assert ex.equivalence == [] and ex.cost == [], (ex.equivalence, ex.cost)
    counts = ex.real.counts
    assert counts["pt_mults"] > 0 and counts["decryptions"] > 0
    steps = {s for s, _ in entry.cost("crypten", params).steps}
    for path in ("experts/up/to_he/to_client", "experts/up/to_he/encrypt", "experts/up/answer", "experts/up/lift",
                 "experts/down/to_he/encrypt", "experts/down/answer", "experts/down/lift"):
        assert path in steps


def test_the_hybrid_layer_runs_on_seal_in_two_processes():
    entry = registry.get("dense.moe")
    params = entry.resolve({**SMALL, "he_backend": "seal"})
    ex = harness.run_example(entry, params, _inputs(entry, params, 2), mode="processes")
    assert ex.equivalence == [] and ex.cost == [], (ex.equivalence, ex.cost)
    assert ex.real.counts["noise_budget"] > 0


def test_linear_shares_moves_no_ciphertext_and_he_does():
    entry = registry.get("cryptomoe.moe")
    shares = entry.cost("crypten", entry.resolve({**SMALL, "linear": "shares"}))
    he = entry.cost("crypten", entry.resolve(SMALL))
    assert shares.ciphertexts == 0 and shares.key_bytes == 0
    assert he.ciphertexts > 0 and he.key_bytes > 0
    # gate, dispatch and combine are the same protocol either way
    for step in ("gate", "dispatch", "combine"):
        assert dict(shares.steps)[step] == dict(he.steps)[step]


def test_dense_encrypts_its_tokens_once_for_every_expert():
    """Dense's ``up``: one product of the m tokens with every expert's columns side by side: the queries do
    not grow with E; its ``down`` is BOLT per expert (one group each)."""
    p = he_params()
    one = M.dense_moe(crypten, 64, 8, 8, 1, 1, "he", False, p)
    many = M.dense_moe(crypten, 64, 8, 8, 16, 1, "he", False, p)
    q = lambda c: dict(c.steps)["experts/up/to_he/encrypt"].ciphertexts   # noqa: E731
    assert q(one) == q(many) == 1
    assert len(plan(16, 64, 8, 8, "bolt", p.slots)) == 16


@pytest.mark.parametrize("bad,match", [({"linear": "beaver"}, "linear must be one of"),
                                       ({"he_backend": "gpu"}, "he_backend must be"),
                                       ({"accounting": "paper"}, "accounting=paper")])
def test_bad_hybrid_parameters_are_refused_by_name(bad, match):
    entry = registry.get("cryptomoe.moe")
    with pytest.raises(PublicParameterError, match=match):
        params = entry.resolve({**SMALL, **bad})
        entry.validate(params, {})


def test_a_run_beyond_the_hybrid_ranges_is_refused_before_any_ciphertext():
    """Costs project to any size; a RUN whose products could wrap mod t (or whose g exceeds the statistical
    mask) is refused by name (``hybrid_linear.check_ranges``), never computed wrongly."""
    from protocols.he.hybrid_linear import check_ranges

    check_ranges(4, 4, he_params())
    with pytest.raises(PublicParameterError, match="statistical mask"):
        check_ranges(64, 2, he_params())
    with pytest.raises(PublicParameterError, match="beyond t/2"):
        check_ranges(16, 4096, he_params())
    entry = registry.get("dense.moe")
    params = entry.resolve({**SMALL, "hidden": 40, "tokens": 1, "experts": 1})
    with pytest.raises(PublicParameterError, match="statistical mask"):
        harness.run_real(entry, params, _inputs(entry, params))


def test_a_rotated_input_carries_key_switch_noise_into_the_product():
    """The flooding bound multiplies the KEY-SWITCHED noise by the plaintext (``flooding.circuit_bits``): on
    SEAL a rotation adds far more than a fresh encryption's 20, and a rotated input times a uniform
    plaintext stays below the bound."""
    from protocols.he.seal_backend import SealBackend

    params = HEParams(8192)
    be = SealBackend(params)
    be.prepare({1})
    t = be.plain_modulus
    rng = np.random.default_rng(0)
    log_q = sum(params.coeff_bits[:-1])
    noise = lambda c: log_q - math.log2(t) - be.noise_budget(c) - 1      # noqa: E731  log2 |v|, +- 1 bit
    ct = be.encrypt(rng.integers(0, t, params.slots, dtype=np.uint64))
    rotated = be.rotate(ct, 1)
    assert noise(rotated) > math.log2(flooding.FRESH) + 6
    assert noise(rotated) <= flooding.key_switch_bits(params) + 1
    product = be.multiply_plain(rotated, rng.integers(0, t, params.slots, dtype=np.uint64))
    assert noise(product) <= flooding.circuit_bits(params, 0) + 1


def test_the_hybrid_answers_fit_flooding_at_secmoe_parameters_only():
    layouts = plan(4, 8, 64, 128, "batch", he_params().slots)
    bits = pre_bits(he_params(), layouts)
    assert flooding.plan(he_params(), pre_bits=bits).fits
    small = HEParams(8192, 38)
    with pytest.raises(flooding.FloodingError):
        flooding.check(small, pre_bits=pre_bits(small, plan(4, 8, 64, 128, "batch", small.slots)))


@pytest.mark.parametrize("name,backend", [("cryptomoe.moe", "seal"), ("dense.moe", "sim"), ("cipherprune.moe", "sim")])
def test_the_hybrid_layers_pass_every_security_check(name, backend):
    """With ``linear=he`` the client also sees the statistically masked shares, the masked answers and (on
    SEAL, where the noise is real) their flooded noise; every claim must hold (the ledger redraws the
    server's masks). ``privmoe verify ... --set linear=he`` runs all three on SEAL."""
    entry = registry.get(name)
    params = entry.resolve({**SMALL, "tokens": 2, "he_backend": backend})
    results = harness.security_results(entry, runs=2, seed=0, params=params)
    assert all(r.passed for r in results), [(r.check, r.failures) for r in results]


@pytest.mark.parametrize("packing,rows,d_in,d_out", [("batch", 8, 64, 128), ("bolt", 4, 300, 40), ("batch", 64, 3, 5)])
def test_the_flooding_bound_counts_every_product_an_answer_sums(packing, rows, d_in, d_out):
    """``products_per_answer`` is what the backend performs for one output (counted on the simulator), and the
    answers are flooded for that many products of rotated inputs (``pre_bits``)."""
    from protocols.he.packing import matmul, products_per_answer, rotation_steps
    from simulators.he import SimBackend

    params = he_params()
    layouts = plan(2, rows, d_in, d_out, packing, params.slots)
    be = SimBackend(params)
    lay = layouts[0][1]
    single = type(lay)(lay.slots, lay.rows, lay.d_in, min(lay.d_out, lay.blocks))        # one output ciphertext
    be.prepare(rotation_steps(single, False))
    cts = [be.encrypt(np.zeros(params.slots, dtype=np.uint64)) for _ in range(single.n_in)]
    B = np.zeros((2, d_in, single.d_out), dtype=np.uint64)
    before = be.counts.pt_mults
    matmul(be, cts, B, np.zeros(lay.rows, dtype=np.int64), single, False)
    assert be.counts.pt_mults - before == products_per_answer(single)
    worst = max(products_per_answer(layout) for _, layout in layouts)
    assert pre_bits(params, layouts) >= flooding.circuit_bits(params, math.log2(worst))
