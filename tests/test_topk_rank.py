"""The ranking top-t (``topk`` method ``rank``, ``primitives.rank_top``): the spec's top-t with ties to the lower
index at every plan shape, its exact cost model, its depth at the models' sizes against the bitonic network,
the network-aware public rule (``sorting.pick_method``, ``--network``) and its security checks."""
import json

import pytest
import torch

from analysis import harness, registry
from analysis.cli import main
from analysis.cost_models import cheetah, crypten
from analysis.cost_models.sorting import pick_method
from analysis.published import MODELS, TOKENS
from functionalities.errors import PublicParameterError
from functionalities.routing import resolve_capacity
from protocols.mpc.topk import RANK_LEVELS, choose_method, network_size, rank_plan, rank_work
from simulators.network import LAN, WAN, Network
from test_topk_merge import check_on_ties

#: (E, k m, t) of the dispatch's top-t at the three models' sizes (m = 128, f = 1)
MODEL_SIZES = [(cfg["experts"], cfg["top_k"] * TOKENS, resolve_capacity(TOKENS, cfg["experts"], cfg["top_k"], None, 1.0))
               for cfg in MODELS.values()]


# (rows, length, t): one level, two levels with a padded last group, three levels, t = length, t = 1, one entry
@pytest.mark.parametrize("rows,length,t", [(2, 13, 3), (1, 16, 4), (3, 9, 1), (2, 8, 8), (1, 33, 5), (2, 40, 3),
                                           (1, 1, 1)])
def test_rank_equals_the_spec_with_ties_and_its_model(rows, length, t):
    check_on_ties("rank", rows, length, t)


def test_the_plans_used_above_have_the_shapes_they_are_there_for():
    assert len(rank_plan(13, 3)) == 1 and len(rank_plan(40, 3)) == 3
    assert 33 % rank_plan(33, 5)[0] != 0                                     # a padded last group


def test_all_equal_rows_keep_the_lowest_indices_in_order():
    entry = registry.get("topk")
    params = entry.resolve({"rows": 1, "length": 40, "t": 3, "method": "rank"})
    values, indices = harness.run_real(entry, params, {"x": torch.zeros(1, 40)}).outputs
    assert values.tolist() == [[0.0, 0.0, 0.0]] and indices.tolist() == [[0, 1, 2]]


