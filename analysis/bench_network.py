"""Benchmark (not a test): does the network model predict the time of a real run on an emulated link?

    python -m analysis.bench_network [--network 100,20]      (Mbps, RTT ms; also LAN / WAN)

Each protocol runs twice on the thread runtime with the same seed: once on the plain transport (its wall
time is the compute) and once with every frame delayed by the emulated link (``ThreadMailboxes(link)``:
per-direction serialisation at the bandwidth, RTT/2 propagation). The model's prediction is
``rounds x RTT + bytes of the busier direction / bandwidth + compute`` (simulators/network.py: no
overlap of communication and compute, no slow start). Printed: measured, predicted, their ratio.
"""
from __future__ import annotations

import argparse
import pandas as pd

from analysis import harness, registry, runs
from analysis.report import draw_example_inputs
from protocols.runtime import run_two_party
from simulators.network import Network, latency

CASES = [("equal", {"n": 64}), ("topk", {"rows": 4, "length": 16, "t": 2}),
         ("gate", {"tokens": 8, "hidden": 4, "experts": 8, "top_k": 2}),
         ("cryptomoe.dispatch", {"tokens": 8, "hidden": 8, "experts": 4, "top_k": 2, "capacity": 4})]


def _wall(entry, params, inputs, link) -> float:
    owners = {s.name: s.owner for s in entry.input_specs(params)}
    own = [{k: v for k, v in inputs.items() if owners[k] == r} for r in (0, 1)]
    res = run_two_party(runs.party_fn, ((entry.name, params, own[0]), (entry.name, params, own[1])),
                        link=link, timeout=600)
    return res.wall_time          # the protocol only: set-up (seed exchange) excluded, as in the model


def run(network: Network) -> pd.DataFrame:
    rows = []
    for name, sets in CASES:
        e = registry.get(name)
        p = e.resolve(sets)
        inputs = draw_example_inputs(e, p, 0)
        _wall(e, p, inputs, None)                                   # warm-up (imports, caches)
        compute = min(_wall(e, p, inputs, None) for _ in range(3))
        measured = _wall(e, p, inputs, (network.bandwidth_bps, network.rtt_s))
        cost = e.cost("crypten", p)
        predicted = latency(cost, network, compute_s=compute)
        rows.append({"protocol": name, "rounds": cost.rounds, "bytes_each_way": cost.bytes_client_to_server,
                     "compute_s": compute, "measured_s": measured, "predicted_s": predicted,
                     "measured/predicted": measured / predicted})
    return pd.DataFrame(rows)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.bench_network", description=__doc__.splitlines()[0])
    ap.add_argument("--network", default="100,20", help="LAN, WAN or BW_Mbps,RTT_ms")
    net = Network.parse(ap.parse_args(argv).network)
    print(f"emulated link: {net.bandwidth_bps / 1e6:g} Mbps, RTT {net.rtt_s * 1e3:g} ms")
    print(run(net).to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
