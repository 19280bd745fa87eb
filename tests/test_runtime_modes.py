"""Thread and process modes: identical shares (bit for bit) and identical Meter counts; seeds; failures."""
import time

import pytest
import torch

from analysis import harness, registry, runs
from functionalities.errors import PeerError, PublicParameterError
from protocols.runtime import run_two_party


def _example(name):
    entry = registry.get(name)
    params = entry.resolve({"rows": 2, "length": 5, "t": 2})
    x = torch.tensor([[1.5, -2.0, 1.5, 0.0, 7.25], [0.0, 0.0, 0.0, 0.0, 0.0]])
    inputs = {"x": x}
    return entry, params, inputs


def _raw_shares(name, params, inputs, mode, seed):
    entry = registry.get(name)
    owners = {s.name: s.owner for s in entry.input_specs(params)}
    own = [{k: v for k, v in inputs.items() if owners[k] == r} for r in (0, 1)]
    return run_two_party(runs.party_fn, ((name, params, own[0]), (name, params, own[1])), mode=mode, seed=seed)


@pytest.mark.process
def test_threads_and_processes_agree_bit_for_bit():
    entry, params, inputs = _example("topk")
    a = _raw_shares("topk", params, inputs, "threads", seed=7)
    b = _raw_shares("topk", params, inputs, "processes", seed=7)
    for pa, pb in zip(a.outputs, b.outputs):
        for ha, hb in zip(pa, pb):
            assert torch.equal(ha.share, hb.share)
    assert a.meter.summary().equals(b.meter.summary())
    assert a.meter.signature() == b.meter.signature()


def test_same_seed_same_shares_other_seed_other_shares():
    entry, params, inputs = _example("topk")
    a = _raw_shares("topk", params, inputs, "threads", seed=1)
    b = _raw_shares("topk", params, inputs, "threads", seed=1)
    c = _raw_shares("topk", params, inputs, "threads", seed=2)
    assert torch.equal(a.outputs[1][0].share, b.outputs[1][0].share)
    assert not torch.equal(a.outputs[1][0].share, c.outputs[1][0].share)


def test_bad_public_parameter_fails_fast_in_both_modes():
    entry, params, inputs = _example("topk")
    for mode in ("threads", "processes"):
        start = time.monotonic()
        with pytest.raises(PublicParameterError):
            harness.run_real(entry, {**params, "t": params["length"] + 1}, inputs, mode=mode, timeout=20)
        assert time.monotonic() - start < 60


def test_a_peer_that_dies_ends_the_run_with_an_error():
    def fn(party, _):
        if party.rank == 1:
            raise SystemExit(3)   # the server vanishes before answering
        return party.communicator.exchange(torch.zeros(1, dtype=torch.long))
    with pytest.raises((PeerError, SystemExit)):
        run_two_party(fn, (None, None), timeout=5)


@pytest.mark.process
def test_a_killed_process_ends_the_run_within_the_timeout():
    start = time.monotonic()
    with pytest.raises(PeerError):
        run_two_party(_die_in_server, (None, None), mode="processes", timeout=10)
    assert time.monotonic() - start < 75


def _die_in_server(party, _):
    import os
    if party.rank == 1:
        os._exit(9)
    return party.communicator.exchange(torch.zeros(1, dtype=torch.long))


def test_silent_peer_times_out_instead_of_hanging():
    def fn(party, _):
        if party.rank == 0:
            return party.communicator.recv_tensor()
        time.sleep(3)
    start = time.monotonic()
    with pytest.raises(PeerError, match="within"):
        run_two_party(fn, (None, None), timeout=1)
    assert time.monotonic() - start < 10
