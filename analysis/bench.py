"""Benchmarks (not tests): measured CrypTen costs and wall time of competing protocols, as ratios.

    python -m analysis.bench [--tokens 64 --hidden 64 --experts 8 --top-k 2 --capacity-factor 2 --ffn 128]
                             [--out bench.csv]

Measured (two parties as threads, privmoe's Meter, one run each, same seed):
* dispatch + combine: CipherPrune-style vs CryptoMoE;
* the MoE layer: cryptomoe.moe vs dense.moe.
Projected (``cheetah``) at the three target models' scale (``docs/accounting.md``, m = 128), for f = 1 and 2.
Ratios are baseline / CryptoMoE (> 1: CryptoMoE is cheaper). Wall times are this machine's, noisy.

    python -m analysis.bench --layer [--tokens 32 --hidden 16 --ffn 16 --experts 8 --top-k 2] [--he-backend seal]

``--scale paper``: ``cryptomoe.dispatch`` (its top-t by the merge and by ranking), ``cryptomoe.combine`` and the
``gate`` (its top-k by tournaments and by ranking) at m = 128, E = 64, k = 6, t = 12, d = 2048 (DeepSeekMoE-16B,
f = 1) on CrypTen as two processes: Meter == model, wall time, peak memory per party.

``--layer``: the hybrid layers (``linear=he``: dense, CryptoMoE, CipherPrune-style) measured on SEAL + CrypTen,
two parties as threads: per step the wall time beside the model's and the Meter's bytes and rounds (the
hybrid steps ``to_he``, ``answer``, ``lift`` of ``up`` and ``down`` included), the model == Meter check, and
whether the output is within the layer's bound.
"""
from __future__ import annotations

import argparse
import json

import pandas as pd
import torch

from analysis import harness, registry
from analysis.report import MODELS, TOKENS


