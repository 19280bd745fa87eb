"""Piecewise activations: the stated accuracy of the fits, and the cost comparison's direction."""
import math

import pytest
import torch

from analysis.comparisons import activation_comparison, secmoe_comparison
from functionalities.activation import FUNCTIONS, STATED_MAX_ERROR, activation, fit
from simulators.network import LAN, WAN, Network, latency
from analysis.cost_models.cost import Cost


@pytest.mark.parametrize("name", sorted(FUNCTIONS))
def test_fit_is_within_the_stated_error(name):
    f, lo, hi, _ = FUNCTIONS[name]
    xs = torch.linspace(-20, 20, 80001, dtype=torch.float64)
    err = (activation(xs.clamp(-64, 64), name) - f(xs)).abs()
    assert float(err.max()) <= STATED_MAX_ERROR[name]
    assert float(err[(xs >= lo) & (xs <= hi)].mean()) < STATED_MAX_ERROR[name] / 5


def test_outer_segments_are_exact():
    x = torch.tensor([-50.0, -9.0, 9.0, 50.0])
    assert activation(x, "silu").tolist() == [0.0, 0.0, 9.0, 50.0]
    assert len(fit("silu").breakpoints) == 13


def test_select_then_compute_moves_fewer_bytes_in_the_same_rounds():
    t = activation_comparison(n=1000).set_index(["protocol", "function"])
    for fn in ("silu", "gelu"):
        sel, base = t.loc[("secmoe.activation", fn)], t.loc[("piecewise.activation", fn)]
        assert sel.rounds == base.rounds and sel.bytes < base.bytes


def test_network_model_is_the_stated_formula():
    c = Cost(rounds=10, bytes_client_to_server=3_000_000, bytes_server_to_client=1_000)
    # a round is one-way (both parties send, then wait): RTT / 2 each
    assert math.isclose(latency(c, LAN), 10 * 0.2e-3 / 2 + 8 * 3e6 / 3e9)
    assert math.isclose(latency(c, WAN, compute_s=1.5), 10 * 40e-3 / 2 + 8 * 3e6 / 400e6 + 1.5)
    assert Network.parse("1000,10") == Network(1e9, 0.01, "1000Mbps/10ms")


def test_secmoe_comparison_table():
    t = secmoe_comparison(experts=(8, 64))
    assert set(t.protocol) == {"dense", "CryptoMoE f=1", "CryptoMoE f=2", "SecMoE", "SecMoE re-shared (baseline)"}
    by = t.set_index(["experts", "protocol"])
    # SecMoE's communication hardly grows with E (only the selection bits); dense grows with E
    assert by.loc[(64, "SecMoE"), "bytes"] < 1.2 * by.loc[(8, "SecMoE"), "bytes"]
    # keeping the selected weights encrypted is what saves: the re-shared baseline moves every weight
    assert by.loc[(64, "SecMoE re-shared (baseline)"), "bytes"] > 50 * by.loc[(64, "SecMoE"), "bytes"]
    assert by.loc[(64, "dense"), "bytes"] > 4 * by.loc[(8, "dense"), "bytes"]
    assert (t.wan_s > t.lan_s).all()
