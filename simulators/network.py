"""LAN/WAN latency from rounds and bytes (networks: ``docs/accounting.md``), per step.

    latency = rounds * RTT / 2 + bytes_per_direction / bandwidth + compute

A privmoe round (``docs/accounting.md``) is one-way: both parties send what they have, then wait for the
other's message, which arrives after the one-way delay RTT/2 (a request and its answer are 2 rounds =
one RTT). Charging a full RTT per round would double-count; ``python -m analysis.bench_network``
measures runs on an emulated link against this formula (ratios near 1).

Assumptions, stated: the two directions share nothing (full duplex; the busier direction counts); no
overlap of communication and computation between rounds; no TCP slow start; ``compute`` is given by the
caller (measured wall time of a real run, or 0 for a pure network estimate). LAN = 3 Gbps / 0.2 ms RTT,
WAN = 400 Mbps / 40 ms RTT, or any ``Network(bandwidth_bps, rtt_s)``.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Network:
    bandwidth_bps: float
    rtt_s: float
    name: str = "custom"

    @staticmethod
    def parse(text: str) -> "Network":
        """``"LAN"``, ``"WAN"`` or ``"BW,RTT"`` with BW in Mbps and RTT in ms (e.g. ``"1000,10"``)."""
        if text.upper() in NETWORKS:
            return NETWORKS[text.upper()]
        bw, rtt = (float(v) for v in text.split(","))
        return Network(bw * 1e6, rtt / 1e3, f"{bw:g}Mbps/{rtt:g}ms")


LAN = Network(3e9, 0.2e-3, "LAN")
WAN = Network(400e6, 40e-3, "WAN")
NETWORKS = {"LAN": LAN, "WAN": WAN}


def latency(cost, network: Network, compute_s: float = 0.0) -> float:
    """Seconds for a ``Cost`` (rounds, bytes each way) on ``network`` (module docstring)."""
    busiest = max(cost.bytes_client_to_server, cost.bytes_server_to_client)
    return cost.rounds * network.rtt_s / 2 + 8 * busiest / network.bandwidth_bps + compute_s
