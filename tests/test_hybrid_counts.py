"""Hybrid entries (HE inside an MPC protocol) are compared on every metric they produce: the MPC Meter's
rounds and bytes AND the HE backend's rotations, plaintext products, additions, key switches and the
ciphertexts the channel handed over (``analysis/harness.HYBRID_HE``). A model off by one in any HE count
must be reported."""
import dataclasses

import pytest

from analysis import harness, registry

PARAMS = {"tokens": 2, "hidden": 2, "ffn": 1, "experts": 3, "top_k": 1, "he_backend": "sim"}


@pytest.fixture(scope="module")
def secmoe_run():
    import torch

    entry = registry.get("secmoe.moe")
    params = entry.resolve(PARAMS)
    g = torch.Generator().manual_seed(1)
    inputs = {s.name: (torch.rand(s.shape, generator=g) - 0.5) * 0.5 for s in entry.input_specs(params)}
    return entry, params, harness.run_example(entry, params, inputs)


def test_hybrid_run_counts_its_he_operations(secmoe_run):
    entry, params, ex = secmoe_run
    counts = ex.real.counts
    assert counts is not None and counts["rotations"] > 0 and counts["pt_mults"] > 0
    # the client decrypts every answer the server sent: 3 per (token, slot)
    assert counts["decryptions"] == 3 * params["tokens"] * params["top_k"]
    assert ex.cost == [], ex.cost


@pytest.mark.parametrize("metric", harness.HYBRID_HE)
def test_model_off_by_one_in_an_he_count_is_reported(secmoe_run, metric):
    entry, params, ex = secmoe_run
    real_cost = entry.costs["crypten"]

    def off_by_one(p):
        c = real_cost(p)
        return dataclasses.replace(c, **{metric: getattr(c, metric) + 1})

    wrong = dataclasses.replace(entry, costs={**entry.costs, "crypten": off_by_one})
    problems = harness.cost_mismatches(wrong, params, ex.real)
    assert any(p.startswith(f"total.{metric}:") for p in problems), problems


def test_mpc_only_hybrid_has_no_he_counts():
    """he.lift is hybrid by data (HE residues) but performs no HE operation: counts None, compared as 0."""
    import torch

    entry = registry.get("he.lift")
    params = entry.resolve({"n": 2})
    ex = harness.run_example(entry, params, {s.name: torch.zeros(s.shape, dtype=torch.long)
                                             for s in entry.input_specs(params)})
    assert ex.real.counts is None and ex.cost == []
