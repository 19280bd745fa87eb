"""MoE protocols: obliviousness under extreme routings, the negative control, combine order, costs."""
import json

import pytest
import torch

from analysis import harness, registry
from analysis.cli import main
from analysis.cost_models import crypten
from analysis.cost_models import moe as M
from protocols.mpc.cryptomoe_combine import choose_variant

# Two routings as different as they get, same public parameters (m = d = E = 3, k = 1):
# every token to expert 0, vs token j to expert j.
ALL_TO_ONE = {"x": torch.full((3, 3), 0.5), "w_g": torch.tensor([[1.0, -1, -1]] * 3)}
SPREAD = {"x": torch.eye(3), "w_g": torch.eye(3)}
LAYER = {"tokens": 3, "hidden": 3, "ffn": 2, "experts": 3, "top_k": 1}


def _experts(seed=0):
    g = torch.Generator().manual_seed(seed)
    return {n: (torch.rand(s, generator=g) - 0.5) for n, s in (("U", (3, 3, 2)), ("V", (3, 3, 2)), ("D", (3, 2, 3)))}


def _routing(kind):
    ex = _experts()
    return {**(ALL_TO_ONE if kind == "one" else SPREAD), **ex}


@pytest.mark.parametrize("name,extra", [("cryptomoe.moe", {"capacity": 1}), ("dense.moe", {}),
                                        ("secmoe.moe", {"he_backend": "seal", "he_poly_degree": 16384}),
                                        ("reshared.moe", {"he_backend": "seal", "he_poly_degree": 8192})])
def test_layers_hide_extreme_routings(name, extra):
    entry = registry.get(name)
    params = {**LAYER, **extra}
    a = harness.run_real(entry, params, _routing("one"))
    b = harness.run_real(entry, params, _routing("spread"))
    assert [int(k) for k in a.outputs[1].flatten()] == [0, 0, 0]
    assert [int(k) for k in b.outputs[1].flatten()] == [0, 1, 2]
    assert harness.signature_difference(a.meter, b.meter) is None


def test_insecure_layer_is_caught_by_the_obliviousness_check():
    entry = registry.get("insecure.moe")
    a = harness.run_real(entry, LAYER, _routing("one"))
    b = harness.run_real(entry, LAYER, _routing("spread"))
    # its output is right ...
    for run, kind in ((a, "one"), (b, "spread")):
        ideal = entry.ideal(LAYER, _routing(kind))
        assert entry.check(ideal, run.outputs, LAYER, _routing(kind)) == []
    # ... but the transcript shows how many tokens each expert got
    assert harness.signature_difference(a.meter, b.meter) is not None


@pytest.mark.parametrize("name", ["cryptomoe.dispatch", "cipherprune.dispatch"])
def test_dispatch_hides_extreme_routings(name):
    entry = registry.get(name)
    params = {"tokens": 3, "hidden": 2, "experts": 3, "top_k": 2, "capacity": 2}
    x = torch.tensor([[1.0, -2.0], [0.5, 0.5], [3.0, 0.0]])
    one = {"x": x, "K": torch.tensor([[0, 1], [0, 2], [0, 1]]), "W": torch.tensor([[0.9, 0.1]] * 3)}
    spread = {"x": x, "K": torch.tensor([[0, 1], [1, 2], [2, 0]]), "W": torch.tensor([[0.5, 0.5]] * 3)}
    runs = [harness.run_real(entry, params, i) for i in (one, spread)]
    for run, i in zip(runs, (one, spread)):
        assert entry.check(entry.ideal(params, i), run.outputs, params, i) == []
    assert harness.signature_difference(runs[0].meter, runs[1].meter) is None


def test_verify_reports_the_negative_control_as_caught(capsys):
    code = main(["verify", "insecure.moe", "cryptomoe.combine", "--examples", "3", "--seed", "2", "--security-runs", "2",
                 "--json"])
    obj = json.loads(capsys.readouterr().out)
    assert code == 0, obj
    control = next(p for p in obj["protocols"] if p["protocol"] == "insecure.moe")
    assert control["negative_control"] and control["caught"]
    assert not next(c for c in control["checks"] if c["check"] == "obliviousness")["passed"]


@pytest.mark.parametrize("m,d", [(2, 8), (8, 2), (4, 4)])
def test_combine_auto_picks_the_cheaper_order(m, d):
    E, t = 3, 2
    costs = {v: M.cryptomoe_combine(crypten, m, d, E, t, v).bytes for v in ("scores_first", "outputs_first")}
    chosen = choose_variant(m, d)
    assert costs[chosen] == min(costs.values())
    assert costs["scores_first"] - costs["outputs_first"] == 2 * 8 * E * t * (m - d)