@pytest.mark.parametrize("length,t", [(768, 12), (1024, 16), (512, 8), (40, 3), (9, 1), (8, 8), (100, 99)])
def test_the_plan_is_at_most_three_levels_of_groups_larger_than_t(length, t):
    sizes = rank_plan(length, t)
    assert 1 <= len(sizes) <= RANK_LEVELS
    n = length
    for g in sizes[:-1]:
        assert t < g < n
        n = -(-n // g) * t
    assert sizes[-1] == n and n >= t                                          # the last level: one group of all


def test_the_model_counts_what_the_rule_counts():
    """Rounds: a comparison, an equality and one multiplication per level; the work the rule minimises is the
    number of comparisons and equalities the model charges (each has its own offline bytes per element)."""
    lt, eq = crypten.less_than_zero(1), crypten.equal_zero(1)
    for length, t in ((768, 12), (1024, 16), (512, 8), (40, 3)):
        sizes = rank_plan(length, t)
        c = crypten.topk_core(1, length, t, "rank")
        assert c.rounds == len(sizes) * (lt.rounds + eq.rounds + 1)
        n, pairs, eqs = length, 0, 0
        for g in sizes:
            groups = -(-n // g)
            pairs, eqs, n = pairs + groups * g * (g - 1) // 2, eqs + groups * g * t, groups * t
        assert rank_work(length, t, sizes) == pairs + eqs == network_size(length, t, "rank")[0]
        triples = c.offline_bytes - pairs * lt.offline_bytes - eqs * eq.offline_bytes
        assert triples == 8 * eqs * 3                                        # the select: g t (1 + 2) products


def test_no_plan_of_at_most_three_levels_does_less_work():
    for length, t in ((768, 12), (200, 5)):
        best = rank_work(length, t, rank_plan(length, t))
        for g in range(t + 1, length + 1):
            for levels in range(1, RANK_LEVELS + 1):
                sizes, n = [], length
                while n > g and len(sizes) < levels - 1:
                    sizes.append(g)
                    n = -(-n // g) * t
                if n <= g or g == length:
                    assert rank_work(length, t, tuple(sizes + [n])) >= best


@pytest.mark.parametrize("B", [cheetah, crypten], ids=["cheetah", "crypten"])
def test_rank_halves_the_bitonic_networks_rounds_within_twice_its_bytes_at_the_models_sizes(B):
    """The goal of the round-efficient top-t: at DeepSeekMoE-16B, OLMoE-7B and Qwen-MoE-14B the dispatch's
    top-t (E rows of k m, keep t) takes at most half the rounds of the bitonic sorting network with at most
    twice its bytes."""
    for E, length, t in MODEL_SIZES:
        rank, bitonic = B.topk_auto(E, length, t, "rank"), B.topk_auto(E, length, t, "bitonic")
        assert 2 * rank.rounds <= bitonic.rounds and rank.bytes <= 2 * bitonic.bytes, (E, length, t)


def test_the_network_rule_takes_merge_on_lan_and_rank_on_wan_at_the_models_sizes():
    """On the cheetah units (the rule ``derive_topk`` applies) at the three models' sizes."""
    for E, length, t in MODEL_SIZES:
        assert pick_method(cheetah, E, length, t, LAN) == "merge"
        assert pick_method(cheetah, E, length, t, WAN) == "rank"
        assert choose_method(length, t) == "merge"                           # without a network: fewest comparisons


@pytest.mark.parametrize("B", [cheetah, crypten], ids=["cheetah", "crypten"])
@pytest.mark.parametrize("net", [LAN, WAN, Network(100e6, 0.08)], ids=["LAN", "WAN", "100Mbps-80ms"])
def test_the_pick_has_the_least_modelled_latency(B, net):
    from protocols.mpc.topk import METHODS
    from simulators.network import latency

    for E, length, t in MODEL_SIZES:
        picked = pick_method(B, E, length, t, net)
        times = {m: latency(B.topk_core(E, length, t, m), net) for m in METHODS[1:]}
        assert times[picked] == min(times.values())


def test_an_extreme_link_picks_by_the_term_it_makes_dominant():
    E, length, t = MODEL_SIZES[0]
    assert pick_method(crypten, E, length, t, Network(1e15, 1.0)) == "rank"           # rounds are all that count
    assert pick_method(crypten, E, length, t, Network(1e3, 0.0)) == "merge"           # bytes are all that count


def test_a_network_resolves_auto_once_and_never_overrides_a_method():
    entry = registry.get("cryptomoe.moe")
    sizes = {"tokens": 128, "experts": 64, "top_k": 6, "hidden": 2048, "ffn": 1408, "capacity_factor": 1.0}
    wan = entry.resolve({**sizes, "network": "WAN"})
    assert wan["topk"] == "rank" and entry.resolve(wan) == wan
    assert entry.resolve({**sizes, "network": "LAN"})["topk"] == "merge"
    assert entry.resolve({**sizes, "network": "WAN", "topk": "bitonic"})["topk"] == "bitonic"
    assert entry.resolve(sizes)["topk"] == "auto"
    assert registry.get("topk").resolve({"rows": 64, "length": 768, "t": 12, "network": "400,40"})["method"] == "rank"


@pytest.mark.parametrize("bad", [{"network": "fast"}, {"network": "0,10"}, {"network": "100"}, {"topk": "quick"},
                                 {"network": "WAN", "capacity": 0}])
def test_bad_top_t_parameters_are_refused_by_name(bad):
    with pytest.raises(PublicParameterError):
        registry.get("cryptomoe.dispatch").resolve(bad)


def test_costs_network_flag(capsys):
    code = main(["costs", "cryptomoe.dispatch", "--backend", "cheetah", "--network", "WAN", "--json", "--set",
                 "tokens=128", "experts=64", "top_k=6", "hidden=2048", "capacity_factor=1"])
    obj = json.loads(capsys.readouterr().out)
    assert code == 0 and obj["params"]["topk"] == "rank"
    steps = {s["step"]: s for s in obj["steps"]}
    assert steps["topk/top"]["rounds"] == cheetah.topk_auto(64, 768, 12, "rank").rounds


def test_costs_network_flag_is_refused_where_there_is_no_top_t(capsys):
    assert main(["costs", "cryptomoe.combine", "--network", "WAN"]) != 0
    assert "no top-t" in capsys.readouterr().err


def test_the_dispatch_with_rank_equals_its_spec_and_model():
    entry = registry.get("cryptomoe.dispatch")
    params = entry.resolve({"tokens": 6, "hidden": 2, "experts": 3, "top_k": 2, "capacity": 3, "topk": "rank"})
    x = torch.arange(12, dtype=torch.float64).reshape(6, 2) / 4
    K = torch.tensor([[0, 1], [0, 2], [0, 1], [1, 2], [0, 2], [0, 1]])
    W = torch.tensor([[0.5, 0.5], [0.75, 0.25], [0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [0.25, 0.75]])  # ties
    ex = harness.run_example(entry, params, {"x": x, "K": K, "W": W})
    assert ex.equivalence == [] and ex.cost == [], (ex.equivalence, ex.cost)


@pytest.mark.parametrize("name,params", [("topk", {"rows": 2, "length": 40, "t": 3, "method": "rank"}),
                                         ("cryptomoe.dispatch", {"topk": "rank"})])
def test_rank_passes_the_security_checks(name, params):
    entry = registry.get(name)
    results = harness.security_results(entry, runs=4, seed=0, params=entry.resolve(params))
    assert results and all(r.passed for r in results), [(r.check, r.failures) for r in results if not r.passed]


# -- the gate's top-k with one-hots: one level of ranking over the E logits ---------------------------------
def test_the_gate_by_rank_equals_its_spec_and_model_with_tied_logits():
    entry = registry.get("gate")
    params = entry.resolve({"tokens": 3, "hidden": 2, "experts": 5, "top_k": 3, "topk": "rank"})
    x = torch.tensor([[0.5, 0.5], [1.0, 0.0], [0.0, 0.0]])
    w_g = torch.tensor([[0.5, 0.5, 0.25, 0.5, -0.5], [0.5, 0.5, 0.25, 0.5, 0.25]])   # tied experts 0, 1, 3
    ex = harness.run_example(entry, params, {"x": x, "w_g": w_g})
    assert ex.equivalence == [] and ex.cost == [], (ex.equivalence, ex.cost)
    K, _ = harness.run_real(entry, params, {"x": x, "w_g": w_g}).outputs
    assert K[2].tolist() == [0, 1, 2]                                                # all logits 0: lowest indices


def test_the_gate_rule_and_its_costs():
    from analysis.cost_models.sorting import pick_onehot_method, topk_onehots
    from protocols.mpc.topk import choose_onehot_method, onehot_work

    lt, eq = crypten.less_than_zero(1), crypten.equal_zero(1)
    c = topk_onehots(crypten, 1, 64, 6, "rank")
    assert c.rounds == lt.rounds + eq.rounds + 1
    pairs, eqs = 64 * 63 // 2, 64 * 6                       # every pair of the E = 64 logits; each rank vs 0..5
    assert c.offline_bytes == pairs * lt.offline_bytes + eqs * eq.offline_bytes + 8 * eqs
    assert onehot_work(64, 6, "rank") == (pairs + eqs, 2)
    for cfg in MODELS.values():
        E, k = cfg["experts"], cfg["top_k"]
        assert choose_onehot_method(E, k) == "tournament"                           # fewest comparisons
        assert pick_onehot_method(cheetah, TOKENS, E, k, WAN) == "rank"
        rank, tour = (cheetah.gate(TOKENS, 2048, E, k, m) for m in ("rank", "tournament"))
        assert 10 * dict(rank.steps)["topk"].rounds < dict(tour.steps)["topk"].rounds


def test_the_layers_resolve_both_top_t_on_a_network():
    sizes = {"tokens": 128, "experts": 64, "top_k": 6, "hidden": 2048, "ffn": 1408}
    crypto = registry.get("cryptomoe.moe").resolve({**sizes, "capacity_factor": 1.0, "network": "WAN"})
    assert (crypto["topk"], crypto["gate_topk"]) == ("rank", "rank")
    dense = registry.get("dense.moe").resolve({**sizes, "network": "WAN"})
    assert dense["gate_topk"] == "rank" and registry.get("dense.moe").resolve(dense) == dense
    assert registry.get("dense.moe").resolve({**sizes, "network": "LAN"})["gate_topk"] == "tournament"
    for name in ("cipherprune.moe", "secmoe.moe", "reshared.moe"):
        assert registry.get(name).resolve({**sizes, "network": "WAN"})["gate_topk"] == "rank", name
    with pytest.raises(PublicParameterError):
        registry.get("dense.moe").resolve({"gate_topk": "merge"})            # no one-hots from the merge


@pytest.mark.parametrize("name,params", [
    ("cryptomoe.moe", {"tokens": 4, "hidden": 2, "ffn": 2, "experts": 3, "top_k": 2, "capacity": 3,
                       "topk": "rank", "gate_topk": "rank"}),
    ("dense.moe", {"tokens": 3, "hidden": 2, "ffn": 2, "experts": 3, "top_k": 2, "gate_topk": "rank"}),
    ("cipherprune.moe", {"tokens": 3, "hidden": 2, "ffn": 2, "experts": 3, "top_k": 1, "capacity": 2,
                         "gate_topk": "rank"}),
    ("secmoe.moe", {"tokens": 2, "hidden": 2, "ffn": 2, "experts": 3, "top_k": 2, "he_backend": "sim",
                    "gate_topk": "rank"}),
    ("reshared.moe", {"tokens": 2, "hidden": 2, "ffn": 2, "experts": 3, "top_k": 2, "he_backend": "sim",
                      "gate_topk": "rank"})])
def test_the_layers_with_both_top_t_by_rank_equal_their_spec_and_model(name, params):
    from analysis.strategies import draw_example_inputs

    entry = registry.get(name)
    p = entry.resolve(params)
    ex = harness.run_example(entry, p, draw_example_inputs(entry, p, 0))
    assert ex.equivalence == [] and ex.cost == [], (ex.equivalence, ex.cost)


def test_the_gate_by_rank_passes_the_security_checks():
    entry = registry.get("gate")
    results = harness.security_results(entry, runs=4, seed=0, params=entry.resolve({"experts": 6, "top_k": 2,
                                                                                      "topk": "rank"}))
    assert results and all(r.passed for r in results), [(r.check, r.failures) for r in results if not r.passed]


def test_the_docs_plan_table_is_what_the_rule_and_the_model_give():
    """docs/protocols/topk.md's table of plans: each row's plan, work and rounds recomputed."""
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "docs" / "protocols" / "topk.md").read_text()
    rows = re.findall(r"^\| \((\d+), (\d+)\)[^|]*\| ([\d, ]+) \| ([\d,]+) \| (\d+) \|$", text, re.M)
    assert len(rows) == 3
    for length, t, plan, work, rounds in rows:
        length, t = int(length), int(t)
        assert rank_plan(length, t) == tuple(int(g) for g in plan.split(","))
        assert rank_work(length, t, rank_plan(length, t)) == int(work.replace(",", ""))
        assert crypten.topk_core(1, length, t, "rank").rounds == int(rounds)
