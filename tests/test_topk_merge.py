"""The bitonic top-t merge (``topk`` method ``merge``, ``primitives.bitonic_top``): the spec's top-t with
ties to the lower index, its exact cost model, and the public rule that picks it at the models' sizes."""
import pytest
import torch

from analysis import harness, registry
from analysis.cost_models import cheetah, crypten
from protocols.mpc.topk import choose_method, network_size


@pytest.mark.parametrize("rows,length,t", [(2, 13, 3), (1, 16, 4), (3, 9, 1), (2, 8, 8), (1, 33, 5)])
def test_merge_equals_the_spec_with_ties_and_its_model(rows, length, t):
    check_on_ties("merge", rows, length, t)


def check_on_ties(method: str, rows: int, length: int, t: int) -> None:
    """``topk`` by ``method`` on a drawn row with many ties: the spec's output and the model's cost."""
    entry = registry.get("topk")
    params = entry.resolve({"rows": rows, "length": length, "t": t, "method": method})
    g = torch.Generator().manual_seed(length * 7 + t)
    x = torch.randint(-3, 4, (rows, length), generator=g).double() / 2       # many ties
    ex = harness.run_example(entry, params, {"x": x})
    assert ex.equivalence == [] and ex.cost == [], (ex.equivalence, ex.cost)


def test_the_model_counts_the_comparisons_the_rule_counts():
    for length, t in ((768, 12), (1024, 16), (512, 8), (20, 3)):
        comparisons, stages = network_size(length, t, "merge")
        c = crypten.topk_core(1, length, t, "merge")
        one = crypten.less_than_zero(1)
        assert c.rounds == stages * (one.rounds + 1)                      # a comparison and a multiplexer
        assert c.offline_bytes >= comparisons * one.offline_bytes


def test_the_rule_picks_merge_at_the_models_sizes_and_it_halves_the_dispatchs_rounds():
    """DeepSeekMoE-16B (k m = 768, t = 12), OLMoE-7B (1024, 16), Qwen-MoE-14B (512, 8), f = 1, 64 or 60
    experts: the merge takes at most half the rounds of what the rule picked before (tournament: fewest
    comparisons of the two) and fewer bytes than either."""
    for E, length, t in ((64, 768, 12), (64, 1024, 16), (60, 512, 8)):
        assert choose_method(length, t) == "merge"
        merge, tour, bit = (cheetah.topk_auto(E, length, t, m) for m in ("merge", "tournament", "bitonic"))
        assert 2 * merge.rounds <= tour.rounds and merge.rounds < bit.rounds
        assert merge.bytes < min(tour.bytes, bit.bytes)
