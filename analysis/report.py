"""``privmoe report``: report.md + PNG plots + costs.csv (tidy) + manifest.json.

Sections (this first version): model vs measurement for every registered protocol (CrypTen, one
seeded example each), and the ``cheetah`` projection of the router at the three target models' scale.
Each figure is drawn by a function that takes the tidy table, so users can re-plot from ``costs.csv``.
"""
from __future__ import annotations

import json
import platform
import subprocess
import time
from pathlib import Path

import pandas as pd

from analysis import harness, registry
from analysis.registry import Entry

#: PROTOCOLS.md §10; prefill with m = 128 tokens
MODELS = {
    "DeepSeekMoE-16B": dict(hidden=2048, experts=64, top_k=6, ffn=1408),
    "OLMoE-7B": dict(hidden=2048, experts=64, top_k=8, ffn=1024),
    "Qwen-MoE-14B": dict(hidden=2048, experts=60, top_k=4, ffn=1408),
}
TOKENS = 128
#: (online metric, phase, direction) rows of the tidy table for a CrypTen run
METRIC_ROWS = [("rounds", "online", "both"), ("bytes_client_to_server", "online", "client->server"),
               ("bytes_server_to_client", "online", "server->client"), ("offline_bytes", "offline", "dealer->server")]


def draw_example(entry: Entry, seed: int):
    """One deterministic (params, inputs) from the entry's strategies (Hypothesis, seeded)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed
    from hypothesis import strategies as st

    box = {}

    @hyp_seed(seed)
    @settings(max_examples=1, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def pick(data):
        params = dict(entry.resolve())
        box["params"] = params
        box["inputs"] = data.draw(entry.inputs_strategy(params))

    pick()
    return box["params"], box["inputs"]


def measured_rows(entry: Entry, seed: int) -> list[dict]:
    """Tidy rows (analytic beside measured) for one seeded CrypTen run of ``entry``."""
    params, inputs = draw_example(entry, seed)
    ex = harness.run_example(entry, params, inputs, seed=seed)
    model = entry.cost("crypten", params)
    rows = []
    for step, cost in [("total", model)] + list(model.steps):
        got = harness.measured(ex.real.meter, None if step == "total" else step)
        want = cost.to_dict()
        for metric, phase, direction in METRIC_ROWS:
            rows.append(dict(protocol=entry.name, backend="crypten", step=step, phase=phase, direction=direction,
                             metric=metric, analytic=want[metric], measured=got[metric],
                             parameters=json.dumps(params, sort_keys=True), seed=seed))
    rows.append(dict(protocol=entry.name, backend="crypten", step="total", phase="online", direction="both",
                     metric="wall_seconds", analytic=float("nan"), measured=ex.real.wall_time,
                     parameters=json.dumps(params, sort_keys=True), seed=seed))
    rows.append(dict(protocol=entry.name, backend="crypten", step="total", phase="online", direction="both",
                     metric="equivalence_failures", analytic=0, measured=len(ex.equivalence),
                     parameters=json.dumps(params, sort_keys=True), seed=seed))
    return rows


def projection_rows(seed: int) -> list[dict]:
    """``cheetah`` projections of the router (gate) for every model of §10, per step."""
    entry = registry.get("gate")
    rows = []
    for model, cfg in MODELS.items():
        params = entry.resolve(dict(tokens=TOKENS, hidden=cfg["hidden"], experts=cfg["experts"], top_k=cfg["top_k"]))
        cost = entry.cost("cheetah", params)
        for step, c in [("total", cost)] + list(cost.steps):
            for metric, phase, direction in METRIC_ROWS[:3]:
                rows.append(dict(protocol="gate", backend="cheetah", step=step, phase=phase, direction=direction,
                                 metric=metric, analytic=c.to_dict()[metric], measured=float("nan"),
                                 parameters=json.dumps({**params, "model": model}, sort_keys=True), seed=seed))
    return rows


def plot_model_vs_measured(table: pd.DataFrame, path: Path) -> Path:
    """Bar chart: analytic vs measured online bytes (total) per protocol, CrypTen backend."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = table[(table.backend == "crypten") & (table.step == "total") & table.metric.str.startswith("bytes_")]
    agg = t.groupby("protocol")[["analytic", "measured"]].sum()
    ax = agg.plot.bar(figsize=(6, 3.5), logy=True, rot=0)
    ax.set_ylabel("online bytes (both directions)")
    ax.set_title("CrypTen: analytic model vs Meter")
    plt.tight_layout()
    plt.savefig(path, dpi=120)
    plt.close()
    return path


