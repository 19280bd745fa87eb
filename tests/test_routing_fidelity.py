"""analysis/routing.py: routing fidelity of CryptoMoE's balanced routing, and the routing properties it rests on."""
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import routing as rf
from functionalities.fixed_point import ULP, quantize
from functionalities.moe import moe_given_routing
from functionalities.routing import balanced_routing


@st.composite
def routings(draw):
    """Small (K, W, E, t, seed): k distinct experts per token, W on a coarse grid in (0, 1] (many ties)."""
    experts = draw(st.integers(1, 6))
    top_k = draw(st.integers(1, experts))
    tokens = draw(st.integers(1, 10))
    capacity = draw(st.integers(1, top_k * tokens))
    rows = [draw(st.permutations(range(experts)))[:top_k] for _ in range(tokens)]
    grid = draw(st.integers(1, 8))        # W in {1/grid, ..., 1}: coarse grids force ties
    W = [[draw(st.integers(1, grid)) / grid for _ in range(top_k)] for _ in range(tokens)]
    seed = draw(st.integers(0, 2**16))
    return torch.tensor(rows, dtype=torch.int64), torch.tensor(W, dtype=torch.float64), experts, capacity, seed


def _routed_loads(K, experts):
    return torch.bincount(K.reshape(-1), minlength=experts)


@settings(max_examples=300)
@given(routings())
def test_confidence_drops_as_many_and_no_more_mass_than_random(case):
    K, W, experts, capacity, seed = case
    n = _routed_loads(K, experts)
    stats = {}
    for sel in ("confidence", "random"):
        r = balanced_routing(K, W, experts, capacity, sel, seed)
        k_flat = K.reshape(-1)
        for e in range(experts):
            kept = r.J[e][r.routed[e]]
            assert int(r.routed[e].sum()) == min(int(n[e]), capacity), (sel, e)
            assert bool((k_flat[kept] == e).all()), (sel, e)           # kept candidates really are e's
            assert bool((r.S[e][~r.routed[e]] == 0).all()), (sel, e)  # padding contributes 0
        stats[sel] = rf.drop_stats(K, W, r)
        assert stats[sel]["dropped_count"] == int((n - capacity).clamp(min=0).sum())
    conf, rand = stats["confidence"], stats["random"]
    assert conf["dropped_count"] <= rand["dropped_count"]
    assert conf["dropped_count"] == rand["dropped_count"]
    assert conf["dropped_mass"] <= rand["dropped_mass"] + 1e-12


@settings(max_examples=100)
@given(routings(), st.sampled_from(["confidence", "random"]))
def test_more_capacity_drops_a_subset(case, selection):
    K, W, experts, capacity, seed = case
    bigger = min(capacity + 1, K.numel())
    small = balanced_routing(K, W, experts, capacity, selection, seed).dropped
    large = balanced_routing(K, W, experts, bigger, selection, seed).dropped
    assert not bool((large & ~small).any())


def test_zero_score_routed_candidate_counts_as_padding():
    """Documented spec (functionalities/routing.py): a routed score that quantises to 0 has priority 0
    like padding, so it may lose to lower-indexed padding and count as dropped -- with weight 0."""
    K = torch.tensor([[0, 1], [0, 1]])
    W = torch.tensor([[0.5, 0.0], [0.5, 0.0]])    # expert 1: two routed candidates of score 0, capacity 2
    r = balanced_routing(K, W, experts=2, capacity=2, selection="confidence")
    assert r.J[1].tolist() == [0, 1]              # the two lowest-index zero-priority candidates
    assert r.dropped.tolist() == [[False, False], [False, True]]
    assert float(r.S[1].abs().sum()) == 0.0


def _small_case(selection, kind="zipf", tokens=24, experts=4, top_k=2, hidden=8, ffn=12, capacity=6, seed=3):
    K, W = rf.route(rf.router_logits(kind, tokens, experts, seed), top_k)
    x, U, V, D = rf.make_layer(tokens, experts, hidden, ffn, seed)
    r = balanced_routing(K, W, experts, capacity, selection, seed)
    assert r.dropped.any()      # the example must actually drop something
    return K, W, x, U, V, D, r, capacity


