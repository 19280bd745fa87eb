"""``privmoe run``: one party of a protocol run against a peer on another host (or --selftest: both
here, over loopback sockets). Inputs are drawn from the entry's input domain with the public ``--seed``
(a demonstration: each party uses only its own part; the client can recompute the ideal output to check
the opened one)."""
from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import time

import torch

from analysis import harness, registry, runs
from functionalities.errors import PeerError, PrivMoEError
from protocols.crypten_shim import set_current_party
from protocols.runtime.launch import he_counts
from protocols.runtime.meter import Meter
from protocols.runtime.party import setup_party
from protocols.runtime.remote import handshake, interface_bytes
from protocols.runtime.transport import GlooTransport


def run_party(role: str, host: str, port: int, name: str, sets: dict, seed: int, timeout: float) -> dict:
    """Run ``role``'s side; return the result dict (both sides print the same cost table)."""
    from analysis.strategies import draw_example_inputs
    from protocols.mpc.sharing import reconstruct

    entry = registry.get(name)
    if entry.runner is not None:
        raise PrivMoEError(f"{name} runs in one process (its entry brings its own runner); `privmoe run` runs "
                           "the two-party protocols")
    params = entry.resolve(sets)
    rank = 0 if role == "client" else 1
    init = handshake(role, host, port, {"protocol": name, "params": params, "seed": seed}, timeout)
    inputs = draw_example_inputs(entry, params, seed)
    own = {s.name: inputs[s.name] for s in entry.input_specs(params) if s.owner == rank}
    before = interface_bytes()
    transport = GlooTransport(rank, init, timeout, store_master=(rank == 1))   # the server hosts the store
    try:
        party = setup_party(rank, transport, seed)
        party.mode = "processes"
        stall = os.environ.get("PRIVMOE_TEST_SERVER_STALL")      # tests only: a server that stops answering
        if stall and rank == 1:
            print("privmoe: test stall after set-up", file=sys.stderr, flush=True)   # the test waits for it
            time.sleep(float(stall))
        set_current_party(party)
        start = time.perf_counter()
        out = runs.party_fn(party, (name, params, own))
        wall = time.perf_counter() - start
        if party.he is not None:                      # this party's HE counts travel with its Meter
            party.meter.he = party.he.counts()
        after = interface_bytes()                     # before the control frames below
        comm = party.communicator
        # unmetered control frames: each side's meter, and the server's output shares to the client
        mine = torch.frombuffer(bytearray(pickle.dumps(party.meter)), dtype=torch.uint8)
        theirs = _swap(comm, mine)
        meter = Meter([party.meter, pickle.loads(theirs.numpy().tobytes())] if rank == 0 else
                      [pickle.loads(theirs.numpy().tobytes()), party.meter])
        result = {"party": role, "protocol": name, "params": params, "seed": seed, "wall_s": wall,
                  "steps": meter.summary().to_dict(orient="records"),
                  "payload_bytes": harness.measured(meter)["bytes"]}
        counts = he_counts(*meter.parties.values())
        if counts is not None:                        # both parties' HE operations (the op list left out)
            result["he_counts"] = {k: v for k, v in counts.items() if k != "ops"}
        if rank == 1:
            _send_control(comm, torch.frombuffer(bytearray(pickle.dumps(out)), dtype=torch.uint8))
        else:
            server_out = pickle.loads(_recv_control(comm).numpy().tobytes())
            real = reconstruct(out, server_out)
            problems = entry.check(entry.ideal(params, inputs), real, params, inputs)
            result["output_check"] = "ok" if not problems else problems
        if before >= 0 and after >= 0:
            result["interface_bytes"] = after - before
        return result
    finally:
        set_current_party(None)
        transport.close()


def _control_frame(comm, tensor):
    import torch as _t

    header = _t.tensor([0, 3, tensor.numel(), 1], dtype=_t.int64)   # phase 3 = control: not metered
    return header, tensor


def _send_control(comm, tensor) -> None:
    comm.transport.send(comm.other, *_control_frame(comm, tensor))


def _recv_control(comm):
    _, payload = comm.transport.recv(comm.other)
    return payload


def _swap(comm, tensor):
    if comm.rank == 0:
        _send_control(comm, tensor)
        return _recv_control(comm)
    theirs = _recv_control(comm)
    _send_control(comm, tensor)
    return theirs


def render(result: dict) -> str:
    import pandas as pd

    lines = [f"privmoe run: {result['protocol']} as the {result['party']} (seed {result['seed']}), "
             f"{result['wall_s']:.2f} s", pd.DataFrame(result["steps"]).to_string(index=False)]
    lines.append(f"payload bytes (Meter, both directions): {result['payload_bytes']}")
    if "interface_bytes" in result:
        lines.append(f"bytes on this host's interfaces during the run: {result['interface_bytes']} (all traffic; "
                     "the difference is framing -- TCP/IP and gloo headers, privmoe's 32-byte frame headers -- plus "
                     "the set-up (seeds, dealer) and whatever else used the interfaces meanwhile)")
    if "output_check" in result:
        lines.append(f"output check against the ideal functionality: {result['output_check']}")
    return "\n".join(lines)


#: what ``privmoe run --selftest`` runs without a name: an MPC protocol, an HE matmul and the hybrid layer
SELFTEST = ("topk", "cryptomoe.matmul", "secmoe.moe")


def selftest(name: str | None = None, seed: int = 0, timeout: float = 60.0) -> int:
    """Both parties as subprocesses on loopback, for ``name`` (default: each of ``SELFTEST``): exit 0 iff
    every run finishes on both sides, the sides agree and the output check passes."""
    if name is None:
        return max(selftest(n, seed, timeout) for n in SELFTEST)
    from protocols.runtime.launch import free_port

    port = free_port()
    cmd = [sys.executable, "-m", "analysis.cli", "run", "--peer", f"127.0.0.1:{port}", name, "--seed", str(seed),
           "--timeout", str(timeout), "--json"]
    server = subprocess.Popen(cmd + ["--party", "server"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = subprocess.Popen(cmd + ["--party", "client"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    outs = [p.communicate(timeout=timeout + 120) for p in (client, server)]
    ok = client.returncode == 0 and server.returncode == 0
    for role, (out, err), proc in zip(("client", "server"), outs, (client, server)):
        print(f"--- {role} (exit {proc.returncode})")
        print(render(json.loads(out)) if proc.returncode == 0 else err.strip().splitlines()[-1])
    if ok:
        c, s = (json.loads(o) for o, _ in outs)
        ok = c["steps"] == s["steps"] and c.get("output_check") == "ok"
        print("selftest:", "both sides agree and the output checks" if ok else "MISMATCH")
    return 0 if ok else 1
