"""Benchmark (not a test): the security checks' false-alarm rate and power, MEASURED.

    python -m analysis.bench_security fwer  [--trials 8] [--runs 6] [--min-elements 4000] [NAME ...]
    python -m analysis.bench_security power [--trials 200]
    python -m analysis.bench_security controls [--seeds 3]

* ``fwer``: every secure entry at a size where its largest message has >= ``--min-elements`` elements per
  view position (``large_params``). Each trial is one check: a fresh pair of secrets and fresh seeds, the
  protocol run ``--runs`` times on each, and for each party the Bonferroni-adjusted p-value of the two
  families of statistical tests (secret A vs B; real vs simulated). As in ``security_check``, the
  families share ALPHA = 1e-3: a trial is a false alarm when its smallest adjusted p times its number of
  families is below ALPHA (what ``verify`` would report); the rate at 0.05 is also shown, since at 1e-3
  a hundred-odd checks can only show that no alarm occurs. -> ``analysis/data/security_fwer.csv``.
* ``power``: the statistical tests alone (``simulators/security.py``) on a position of 4000 uniform
  64-bit elements per run, of which ``d`` carry one secret bit in the clear (the top bit replaced by it),
  R runs per family; the fraction of trials in which the family flags it. -> ``security_power.csv``.
* ``controls``: each negative control, which check catches it and after how many runs
  (``controls_table``). -> ``security_controls.csv``.

The CSVs are what docs/security.md shows (``<!-- privmoe:table analysis.bench_security:... -->``).
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import pandas as pd

DATA = Path(__file__).parent / "data"
SCALE_KEYS = ("tokens", "n", "rows", "capacity")


def largest_position(run) -> int:
    """The largest tested item of either party's view (elements)."""
    from simulators.security import TESTED

    return max((int(i.values.numel()) for v in (run.views or {}).values() for i in v if i.kind in TESTED),
               default=0)