def plot_gate_projection(table: pd.DataFrame, path: Path) -> Path:
    """Stacked bar: projected (cheetah) router bytes per token by step, per model."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = table[(table.backend == "cheetah") & (table.step != "total") & table.metric.str.startswith("bytes_")].copy()
    t["model"] = t.parameters.map(lambda s: json.loads(s)["model"])
    pivot = t.groupby(["model", "step"]).analytic.sum().unstack("step") / TOKENS / 2**20
    ax = pivot.plot.bar(stacked=True, figsize=(6, 3.5), rot=0)
    ax.set_ylabel("MiB per token")
    ax.set_title(f"Router (gate), cheetah projection, m = {TOKENS}")
    plt.tight_layout()
    plt.savefig(path, dpi=120)
    plt.close()
    return path


def _git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except Exception:  # noqa: BLE001 - not a checkout
        return "unknown"


def _markdown_table(df: pd.DataFrame) -> str:
    return df.to_markdown(index=False)


def write_report(out: str | Path, *, quick: bool = False, seed: int = 0) -> Path:
    """Write the report into ``out`` and return the path of report.md."""
    from analysis.cli import _progress

    start = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    entries = [e for e in registry.all_entries() if "crypten" in e.costs]
    bar = _progress(len(entries) + 1, "report")
    rows = []
    for entry in entries:
        rows += measured_rows(entry, seed)
        bar.advance(entry.name)
    rows += projection_rows(seed)
    bar.advance("projections")
    bar.close()
    table = pd.DataFrame(rows)
    table.to_csv(out / "costs.csv", index=False)
    figs = [plot_model_vs_measured(table, out / "model_vs_measured.png"),
            plot_gate_projection(table, out / "gate_projection.png")]

    mm = table[(table.backend == "crypten") & table.metric.isin([m for m, _, _ in METRIC_ROWS])].copy()
    mm["ratio"] = mm.measured / mm.analytic.where(mm.analytic != 0)
    mm["exact"] = mm.measured == mm.analytic
    top = mm[~mm.step.str.contains("/")]
    summary = top.pivot_table(index=["protocol", "step"], columns="metric", values="measured", aggfunc="first")
    exact = bool(mm.exact.all())
    proj = table[(table.backend == "cheetah") & (table.step == "total")].copy()
    proj["model"] = proj.parameters.map(lambda s: json.loads(s)["model"])
    proj_t = proj.pivot_table(index="model", columns="metric", values="analytic", aggfunc="first")
    proj_t["MiB per token"] = (proj_t.bytes_client_to_server + proj_t.bytes_server_to_client) / TOKENS / 2**20

    manifest = dict(privmoe="0.1.0", git_sha=_git_sha(), seed=seed, quick=quick, python=platform.python_version(),
                    versions=_versions(), wall_seconds=round(time.time() - start, 2),
                    protocols=[e.name for e in entries], tokens=TOKENS, models=MODELS)
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    md = [
        "# privmoe report",
        "",
        f"Seed {seed}, git `{manifest['git_sha'][:10]}`, {manifest['wall_seconds']} s. "
        "Definitions of rounds and bytes: `docs/accounting.md`. All numbers are also in `costs.csv` "
        "(one tidy table) and can be re-plotted from it.",
        "",
        "## Model vs measurement (CrypTen, every registered protocol)",
        "",
        "One seeded Hypothesis example per protocol at its default public parameters, run by two parties "
        "(threads) with privmoe's Meter. The `crypten` cost model is claimed exact for rounds, bytes each "
        f"way and offline bytes, in total and per step: **{'all equal' if exact else 'MISMATCH — see costs.csv'}** "
        f"({int(mm.exact.sum())}/{len(mm)} step-metric pairs).",
        "",
        _markdown_table(summary.reset_index()),
        "",
        f"![model vs measured]({figs[0].name})",
        "",
        f"## Router projection at paper scale (`cheetah`, m = {TOKENS} tokens)",
        "",
        "SecretFlow-SPU/Cheetah unit costs from `shared/calibration` (fixed set-up cost excluded; rounds are "
        "estimates from the protocol structure, see `analysis/cost_models/cheetah.py`).",
        "",
        _markdown_table(proj_t.reset_index()),
        "",
        f"![gate projection]({figs[1].name})",
        "",
    ]
    (out / "report.md").write_text("\n".join(md))
    return out / "report.md"


def _versions() -> dict[str, str]:
    import torch

    from protocols.crypten_shim import crypten

    out = {"torch": torch.__version__, "crypten": crypten.__version__}
    try:
        import tenseal

        out["tenseal"] = tenseal.__version__
    except Exception:  # noqa: BLE001
        out["tenseal"] = "missing"
    return out


def draw_example_inputs(entry: Entry, params: dict, seed: int, skip: int = 4) -> dict:
    """Inputs for given public parameters, drawn from the entry's strategy with a fixed seed. Hypothesis
    starts with the simplest example (often all zeros) whatever the seed: the ``skip``-th is random."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed

    box = {}

    @hyp_seed(seed)
    @settings(max_examples=skip + 1, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(entry.inputs_strategy(params))
    def pick(inputs):
        box.setdefault("all", []).append(inputs)
        box["inputs"] = inputs

    pick()
    return box["inputs"]
