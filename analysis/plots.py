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


def model_vs_measured(table: pd.DataFrame, path: Path) -> Path:
    """Measured / analytic for every (protocol, metric) of section 5 (1 = exact)."""
    t = table[(table.section == "5") & (table.step == "total") & table.metric.isin(
        ["rounds", "bytes_client_to_server", "bytes_server_to_client", "offline_bytes", "rotations", "pt_mults"])]
    t = t[t.analytic > 0]
    ratio = (t.measured / t.analytic).groupby([t.protocol, t.metric]).first().unstack()
    fig, (ax,) = _fig(width=8)
    ratio.plot.bar(ax=ax, rot=60, legend=True)
    ax.axhline(1.0, color="black", lw=0.8)
    ax.set_ylabel("measured / analytic")
    ax.set_title("Cost model vs measurement (CrypTen Meter, SEAL counts)")
    ax.legend(fontsize=6, ncol=3)
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