def _routing_inputs(m: int, d: int, E: int, k: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(m, E, generator=g)
    W, K = torch.sort(torch.softmax(logits, -1), dim=-1, descending=True, stable=True)
    return {"x": torch.rand(m, d, generator=g) * 2 - 1, "K": K[:, :k].contiguous(), "W": W[:, :k].contiguous()}


def _layer_inputs(m: int, d: int, f: int, E: int, seed: int) -> dict:
    g = torch.Generator().manual_seed(seed)
    l1 = 24.0 / d                                       # keeps each token's L1 norm within the gate's 32
    return {"x": (torch.rand(m, d, generator=g) * 2 - 1) * min(1.0, l1),
            "w_g": torch.rand(d, E, generator=g) * 2 - 1,
            "U": (torch.rand(E, d, f, generator=g) - 0.5), "V": (torch.rand(E, d, f, generator=g) - 0.5),
            "D": (torch.rand(E, f, d, generator=g) - 0.5)}


def _run(name: str, params: dict, inputs: dict, seed: int) -> dict:
    entry = registry.get(name)
    params = entry.resolve(params)
    run = harness.run_real(entry, params, inputs, seed=seed, timeout=600)
    got = harness.measured(run.meter)
    problems = entry.check(entry.ideal(params, inputs), run.outputs, params, inputs)
    return {"protocol": name, "rounds": got["rounds"], "bytes": got["bytes"], "offline_bytes": got["offline_bytes"],
            "wall_s": run.wall_time, "correct": not problems, "params": json.dumps(params, sort_keys=True)}


def measured(m=64, d=64, E=8, k=2, f=2.0, ffn=128, seed=0) -> pd.DataFrame:
    """Run the four comparisons on CrypTen; one row per protocol."""
    routing = _routing_inputs(m, d, E, k, seed)
    common = {"tokens": m, "hidden": d, "experts": E, "top_k": k, "capacity_factor": f}
    t = registry.get("cryptomoe.dispatch").resolve(common)["capacity"]
    y = {"y": torch.rand(E, t, d, generator=torch.Generator().manual_seed(seed + 1)) * 2 - 1}
    rows = [_run("cryptomoe.dispatch", common, routing, seed),
            _run("cipherprune.combine", common, {**routing, **y}, seed)]   # its dispatch + its combine
    # CryptoMoE's combine on the dispatch's own O and S'
    from functionalities.dispatch import dispatch

    _, O, S = dispatch(routing["x"], routing["K"], routing["W"], E, t)
    rows.append(_run("cryptomoe.combine", {"tokens": m, "hidden": d, "experts": E, "capacity": t},
                     {**y, "O": O, "S": S.float()}, seed))
    layer = _layer_inputs(m, d, ffn, E, seed)
    rows.append(_run("cryptomoe.moe", {**common, "ffn": ffn}, layer, seed))
    rows.append(_run("dense.moe", {"tokens": m, "hidden": d, "experts": E, "top_k": k, "ffn": ffn}, layer, seed))
    return pd.DataFrame(rows)


def measured_ratios(table: pd.DataFrame) -> pd.DataFrame:
    """CipherPrune (dispatch + combine) / CryptoMoE (dispatch + combine), dense / CryptoMoE layer."""
    by = table.set_index("protocol")
    cm = by.loc["cryptomoe.dispatch", ["rounds", "bytes", "wall_s"]] + by.loc["cryptomoe.combine", ["rounds", "bytes", "wall_s"]]
    cp = by.loc["cipherprune.combine", ["rounds", "bytes", "wall_s"]]
    layer = by.loc["dense.moe", ["rounds", "bytes", "wall_s"]] / by.loc["cryptomoe.moe", ["rounds", "bytes", "wall_s"]]
    return pd.DataFrame({"CipherPrune / CryptoMoE (dispatch+combine)": cp / cm, "dense / CryptoMoE (layer)": layer}).T


def projected(factors=(1.0, 2.0)) -> pd.DataFrame:
    """cheetah projections of the same ratios at paper scale (bytes and estimated rounds)."""
    rows = []
    for model, cfg in MODELS.items():
        for f in factors:
            base = {"tokens": TOKENS, "hidden": cfg["hidden"], "experts": cfg["experts"], "top_k": cfg["top_k"],
                    "capacity_factor": f}
            p = registry.get("cryptomoe.dispatch").resolve(base)
            t = p["capacity"]
            cm = registry.get("cryptomoe.dispatch").cost("cheetah", p) + registry.get("cryptomoe.combine").cost(
                "cheetah", registry.get("cryptomoe.combine").resolve(
                    {"tokens": TOKENS, "hidden": cfg["hidden"], "experts": cfg["experts"], "capacity": t}))
            cp = registry.get("cipherprune.combine").cost("cheetah", registry.get("cipherprune.combine").resolve(base))
            lay = {**base, "ffn": cfg["ffn"]}
            moe = registry.get("cryptomoe.moe").cost("cheetah", registry.get("cryptomoe.moe").resolve(lay))
            dense = registry.get("dense.moe").cost("cheetah", registry.get("dense.moe").resolve(
                {k: v for k, v in lay.items() if k != "capacity_factor"}))
            rows.append({"model": model, "capacity_factor": f, "capacity": t,
                         "dispatch+combine bytes CP/CM": cp.bytes / cm.bytes,
                         "dispatch+combine rounds CP/CM": cp.rounds / cm.rounds,
                         "layer bytes dense/CM": dense.bytes / moe.bytes,
                         "layer rounds dense/CM": dense.rounds / moe.rounds,
                         "CM layer MiB/token": moe.bytes / TOKENS / 2**20,
                         "dense layer MiB/token": dense.bytes / TOKENS / 2**20})
    return pd.DataFrame(rows)


PAPER_SCALE = {"tokens": 128, "hidden": 2048, "experts": 64, "top_k": 6, "capacity": 12}   # DeepSeekMoE-16B, f = 1


def _paper_scale_one(name: str, mode: str, seed: int, extra: dict | None = None) -> dict:
    """One entry at ``PAPER_SCALE`` with the parameters ``extra`` (e.g. a top-t method), in a fresh worker
    process: its children are the two parties, so their peak memory is this run's."""
    import resource

    import functionalities.dispatch as FD

    p = PAPER_SCALE
    m, d, E, k, t = p["tokens"], p["hidden"], p["experts"], p["top_k"], p["capacity"]
    routing = _routing_inputs(m, d, E, k, seed)
    if name.endswith(".dispatch"):
        inputs = routing
    elif name == "gate":
        g = torch.Generator().manual_seed(seed + 2)
        inputs = {"x": routing["x"] / d, "w_g": torch.rand(d, E, generator=g) * 2 - 1}   # |logit| <= 1
    else:
        _, O, S = FD.dispatch(routing["x"], routing["K"], routing["W"], E, t)
        g = torch.Generator().manual_seed(seed + 1)
        inputs = {"y": torch.rand(E, t, d, generator=g) * 2 - 1, "O": O, "S": S}
    entry = registry.get(name)
    params = entry.resolve({**{k_: v for k_, v in p.items() if k_ in entry.defaults}, **(extra or {})})
    run = harness.run_real(entry, params, inputs, mode=mode, seed=seed, timeout=3600)
    got = harness.measured(run.meter)
    model = entry.cost("crypten", params)
    problems = entry.check(entry.ideal(params, inputs), run.outputs, params, inputs)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN if mode == "processes" else resource.RUSAGE_SELF).ru_maxrss
    return {"protocol": name, "top-t": ", ".join(f"{k_}={v}" for k_, v in (extra or {}).items()) or "-",
            "mode": mode, "rounds": got["rounds"], "model rounds": model.rounds,
            "bytes": got["bytes"], "model bytes": model.bytes, "offline bytes": got["offline_bytes"],
            "model == Meter": not harness.cost_mismatches(entry, params, run), "output within bound": not problems,
            "wall_s": run.wall_time, "peak MiB per party": peak / 1024}


