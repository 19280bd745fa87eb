"""Benchmark (not a test): how tight the per-example error bounds are, MEASURED.

    python -m analysis.bench_bounds [--examples 200] [--seed 0] [NAME ...]

For every entry with ``errors`` (the approximate ones; ``analysis/error_bounds.py``), draw ``--examples``
examples from its own strategies (Hypothesis, seeded as in ``harness.verify``; the MPC seed of example i
is i, so the truncations' randomness differs between examples), run ``harness.run_example`` and compare
every element of every approximate output with its bound. Per (entry, output):

* ``worst_ulp`` -- the largest |real - ideal| observed, and ``bound_at_worst_ulp`` the bound of that element;
* ``min_ratio`` -- the smallest bound / |real - ideal| over all elements with a non-zero error: how close
  the bound comes to an observed error (the tightness; the bound is <= ``min_ratio`` times an error seen);
* ``median_ratio`` -- the median of that ratio over the same elements;
* ``violations`` -- elements over their bound (must be 0: a bound that is exceeded is a bug);
* ``a_priori_ulp`` -- the entry's domain-wide ``error_bound(params)`` at the worst element's example.

Writes ``analysis/data/bounds.csv`` (named entries replace their rows); ``bounds_table`` renders it for
docs/accounting.md (``<!-- privmoe:table analysis.bench_bounds:bounds_table -->``).
"""
from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import pandas as pd
import torch

DATA = Path(__file__).parent / "data"
CSV = DATA / "bounds.csv"


def measure(entry, examples: int, seed: int = 0, progress=None) -> list[dict]:
    """The rows of one entry (module docstring)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed
    from hypothesis import strategies as st

    from analysis import harness
    from analysis.error_bounds import ULP

    acc: dict[str, dict] = {}
    state = {"examples": 0, "structural": []}
    start = time.perf_counter()

    @hyp_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def body(data):
        params = data.draw(entry.params_strategy(), label="params")
        inputs = data.draw(entry.inputs_strategy(params), label="inputs")
        i = state["examples"]
        ex = harness.run_example(entry, params, inputs, seed=i)
        state["examples"] += 1
        parts = entry.errors.parts(ex.ideal, ex.real.outputs, params, inputs)
        if parts and isinstance(parts[0], str):
            state["structural"] += [f"{params}: {m}" for m in parts]
        else:
            for part in parts:
                a = acc.setdefault(part.name, {"ratios": [], "worst": -1.0, "bound_at_worst": math.nan,
                                               "violations": 0, "elements": 0, "a_priori": math.nan})
                err, bound = part.err.reshape(-1), part.bound.reshape(-1)
                a["elements"] += err.numel()
                a["violations"] += int((err > bound).sum())
                pos = err > 0
                a["ratios"].append(bound[pos] / err[pos])
                if err.numel() and float(err.max()) > a["worst"]:
                    k = int(err.argmax())
                    a["worst"], a["bound_at_worst"] = float(err[k]), float(bound[k])
                    a["a_priori"] = float(entry.error_bound(params))
        if progress is not None:
            progress()

    body()
    rows = []
    for name, a in acc.items():
        r = torch.cat(a["ratios"]) if a["ratios"] else torch.zeros(0)
        rows.append({"entry": entry.name, "output": name, "examples": state["examples"],
                     "elements": a["elements"], "nonzero": int(r.numel()),
                     "worst_ulp": a["worst"] / ULP, "bound_at_worst_ulp": a["bound_at_worst"] / ULP,
                     "min_ratio": float(r.min()) if r.numel() else math.nan,
                     "median_ratio": float(r.median()) if r.numel() else math.nan,
                     "violations": a["violations"], "structural_failures": len(state["structural"]),
                     "a_priori_ulp": a["a_priori"] / ULP, "seconds": time.perf_counter() - start})
    if not rows:
        rows.append({"entry": entry.name, "output": "-", "examples": state["examples"],
                     "structural_failures": len(state["structural"]), "seconds": time.perf_counter() - start})
    return rows


def bench(names: list[str], examples: int, seed: int = 0) -> pd.DataFrame:
    from rich.progress import Progress

    from analysis import registry

    entries = [registry.get(n) for n in names] if names else \
        [e for e in registry.all_entries() if e.errors is not None and not e.negative_control]
    rows = []
    with Progress() as bar:
        task = bar.add_task("error bounds", total=len(entries) * examples)
        for entry in entries:
            bar.update(task, description=f"error bounds: {entry.name}")
            rows += measure(entry, examples, seed, progress=lambda: bar.advance(task))
    return pd.DataFrame(rows)


def bounds_table(path: str | None = None) -> pd.DataFrame:
    """Per (entry, output), from the CSV: bound at the worst element, worst observed error (ulp), the
    smallest and the median bound / error ratio, examples, elements with an error, elements over their
    bound, and the domain-wide a-priori bound (whole ulps)."""
    df = pd.read_csv(path or CSV)
    out = pd.DataFrame({
        "bound at worst (ulp)": df.bound_at_worst_ulp.round(2).to_numpy(),
        "worst observed (ulp)": df.worst_ulp.round(2).to_numpy(),
        "min bound/err": df.min_ratio.round(2).to_numpy(), "median bound/err": df.median_ratio.round(2).to_numpy(),
        "examples": df.examples.to_numpy(), "elements (err > 0)": df.nonzero.to_numpy(),
        "over bound": df.violations.to_numpy(), "a-priori bound (ulp)": df.a_priori_ulp.round().astype(int).to_numpy()},
        index=pd.Index([f"{e} ({o})" for e, o in zip(df.entry, df.output)], name="entry (output)"))
    ints = ["examples", "elements (err > 0)", "over bound", "a-priori bound (ulp)"]
    out[ints] = out[ints].astype(object)            # whole numbers stay whole in the docs' table
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m analysis.bench_bounds", description=__doc__.split("\n")[0])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--examples", type=int, default=200)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    start = time.perf_counter()
    df = bench(args.names, args.examples, args.seed)
    out = args.out or CSV
    if args.names and out.exists():          # named entries: their rows replace theirs, the rest stay
        old = pd.read_csv(out)
        df = pd.concat([old[~old.entry.isin(args.names)], df], ignore_index=True)
    df = df.sort_values(["entry", "output"]).reset_index(drop=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(out, index=False)
    print(bounds_table(out).to_markdown())
    print(f"{time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
