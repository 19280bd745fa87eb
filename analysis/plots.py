"""Every figure of the report, each drawn from the tidy table (``costs.csv``) so users can re-plot.

    import pandas as pd; from analysis import plots
    t = pd.read_csv("report/costs.csv"); plots.dispatch_scaling(t, "dispatch.png")
"""
from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure


def _fig(ncols: int = 1, width: float = 6.0):
    fig = Figure(figsize=(width * ncols if ncols > 1 else width, 3.6))
    FigureCanvasAgg(fig)
    return fig, [fig.add_subplot(1, ncols, i + 1) for i in range(ncols)]


def _params(t: pd.DataFrame) -> pd.DataFrame:
    t = t.copy()
    p = t.parameters.map(json.loads)
    for key in ("capacity", "hidden", "experts", "model", "capacity_factor", "variant", "tokens"):
        t[key] = p.map(lambda d, k=key: d.get(k))
    return t


def _bytes(t: pd.DataFrame, col: str = "analytic") -> pd.Series:
    both = t[t.metric.isin(["bytes_client_to_server", "bytes_server_to_client"])]
    return both.groupby([c for c in both.columns if c not in (col, "metric", "direction", "analytic", "measured")],
                        dropna=False)[col].sum()


#: the model-vs-measured figure's panels: (title, backends, {metric shown: marker})
MODEL_PANELS = (
    ("MPC: CrypTen runs, privmoe's Meter", ("crypten",),
     {"online bytes": "o", "offline_bytes": "^", "rounds": "s"}),
    ("HE: SEAL runs, count-only simulator runs", ("seal", "sim"),
     {"online bytes": "o", "key_switches": "D", "pt_mults": "v", "ciphertexts": "s"}),
)


def _runs(t: pd.DataFrame) -> pd.DataFrame:
    """One row per run (total step), a column per (analytic|measured, metric), plus online bytes
    (client -> server + server -> client)."""
    keys = ["section", "label", "protocol", "backend", "parameters"]
    w = t.pivot_table(index=keys, columns="metric", values=["analytic", "measured"], aggfunc="first")
    for col in ("analytic", "measured"):
        w[(col, "online bytes")] = w[(col, "bytes_client_to_server")] + w[(col, "bytes_server_to_client")]
    return w


def model_vs_measured(table: pd.DataFrame, path: Path) -> Path:
    """Measured against analytic, log-log, with the identity line: every protocol of section 5 at one
    size (grey) and the sweeps of section ``5s`` (a colour per protocol, its sizes joined): points on
    the line are exact predictions, and the sweeps show it over orders of magnitude."""
    import numpy as np
    from matplotlib.lines import Line2D

    t = table[table.section.isin(["5", "5s"]) & (table.step == "total")]
    runs = _runs(t)
    fig = Figure(figsize=(12, 5.2))
    FigureCanvasAgg(fig)
    axes = [fig.add_subplot(1, 2, i + 1) for i in range(2)]
    colours = {}
    for ax, (title, backends, markers) in zip(axes, MODEL_PANELS):
        mine = runs[runs.index.get_level_values("backend").isin(backends)]
        on = total = 0
        lo, hi = np.inf, 0.0
        for metric, marker in markers.items():
            if ("analytic", metric) not in mine.columns:
                continue
            pts = pd.DataFrame({"a": mine[("analytic", metric)], "m": mine[("measured", metric)]}).dropna()
            pts = pts[(pts.a > 0) & (pts.m > 0)]
            if pts.empty:
                continue
            on += int((pts.a == pts.m).sum())
            total += len(pts)
            lo, hi = min(lo, pts.a.min(), pts.m.min()), max(hi, pts.a.max(), pts.m.max())
            single = pts[pts.index.get_level_values("section") == "5"]
            ax.scatter(single.a, single.m, marker=marker, s=14, color="0.6", zorder=2)
            for proto, g in pts[pts.index.get_level_values("section") == "5s"].groupby(level="label"):
                if proto not in colours:
                    colours[proto] = f"C{len(colours)}"
                g = g.sort_values("a")
                ax.plot(g.a, g.m, marker=marker, ms=5, lw=0.8, color=colours[proto], zorder=3)
        if total:
            ax.plot([lo / 2, hi * 2], [lo / 2, hi * 2], color="black", lw=0.8, ls="--", zorder=1)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xlabel("analytic (cost model)")
        ax.set_ylabel("measured")
        ax.set_title(f"{title}\n{on}/{total} points on the line", fontsize=9)
        handles = [Line2D([], [], ls="", marker=mk, color="black", label=m.replace("_", " ")) for m, mk in markers.items()]
        handles += [Line2D([], [], ls="", marker="o", color="0.6", label="every protocol, one size (§5)")]
        handles += [Line2D([], [], color=c, label=p) for p, c in colours.items()
                    if any(runs.loc[runs.index.get_level_values("label") == p].index.get_level_values("backend")
                           .isin(backends))]
        handles += [Line2D([], [], color="black", lw=0.8, ls="--", label="measured = analytic")]
        ax.legend(handles=handles, fontsize=6, loc="upper left")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)