#: ``--scale paper``'s runs: the dispatch by the rule's method (no network: the merge) and by ranking (the WAN
#: pick), the combine, and the gate's top-k by tournaments and by ranking
PAPER_RUNS = (("cryptomoe.dispatch", {}), ("cryptomoe.dispatch", {"topk": "rank"}), ("cryptomoe.combine", {}),
              ("gate", {"topk": "tournament"}), ("gate", {"topk": "rank"}))


def paper_scale(runs=PAPER_RUNS, mode: str = "processes", seed: int = 0, bar=None) -> pd.DataFrame:
    """``--scale paper``: the dispatch (by each top-t method of ``runs``), the combine and the gate measured at
    DeepSeekMoE-16B's routing shape and width (m = 128, E = 64, k = 6, t = 12, d = 2048) on CrypTen, two parties
    as processes: the Meter against the ``crypten`` model (every step, exactly), wall time, the larger party's
    peak memory. Not in CI."""
    import concurrent.futures as cf
    import multiprocessing as mp

    rows = []
    for name, extra in runs:
        with cf.ProcessPoolExecutor(max_workers=1, mp_context=mp.get_context("spawn")) as pool:
            rows.append(pool.submit(_paper_scale_one, name, mode, seed, extra).result())
        if bar is not None:
            bar.advance(name)
    return pd.DataFrame(rows)


HYBRID_LAYERS = ("dense.moe", "cryptomoe.moe", "cipherprune.moe")


def _shown(path: str) -> bool:
    """The steps the layer table shows: the top-level ones, and inside ``experts`` the hybrid linears' parts."""
    parts = path.split("/")
    return len(parts) == 1 or (parts[0] == "experts" and len(parts) <= 3)


