"""`privmoe run`: client and server as separate processes over TCP (loopback here), and every failure
mode ending with a clear error, never a hang."""
import json
import subprocess
import sys
import time

import pytest

from analysis import harness, registry
from analysis.strategies import draw_example_inputs
from protocols.runtime import free_port
from protocols.runtime.remote import VERSION, _mismatch

pytestmark = pytest.mark.process


def _cmd(role, port, name, *extra):
    return [sys.executable, "-m", "analysis.cli", "run", "--party", role, "--peer", f"127.0.0.1:{port}", name,
            "--json", *extra]


def _pair(name, server_extra=(), client_extra=(), timeout=60):
    port = free_port()
    server = subprocess.Popen(_cmd("server", port, name, *server_extra), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    client = subprocess.Popen(_cmd("client", port, name, *client_extra), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)
    c, s = client.communicate(timeout=timeout + 60), server.communicate(timeout=timeout + 60)
    return (client.returncode, *c), (server.returncode, *s)


@pytest.mark.parametrize("name,sets", [("topk", {"rows": 2, "length": 6, "t": 2}), ("he.lift", {"n": 6}),
                                       ("cryptomoe.matmul", {"experts": 2, "capacity": 3}),
                                       ("nexus.matmul", {"pack": 4}), ("secmoe.moe", {"tokens": 3}),
                                       ("cryptomoe.moe", {"linear": "he", "tokens": 3, "experts": 2})])
def test_two_processes_give_the_thread_runtimes_counts_and_a_checked_output(name, sets):
    args = ["--set", *[f"{k}={v}" for k, v in sets.items()], "--seed", "3"]
    (cr, cout, cerr), (sr, sout, serr) = _pair(name, args, args)
    assert cr == 0 and sr == 0, (cerr, serr)
    client, server = json.loads(cout), json.loads(sout)
    assert client["output_check"] == "ok"
    assert client["steps"] == server["steps"]
    entry = registry.get(name)
    params = entry.resolve(sets)
    local = harness.run_real(entry, params, draw_example_inputs(entry, params, 3), seed=3)
    total = next(r for r in client["steps"] if r["step"] == "total")
    want = local.meter.totals()
    assert {k: total[k] for k in want} == want
    if local.counts is not None:                     # HE: the same operations as the thread runtime
        want_he = {k: v for k, v in local.counts.items() if k not in ("ops", "noise_budget")}
        assert {k: client["he_counts"][k] for k in want_he} == want_he == \
            {k: server["he_counts"][k] for k in want_he}


def test_unreachable_peer_fails_within_the_timeout():
    start = time.monotonic()
    r = subprocess.run(_cmd("client", free_port(), "equal", "--timeout", "3"), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode != 0 and "could not reach a server" in r.stderr
    assert time.monotonic() - start < 30


def test_two_servers_on_one_port():
    port = free_port()
    first = subprocess.Popen(_cmd("server", port, "equal", "--timeout", "20"), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    time.sleep(3)
    second = subprocess.run(_cmd("server", port, "equal", "--timeout", "5"), capture_output=True, text=True,
                            timeout=60)
    first.kill()
    first.communicate()
    assert second.returncode != 0 and "claims the server role" in second.stderr


def test_mismatched_public_parameters_are_refused_before_any_secret():
    (cr, _, cerr), (sr, _, serr) = _pair("equal", ("--set", "n=4"), ("--set", "n=5"), timeout=20)
    assert cr != 0 and sr != 0
    assert "params differs" in cerr + serr


def test_handshake_names_role_and_version_mismatches():
    mine = {"role": "client", "version": VERSION, "protocol": "equal", "seed": 0, "params": {"n": 4}}
    assert "both parties claim to be the client" in _mismatch(mine, {**mine})
    assert "version differs" in _mismatch(mine, {**mine, "role": "server", "version": "privmoe-0.0"})


def test_a_peer_killed_mid_protocol_ends_the_run_with_an_error():
    import os

    port = free_port()
    sets = ["--timeout", "10"]
    env = {**os.environ, "PRIVMOE_TEST_SERVER_STALL": "60"}    # the server stalls right after set-up
    server = subprocess.Popen(_cmd("server", port, "topk", *sets), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True, env=env)
    client = subprocess.Popen(_cmd("client", port, "topk", *sets), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                              text=True)
    # wait until the server says set-up is done (the client then waits on it): under load, starting two
    # Python processes with torch can take longer than any fixed sleep
    import select

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([server.stderr], [], [], 1.0)
        if ready and "test stall" in server.stderr.readline():
            break
    else:
        raise AssertionError("the server never reached its stall point")
    time.sleep(1)
    server.kill()
    start = time.monotonic()
    _, err = client.communicate(timeout=90)
    assert client.returncode != 0
    assert "peer" in err.lower() or "lost" in err.lower() or "party" in err.lower()
    assert time.monotonic() - start < 60
    server.communicate()


def test_wrong_seed_format():
    r = subprocess.run(_cmd("client", free_port(), "equal", "--seed", "abc"), capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 2 and "--seed must be a non-negative integer" in r.stderr


def test_selftest():
    r = subprocess.run([sys.executable, "-m", "analysis.cli", "run", "--selftest", "equal"], capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 0 and "both sides agree" in r.stdout


@pytest.mark.slow
def test_selftest_default_covers_an_he_matmul_and_secmoe():
    r = subprocess.run([sys.executable, "-m", "analysis.cli", "run", "--selftest"], capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0 and r.stdout.count("both sides agree") == 3, r.stdout + r.stderr
