"""The Meter on hand-made message patterns, with rounds and bytes worked out by hand."""
import pytest
import torch

from protocols.runtime import run_two_party, step
from protocols.runtime.meter import NO_STEP, PartyMeter, Meter


def _comm(party):
    return party.communicator


def test_simultaneous_exchange_is_one_round():
    def fn(party, _):
        with step("swap"):
            _comm(party).exchange(torch.zeros(3, dtype=torch.long))
    r = run_two_party(fn, (None, None))
    t = r.meter.totals("swap")
    assert t == dict(rounds=1, bytes_client_to_server=24, bytes_server_to_client=24, bytes=48,
                     offline_bytes=0, key_bytes=0, messages=2)


def test_ping_pong_is_two_rounds_and_same_direction_burst_is_one():
    def fn(party, _):
        c = _comm(party)
        with step("pingpong"):
            if party.rank == 0:
                c.send_tensor(torch.zeros(1, dtype=torch.long))
                c.recv_tensor()
            else:
                c.recv_tensor()
                c.send_tensor(torch.zeros(2, dtype=torch.long))
        with step("burst"):       # client sends three messages without waiting: one round
            if party.rank == 0:
                for _ in range(3):
                    c.send_tensor(torch.zeros(4, dtype=torch.long))
            else:
                for _ in range(3):
                    c.recv_tensor()
    m = run_two_party(fn, (None, None)).meter
    assert m.totals("pingpong")["rounds"] == 2
    assert m.totals("pingpong")["bytes_client_to_server"] == 8
    assert m.totals("pingpong")["bytes_server_to_client"] == 16
    assert m.totals("burst")["rounds"] == 1 and m.totals("burst")["bytes_client_to_server"] == 96
    assert m.rounds == 3


def test_nested_steps_add_up_and_parent_includes_children():
    def fn(party, _):
        c = _comm(party)
        with step("outer"):
            with step("a"):
                c.exchange(torch.zeros(1, dtype=torch.long))
            with step("b"):
                c.exchange(torch.zeros(2, dtype=torch.long))
                c.exchange(torch.zeros(2, dtype=torch.long))
    m = run_two_party(fn, (None, None)).meter
    assert m.totals("outer/a")["rounds"] == 1 and m.totals("outer/b")["rounds"] == 2
    assert m.totals("outer")["rounds"] == 3 == m.rounds
    assert m.totals("outer")["bytes"] == m.totals("outer/a")["bytes"] + m.totals("outer/b")["bytes"] == 80
    tidy = m.table()
    assert set(tidy.columns) == {"step", "phase", "direction", "rounds", "bytes", "messages"}
    assert int(tidy[(tidy.step == "outer") & (tidy.phase == "online")].bytes.sum()) == 80


def test_dealer_traffic_is_offline_and_moves_no_clock():
    pm = PartyMeter("server")
    pm.on_send("server", 800, "offline", sender="dealer")
    with pm.step("x"):
        assert pm.on_send("client", 8) == 1
    # the parties labelled different step sequences -> the merge refuses (protocols are SPMD)
    with pytest.raises(RuntimeError, match="SPMD"):
        Meter([PartyMeter("client"), pm])
    pm2 = PartyMeter("client")
    with pm2.step("x"):
        pm2.on_recv("server", 8, 1)
    m = Meter([pm2, pm])
    assert m.totals()["offline_bytes"] == 800 and m.rounds == 1
    assert m.totals("x")["rounds"] == 1


def test_unlabelled_messages_are_kept():
    def fn(party, _):
        _comm(party).exchange(torch.zeros(1, dtype=torch.long))
    m = run_two_party(fn, (None, None)).meter
    assert NO_STEP in m.step_paths() and m.totals(NO_STEP)["bytes"] == 16


def test_signature_is_deterministic_across_runs():
    def fn(party, _):
        c = _comm(party)
        with step("s"):
            for n in (1, 2, 3):
                c.exchange(torch.zeros(n, dtype=torch.long))
    sigs = {run_two_party(fn, (None, None), seed=s).meter.signature() for s in range(3)}
    assert len(sigs) == 1