def layer_steps(m=32, d=16, E=8, k=2, f=2.0, ffn=16, seed=0, he_backend="seal", names=HYBRID_LAYERS,
                bar=None) -> pd.DataFrame:
    """The hybrid layers measured (module docstring, ``--layer``): one row per (layer, step)."""
    rows = []
    for name in names:
        entry = registry.get(name)
        params = entry.resolve({k_: v for k_, v in {"tokens": m, "hidden": d, "experts": E, "top_k": k, "ffn": ffn,
                                                   "capacity_factor": f, "linear": "he", "he_backend": he_backend,
                                                   "seed": seed}.items() if k_ in entry.defaults})
        inputs = _layer_inputs(m, d, ffn, E, seed)
        run = harness.run_real(entry, params, inputs, seed=seed, timeout=1800)
        model = entry.cost("crypten", params)
        problems = entry.check(entry.ideal(params, inputs), run.outputs, params, inputs)
        mismatches = harness.cost_mismatches(entry, params, run)
        for path, cost in [("total", model)] + [(p, c) for p, c in model.steps if _shown(p)]:
            got = harness.measured(run, None if path == "total" else path)
            rows.append({"layer": name, "step": path,
                         "wall_s": run.wall_time if path == "total" else run.meter.step_seconds(path),
                         "model bytes": cost.bytes, "Meter bytes": got["bytes_client_to_server"]
                         + got["bytes_server_to_client"], "model rounds": cost.rounds, "Meter rounds": got["rounds"],
                         "key bytes": cost.key_bytes, "ciphertexts": cost.ciphertexts,
                         "model == Meter": not mismatches, "output within bound": not problems})
        if bar is not None:
            bar.advance(name)
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.bench", description=__doc__.splitlines()[0])
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--top-k", type=int, default=2)
    ap.add_argument("--capacity-factor", type=float, default=2.0)
    ap.add_argument("--ffn", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default=None, help="write the measured table as CSV")
    ap.add_argument("--layer", action="store_true", help="the hybrid layers' per-step table (module docstring)")
    ap.add_argument("--he-backend", default="seal", choices=("seal", "sim"))
    ap.add_argument("--scale", choices=("paper",), default=None,
                    help="paper: the dispatch and combine at DeepSeekMoE-16B scale on CrypTen (processes)")
    a = ap.parse_args(argv)
    pd.set_option("display.width", 200)
    if a.scale == "paper":
        from analysis.progress import Progress

        bar = Progress(len(PAPER_RUNS), "paper scale")
        try:
            table = paper_scale(seed=a.seed, bar=bar)
        finally:
            bar.close()
        print(table.to_string(index=False, float_format=lambda v: f"{v:.1f}"))
        if a.out:
            table.to_csv(a.out, index=False)
        return 0 if table["model == Meter"].all() else 1
    if a.layer:
        from analysis.progress import Progress

        tokens = a.tokens if "--tokens" in (argv or __import__("sys").argv) else 32
        hidden = a.hidden if "--hidden" in (argv or __import__("sys").argv) else 16
        ffn = a.ffn if "--ffn" in (argv or __import__("sys").argv) else 16
        bar = Progress(len(HYBRID_LAYERS), "hybrid layers")
        try:
            table = layer_steps(tokens, hidden, a.experts, a.top_k, a.capacity_factor, ffn, a.seed, a.he_backend,
                                bar=bar)
        finally:
            bar.close()
        print(table.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
        if a.out:
            table.to_csv(a.out, index=False)
        return 0
    table = measured(a.tokens, a.hidden, a.experts, a.top_k, a.capacity_factor, a.ffn, a.seed)
    pd.set_option("display.width", 200)
    print(table.drop(columns=["params"]).to_string(index=False))
    print("\nmeasured ratios (baseline / CryptoMoE):")
    print(measured_ratios(table).to_string(float_format=lambda v: f"{v:.2f}"))
    print("\ncheetah projection at paper scale (m = 128):")
    print(projected().to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    if a.out:
        table.to_csv(a.out, index=False)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