def test_combine_variants_agree_and_each_matches_its_model():
    entry = registry.get("cryptomoe.combine")
    g = torch.Generator().manual_seed(1)
    base = {"tokens": 3, "hidden": 2, "experts": 2, "capacity": 2}
    inputs = {"y": torch.randn(2, 2, 2, generator=g), "O": torch.nn.functional.one_hot(torch.tensor([[0, 2], [1, 1]]), 3),
              "S": torch.tensor([[0.5, 0.0], [1.0, 0.25]])}
    outs = []
    for variant in ("scores_first", "outputs_first"):
        ex = harness.run_example(entry, {**base, "variant": variant}, inputs)
        assert ex.equivalence == [] and ex.cost == []
        outs.append(ex.real.outputs)
    assert float((outs[0] - outs[1]).abs().max()) <= 2 * entry.error_bound({**base, "variant": "auto"})


def test_cost_asymptotics_as_documented():
    """CipherPrune's compaction moves d-wide rows (O(E k m t d)); CryptoMoE's top-t does not depend on d."""
    m, E, k, t = 16, 4, 2, 8
    cp = [M.cipherprune_dispatch(crypten, m, d, E, k, t).step("compact").bytes for d in (8, 16)]
    cm = [M.cryptomoe_dispatch(crypten, m, d, E, k, t).step("topk").bytes for d in (8, 16)]
    n = k * m
    cas = sum(n - 1 - i for i in range(t))                                  # ~ t k m compare-and-swaps
    assert cm[0] == cm[1]
    # each compare-and-swap multiplexes one more element per unit of d, in both directions
    assert cp[1] - cp[0] == 2 * 8 * E * cas * (16 - 8)
    assert sum(M.swap_pairs(n, t)) == cas
    assert len(M.swap_pairs(n, t)) == n - 2 + t                            # pipelined depth


def test_capacity_from_capacity_factor(capsys):
    code = main(["costs", "cryptomoe.dispatch", "--backend", "cheetah", "--set",
                 "tokens=128 experts=64 top_k=6 capacity_factor=1 hidden=2048", "--json"])
    obj = json.loads(capsys.readouterr().out)
    assert code == 0 and obj["params"]["capacity"] == (1 * 6 * 128) // 64
    assert [s["step"] for s in obj["steps"]][:2] == ["equal", "mux"] and obj["total"]["bytes"] > 0


def test_sigmoid_cost_is_deterministic_under_threads():
    """CrypTen's temp_override is per party thread (crypten_shim): the count never varies run to run."""
    from protocols.mpc.sharing import share_input
    from protocols.runtime import run_two_party, step

    def fn(party, a):
        x = share_input(a.get("x"), 0, (5,))
        with step("sig"):
            x.sigmoid()

    want = crypten.sigmoid(5)
    for s in range(4):
        got = run_two_party(fn, ({"x": torch.randn(5)}, {}), seed=s).meter.totals("sig")
        assert (got["rounds"], got["bytes_client_to_server"], got["offline_bytes"]) == \
               (want.rounds, want.bytes_client_to_server, want.offline_bytes)


def test_secmoe_selection_does_not_wrap_when_experts_per_ciphertext_is_odd():
    """d f = 600 at N = 4096 (2048 slots) fits 3 experts, but the tree must use 2 (a power of two). The
    selection is SecMoE's (``secmoe_moe.select``); the re-shared baseline runs it at these dims (the
    encrypted compute's ranges need a smaller hidden)."""
    entry = registry.get("reshared.moe")
    params = {"tokens": 1, "hidden": 20, "ffn": 30, "experts": 3, "top_k": 3, "he_backend": "sim",
              "he_poly_degree": 4096}
    g = torch.Generator().manual_seed(3)
    inputs = {"x": (torch.rand(1, 20, generator=g) * 2 - 1) * 0.5, "w_g": torch.rand(20, 3, generator=g) * 2 - 1,
              "U": (torch.rand(3, 20, 30, generator=g) - 0.5) * 0.2, "V": (torch.rand(3, 20, 30, generator=g) - 0.5) * 0.2,
              "D": (torch.rand(3, 30, 20, generator=g) - 0.5) * 0.2}
    ex = harness.run_example(entry, params, inputs)
    want = entry.ideal(params, inputs)[0]
    assert float((ex.real.outputs[0] - want).abs().max()) < 1e-2
    assert ex.cost == []