def _sweep_panels(t: pd.DataFrame, sweeps: tuple, value, ylabel: str, titles: tuple, path: Path) -> Path:
    """Two log-log panels, one per (sweep name, parameter): a line per protocol label of ``value(group)``."""
    fig, axes = _fig(2)
    for ax, (sweep, key), title in zip(axes, sweeps, titles):
        for proto, g in t[t.sweep == sweep].groupby("label"):
            s = value(g).groupby(g[key]).sum()
            ax.plot(s.index, s.values.clip(min=1), marker="o", label=proto)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel(key)
        ax.set_ylabel(ylabel)
        ax.set_title(title)
        ax.legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)


def dispatch_scaling(table: pd.DataFrame, path: Path) -> Path:
    """Bytes of dispatch + combine vs t and vs d, CipherPrune vs CryptoMoE (cheetah, log axes)."""
    t = _params(table[(table.section == "1s") & (table.step == "total")])
    t = t[t.metric.isin(["bytes_client_to_server", "bytes_server_to_client"])]
    return _sweep_panels(t, (("t", "capacity"), ("d", "hidden")), lambda g: g.analytic,
                         "bytes (dispatch + combine)", ("vs capacity t (DeepSeekMoE, d = 2048)", "vs hidden d (t = 12)"),
                         path)


def matmul_key_switches(table: pd.DataFrame, path: Path) -> Path:
    """Key switches of the HE matmuls vs E and vs t (closed form at paper dims; log axes). Key switches =
    rotations + automorphisms: for BOLT and the batch packing they are the rotations; NEXUS's expansion
    automorphisms are key switches too, so it is plotted on the same footing."""
    t = _params(table[(table.section == "2s") & (table.metric == "key_switches")])
    return _sweep_panels(t, (("E", "experts"), ("t", "capacity")), lambda g: g.analytic,
                         "key switches (rotations + automorphisms)",
                         ("vs experts E (t = 32, d = 2048, N = 8192)", "vs capacity t (E = 64)"), path)


def layer_per_token(table: pd.DataFrame, path: Path) -> Path:
    """Communication per token of the MoE layer per model and protocol (cheetah)."""
    t = _params(table[(table.section == "3") & (table.step == "total")])
    b = t[t.metric.isin(["bytes_client_to_server", "bytes_server_to_client"])]
    per = b.groupby(["model", "label"]).analytic.sum() / 128 / 2**20
    fig, (ax,) = _fig(width=8)
    per.unstack().plot.bar(ax=ax, rot=0, logy=True)
    ax.set_ylabel("MiB per token (log)")
    ax.set_title("MoE layer: communication per token (m = 128, cheetah)")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)


def layer_steps(table: pd.DataFrame, path: Path, model: str = "DeepSeekMoE-16B",
                exclude: tuple[str, ...] = ("SecMoE (re-shared)",)) -> Path:
    """Per-step breakdown (stacked) of each layer protocol for one model. SecMoE's re-shared variant is
    left out by default: 40x the others, it would flatten them (its steps are in the table)."""
    t = _params(table[(table.section == "3") & (table.step != "total") & ~table.step.str.contains("/")])
    t = t[(t.model == model) & ~t.label.isin(exclude)]
    b = t[t.metric.isin(["bytes_client_to_server", "bytes_server_to_client"])]
    per = b.groupby(["label", "step"]).analytic.sum().unstack().fillna(0) / 128 / 2**20
    fig, (ax,) = _fig(width=8)
    per.plot.barh(ax=ax, stacked=True)
    ax.set_xlabel("MiB per token")
    ax.set_ylabel("")
    ax.set_title(f"Per-step breakdown, {model}")
    ax.legend(fontsize=6, ncol=2, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return Path(path)