@pytest.mark.parametrize("selection", ["confidence", "random"])
def test_exact_minus_balanced_is_the_dropped_contributions(selection):
    K, W, x, U, V, D, r, capacity = _small_case(selection)
    outs = rf.expert_outputs(x, U, V, D)
    y_exact, y_bal = rf.exact_output(outs, K, W), rf.balanced_output(outs, r)
    # the analysis's y_exact is the layer's exact semantics
    assert torch.allclose(y_exact, moe_given_routing(x, K, W, U, V, D, "exact").y, rtol=0, atol=1e-12)
    missing = rf.dropped_output(outs, K, W, r.dropped)
    assert (y_exact - y_bal - missing).abs().max() < 1e-9
    assert missing.abs().max() > 1e-3          # the identity is not vacuous


def test_moe_given_routing_balanced_differs_from_exact_by_the_dropped_contributions():
    """On the layer's own outputs. combine() rounds each expert output to the fixed-point grid before
    weighting it, so the identity holds up to ULP/2 per kept assignment, weighted by its score."""
    K, W, x, U, V, D, r, capacity = _small_case("confidence")
    exact = moe_given_routing(x, K, W, U, V, D, "exact")
    bal = moe_given_routing(x, K, W, U, V, D, "balanced", capacity)
    assert torch.equal(bal.dropped, r.dropped)
    missing = rf.dropped_output(rf.expert_outputs(x, U, V, D), K, W, bal.dropped)
    kept_weight = (quantize(W) * ~bal.dropped).sum(1, keepdim=True)
    assert bool(((exact.y - bal.y - missing).abs() <= ULP / 2 * kept_weight + 1e-12).all())
    assert missing.abs().max() > 1e-3


def test_route_ties_go_to_the_lower_expert_and_logits_are_seeded():
    K, W = rf.route(torch.tensor([[1.0, 3.0, 3.0, 3.0]]), 2)
    assert K.tolist() == [[1, 2]]
    assert torch.allclose(W, torch.full((1, 2), torch.e**3 / (torch.e + 3 * torch.e**3), dtype=torch.float64))
    assert torch.equal(rf.router_logits("zipf", 5, 4, 7), rf.router_logits("zipf", 5, 4, 7))
    assert not torch.equal(rf.router_logits("uniform", 5, 4, 7), rf.router_logits("uniform", 5, 4, 8))
    loads = _routed_loads(rf.route(rf.router_logits("zipf", 128, 8, 0), 2)[0], 8)
    assert loads[0] == loads.max() and loads[0] > 2 * loads[-1]


@pytest.mark.parametrize("kind", ["uniform", "zipf"])
@pytest.mark.parametrize("selection", ["confidence", "random"])
def test_more_capacity_drops_less(kind, selection):
    f1 = rf.fidelity(kind, 1.0, selection, seed=0)
    f2 = rf.fidelity(kind, 2.0, selection, seed=0)
    assert f1["dropped_fraction"] > 0
    assert f2["dropped_fraction"] <= f1["dropped_fraction"]
    assert f2["rel_output_error"] <= f1["rel_output_error"]


@pytest.mark.parametrize("seed", range(5))
@pytest.mark.parametrize("selection", ["confidence", "random"])
def test_skewed_router_drops_more(seed, selection):
    zipf = rf.fidelity("zipf", 1.0, selection, seed=seed)["dropped_fraction"]
    uniform = rf.fidelity("uniform", 1.0, selection, seed=seed)["dropped_fraction"]
    assert zipf > uniform + 0.1


def test_fidelity_table_and_plot(tmp_path):
    table = rf.fidelity_table(seed=0)
    assert list(table.columns) == ["kind", "capacity_factor", "selection", "capacity", "metric", "value", "seed"]
    assert len(table) == 2 * 3 * 2 * 3
    assert set(table.metric) == {"dropped_fraction", "dropped_mass", "rel_output_error"}
    assert dict(zip(table.capacity_factor, table.capacity)) == {1.0: 32, 1.5: 48, 2.0: 64}
    assert table.value.notna().all() and (table.value >= 0).all() and (table.seed == 0).all()
    assert not table.duplicated(["kind", "capacity_factor", "selection", "metric"]).any()
    wide = table.pivot_table(index=["kind", "capacity_factor"], columns=["metric", "selection"], values="value")
    assert (wide["dropped_fraction", "confidence"] == wide["dropped_fraction", "random"]).all()
    assert (wide["dropped_mass", "confidence"] <= wide["dropped_mass", "random"] + 1e-12).all()
    out = rf.plot_fidelity(table, tmp_path / "fidelity.png")
    assert out == tmp_path / "fidelity.png"
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_bad_kind_is_rejected():
    with pytest.raises(ValueError):
        rf.router_logits("pareto", 4, 4, 0)
