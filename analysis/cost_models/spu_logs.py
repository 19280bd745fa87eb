"""The CryptoMoE authors' own SPU logs, as data: what their published communication was measured from.

Zhou, Xu, Hong, Wu and Li (CryptoMoE, NeurIPS 2025) published, beside their benchmark script
(``output/flax_moe.py``), the SPU logs of their runs (github.com/Tianshi-Xu/CryptoMOE, ``output/*.txt``).
``analysis/data/cryptomoe_spu_logs.json`` is privmoe's transcription of the part we use:

* ``runs``: the fifteen runs behind Table 2 of the paper (per model: CryptoMoE with GeLU at f = 1, 1.5,
  2; the dense baseline; the insecure baseline), each with the public parameters, the rank-0 "Link
  details" (bytes sent and received; their sum is the traffic of both parties), and the bytes (sent +
  received) of every HLO op of the run's profile;
* ``dot_calls``: every distinct matmul call the logs print (``cheetah_dot``: shape, the partition SPU
  chose, the response packing, MiB received as queries and sent as answers) with the most common sizes.

Table 2's "communication per token" is a run's total traffic over its 128 tokens in MB (10^6 bytes):
``(send + recv) / 128 / 1e6`` reproduces every published cell we have a log for within 4%
(``tests/test_published.py``).
"""
from __future__ import annotations

import json
import math
from functools import lru_cache
from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data" / "cryptomoe_spu_logs.json"
TOPK_OP = "pphlo.custom_call: mhlo.topk"


@lru_cache(maxsize=1)
def load() -> dict:
    """The digest (module docstring)."""
    with DATA.open() as f:
        return json.load(f)


def runs(model: str | None = None, layer: str | None = None) -> list[dict]:
    """The profiled runs, optionally of one model (e.g. "OLMoE-7B") and layer ("cryptomoe", "dense",
    "insecure")."""
    return [r for r in load()["runs"] if (model is None or r["model"] == model) and (layer is None or r["layer"] == layer)]


def dot_calls() -> list[dict]:
    """Every distinct matmul call of the logs (module docstring)."""
    return list(load()["dot_calls"])


def traffic_bytes(run: dict) -> int:
    """Both parties' traffic of a run: rank 0's bytes sent plus bytes received."""
    return run["send_bytes"] + run["recv_bytes"]


def mb_per_token(run: dict) -> float:
    """Table 2's unit: traffic over the run's tokens, in MB = 10^6 bytes."""
    return traffic_bytes(run) / run["params"]["tokens"] / 1e6


def topk_units(rows: int, cols: int) -> float:
    """The size a sort-based top-k pays for: rows x cols x log2(cols)."""
    return rows * cols * math.log2(cols) if cols > 1 else 0.0


def topk_points() -> list[tuple[str, float, int]]:
    """(label, units, bytes) of every profiled top-k line: the gate's top-k over m x E, plus, in a
    CryptoMoE run (two top-k calls in one line), the dispatch's top-t over E rows of k m candidates."""
    out = []
    for r in runs():
        p = r["params"]
        units = topk_units(p["tokens"], p["experts"])
        if r["layer"] == "cryptomoe":
            units += topk_units(p["experts"], p["top_k"] * p["tokens"])
        out.append((f"{r['file']}#{r['run']}", units, r["hlo"][TOPK_OP]))
    return out