def tiled(entry, params: dict, inputs: dict, large: dict) -> dict:
    """``inputs`` (drawn at ``params``) repeated along each axis up to the shapes of ``large`` (which
    differs from ``params`` in its size parameter only, so every row stays a valid row). Hypothesis does
    not draw inputs of thousands of elements; its edge cases are kept, once per tile."""
    import torch

    out = {}
    for spec in entry.input_specs(large):
        v = inputs[spec.name]
        reps = [-(-n // m) for n, m in zip(spec.shape, v.shape)]
        out[spec.name] = v.repeat(*reps)[tuple(slice(0, n) for n in spec.shape)].clone() if reps else v.clone()
        assert tuple(out[spec.name].shape) == tuple(spec.shape), (spec, out[spec.name].shape)
    entry.validate(large, out)
    return out


def large_inputs(entry, small: dict, large: dict, seed: int) -> dict:
    """Inputs at ``large`` params: a Hypothesis draw at ``small``, tiled (``tiled``)."""
    from analysis.strategies import draw_example_inputs

    return tiled(entry, small, draw_example_inputs(entry, small, seed), large)


def large_params(entry, min_elements: int = 4000, seed: int = 0) -> tuple[dict, dict, int]:
    """The entry's defaults, with its size parameter doubled until its largest view position holds
    ``min_elements`` elements: (the defaults, those params, that size)."""
    from analysis.security import Runs

    small = entry.resolve({})
    params = dict(small)
    key = next((k for k in SCALE_KEYS if k in params and not (k == "capacity" and "tokens" in params)), None)
    while True:
        run = Runs(entry)(params, large_inputs(entry, small, params, seed), seed)
        size = largest_position(run)
        if size >= min_elements or key is None:
            return small, params, size
        params = entry.resolve({k: v for k, v in {**params, key: params[key] * 2}.items()
                                if k in entry.defaults})


def fwer(names: list[str], trials: int, runs: int, min_elements: int, seed: int = 0) -> pd.DataFrame:
    """The false-alarm measurement (module docstring): one row per (entry, trial, party, family)."""
    from rich.progress import Progress

    from analysis import registry
    from analysis.security import PARTIES, Runs, _owners, simulate_views
    from analysis.strategies import draw_example_inputs
    from simulators.security import family_pvalue, family_pvalues, view_of

    entries = [registry.get(n) for n in names] if names else \
        [e for e in registry.all_entries() if not e.negative_control]
    rows = []
    with Progress() as bar:
        task = bar.add_task("false alarms", total=len(entries) * trials)
        for entry in entries:
            small, params, size = large_params(entry, min_elements, seed)
            owners = _owners(entry, params)
            for t in range(trials):
                start = time.perf_counter()
                s = seed + 10_000 * (t + 1)
                a, b = large_inputs(entry, small, params, s), large_inputs(entry, small, params, s + 1)
                runner = Runs(entry)
                real_a = [runner(params, a, s + r) for r in range(runs)]
                for party, rank in PARTIES:
                    mixed = {k: (a[k] if owners[k] == rank else b[k]) for k in owners}
                    real_b = [runner(params, mixed, s + 100 * (rank + 1) + r) for r in range(runs)]
                    own = {k: v for k, v in a.items() if owners[k] == rank}
                    sims = simulate_views(entry, party, params, own, runs, s + 500, runner,
                                          draw=lambda z: large_inputs(entry, small, params, z))
                    views_a = [view_of(r, party) for r in real_a]
                    for family, other in (("secret A vs B", [view_of(r, party) for r in real_b]),
                                          ("real vs simulated", sims)):
                        found, tests = family_pvalues(views_a, other)
                        rows.append({"protocol": entry.name, "trial": t, "party": party, "family": family,
                                     "elements": size, "runs": runs, "tests": tests,
                                     "p_adjusted": family_pvalue(views_a, other),
                                     "seconds": time.perf_counter() - start})
                bar.advance(task)
    return pd.DataFrame(rows)


def fwer_table(path: str | None = None) -> pd.DataFrame:
    """Per entry (from the CSV): trials, families, and false alarms of a whole check -- a trial's families
    share ALPHA as in ``security_check`` (each family at ALPHA / families), so a trial alarms when its
    smallest family p-value times its number of families is below the level -- at 10^-3 and at 0.05."""
    df = pd.read_csv(path or DATA / "security_fwer.csv")
    tested = df[df.tests > 0]
    trials = tested.groupby(["protocol", "trial"]).agg(
        elements=("elements", "max"), runs=("runs", "max"), families=("family", "size"),
        p=("p_adjusted", "min"))
    trials["p_check"] = (trials.p * trials.families).clip(upper=1.0)
    g = trials.groupby("protocol")
    out = pd.DataFrame({"elements per position (largest)": g.elements.max(), "runs R": g.runs.max(),
                        "checks (trials)": g.size(), "families": g.families.sum(),
                        "false alarms at α = 10⁻³": g.p_check.apply(lambda p: int((p < 1e-3).sum())),
                        "false alarms at 0.05": g.p_check.apply(lambda p: int((p < 0.05).sum()))})
    total = out.sum(numeric_only=True).to_frame("**all**").T
    total["elements per position (largest)"] = out["elements per position (largest)"].min()
    total["runs R"] = out["runs R"].max()
    return pd.concat([out, total.astype(int)]).rename(index={"**all**": "**all** (smallest size)"})


def check_pvalues(path: str | None = None) -> pd.Series:
    """Each trial's check-level p-value (``fwer_table``), for the tests."""
    df = pd.read_csv(path or DATA / "security_fwer.csv")
    tested = df[df.tests > 0]
    g = tested.groupby(["protocol", "trial"]).p_adjusted
    return (g.min() * g.size()).clip(upper=1.0)


# -- power ---------------------------------------------------------------------------------------------------
def power(trials: int, n: int = 4000, carriers=(1, 4, 16, 64, 256), runs=(2, 6, 20), seed: int = 0) -> pd.DataFrame:
    """The statistical tests' power on a planted one-bit leak (module docstring): one row per (d, R)."""
    from protocols.runtime.ledger import Protection
    from protocols.runtime.meter import ViewItem
    from simulators.security import ALPHA, View, family_pvalue

    import torch

    rng = np.random.default_rng(seed)
    claim = Protection("mask", "other")

    def view(bit: int, d: int) -> View:
        v = rng.integers(0, 2 ** 64, n, dtype=np.uint64)
        top = np.uint64(1) << np.uint64(63)
        v[:d] = (v[:d] & ~top) | (top if bit else np.uint64(0))
        return View("client", [ViewItem("opened", "leak", "server", torch.from_numpy(v.view(np.int64)), claim, 1)])

    rows = []
    for d in carriers:
        for r in runs:
            found = sum(family_pvalue([view(0, d) for _ in range(r)], [view(1, d) for _ in range(r)]) < ALPHA
                        for _ in range(trials))
            null = sum(family_pvalue([view(0, 0) for _ in range(r)], [view(1, 0) for _ in range(r)]) < ALPHA
                       for _ in range(trials))
            rows.append({"carriers d": d, "runs R": r, "R·d": r * d, "elements per run": n, "trials": trials,
                         "power": found / trials, "false alarms (d = 0)": null / trials})
    return pd.DataFrame(rows)


def power_table(path: str | None = None) -> pd.DataFrame:
    """Power per (carriers d, runs R), and a first row ``0``: the false alarms of families with no leak
    (all (d, R) cells' null families of that R pooled)."""
    df = pd.read_csv(path or DATA / "security_power.csv")
    table = df.pivot(index="carriers d", columns="runs R", values="power")
    null = df.assign(alarms=df["false alarms (d = 0)"] * df.trials).groupby("runs R")[["alarms", "trials"]].sum()
    table.loc["0 (no leak: false alarms)"] = null.alarms / null.trials
    table = table.loc[["0 (no leak: false alarms)"] + [i for i in table.index if i != "0 (no leak: false alarms)"]]
    return table.rename(columns=lambda r: f"R = {r}")


# -- controls --------------------------------------------------------------------------------------------------
def controls(seeds: int, runs: int = 6) -> pd.DataFrame:
    """Each negative control under ``security_check`` (what ``verify`` runs) at ``runs`` runs and ``seeds``
    seeds: the problems per check, the runs made, and the runs until it was caught -- the first run whose
    claims failed, else the ledger pass (``LEDGER_RUNS``), else two (one run per secret of a contrast
    pair, for the transcript signature). One row per control and seed."""
    from analysis import registry
    from analysis.security import LEDGER_RUNS, Runs, security_check
    from analysis.strategies import draw_example_inputs, draw_example_params

    rows = []
    for entry in [e for e in registry.all_entries() if e.negative_control]:
        for seed in range(seeds):
            params = draw_example_params(entry, seed)
            start = time.perf_counter()
            counter = Runs(entry)
            found = security_check(entry, params, draw_example_inputs(entry, params, seed), runs=runs, seed=seed,
                                   runner=counter)
            caught = [k for k, v in found.items() if v]
            until = (counter.first_claimed if counter.first_claimed is not None else
                     LEDGER_RUNS if found["ledger"] else 2 if caught else None)
            rows.append({"control": entry.name, "seed": seed, "runs made": counter.count,
                         **{k: len(v) for k, v in found.items()}, "runs until caught": until,
                         "first problem": next((v[0] for v in found.values() if v), ""),
                         "seconds": round(time.perf_counter() - start, 1)})
    return pd.DataFrame(rows)


def controls_table(path: str | None = None) -> pd.DataFrame:
    """Per control (from the CSV): seeds on which it was caught, the checks that caught it, the runs
    until caught (median, max), the runs the check made, and its first problem on seed 0."""
    df = pd.read_csv(path or DATA / "security_controls.csv")
    checks = ["ledger", "shape", "distribution", "consistency"]
    out = []
    for name, g in df.groupby("control"):
        caught = g[checks].sum(axis=1) > 0
        first = str(g.sort_values("seed")["first problem"].iloc[0])
        out.append({"control": f"`{name}`", "caught (seeds)": f"{int(caught.sum())}/{len(g)}",
                    "checks that caught it": ", ".join(c for c in checks if (g[c] > 0).all()),
                    "runs until caught (median, max)": f"{g['runs until caught'].median():g}, "
                                                       f"{g['runs until caught'].max():g}",
                    "runs made": int(g["runs made"].median()),
                    "first problem (seed 0)": first if len(first) <= 140 else first[:137] + "..."})
    return pd.DataFrame(out).set_index("control")


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(prog="python -m analysis.bench_security", description=__doc__.split("\n")[0])
    ap.add_argument("what", choices=["fwer", "power", "controls"])
    ap.add_argument("names", nargs="*")
    ap.add_argument("--trials", type=int, default=None)
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--min-elements", type=int, default=4000)
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)
    if args.what == "fwer":
        df = fwer(args.names, args.trials or 8, args.runs, args.min_elements)
        out = args.out or DATA / "security_fwer.csv"
        if args.names and out.exists():      # named entries: their rows replace theirs, the rest stay
            old = pd.read_csv(out)
            df = pd.concat([old[~old.protocol.isin(args.names)], df], ignore_index=True)
        df.to_csv(out, index=False)
        print(fwer_table(out).to_markdown())
    elif args.what == "power":
        df = power(args.trials or 200)
        out = args.out or DATA / "security_power.csv"
        df.to_csv(out, index=False)
        print(df.to_markdown(index=False))
    else:
        df = controls(args.seeds, args.runs)
        out = args.out or DATA / "security_controls.csv"
        df.to_csv(out, index=False)
        print(df.drop(columns=["first problem"]).to_markdown(index=False))


if __name__ == "__main__":
    main()
