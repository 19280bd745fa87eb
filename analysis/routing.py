"""Routing fidelity of CryptoMoE's balanced routing (``docs/protocols/cryptomoe_dispatch.md``), in plaintext.

What is measured
----------------
A dense MoE layer sends token j to its k experts ``K[j]`` with gate weights ``W[j]`` ("exact" semantics).
CryptoMoE instead gives every expert a fixed capacity of ``t = floor(f k m / E)`` (token, slot)
candidates, so that the number of rows each expert processes leaks nothing; routed candidates beyond
``t`` are *dropped* for that expert (weights are not renormalised). For a synthetic router and a small
SwiGLU MoE layer with random weights we report, per capacity factor ``f`` and selection rule:

* ``dropped_fraction`` -- dropped assignments / (m k);
* ``dropped_mass``     -- sum of W over the dropped assignments / sum of W over all assignments;
* ``rel_output_error`` -- ``||y_balanced - y_exact||_F / ||y_exact||_F``, where
  ``y_exact_j = sum_i W[j, i] E_{K[j, i]}(x_j)`` and ``y_balanced`` is the sum over the kept (expert e,
  position i) of ``S[e, i] E_e(x[T[e, i]])`` (padding has ``S = 0``). The two differ by exactly
  ``sum over dropped (j, i) of W[j, i] E_{K[j, i]}(x_j)``.

The router logits are synthetic and independent of x: ``"uniform"`` draws i.i.d. N(0, 1) logits (every
expert equally popular in expectation); ``"zipf"`` adds a per-expert bias ``-s log(e + 1)`` with
``s = ZIPF_SKEW = 1.0``, so expert 0 is the most popular. At the defaults (m = 128, E = 8, k = 2) s = 1
sends about 71% of the tokens to expert 0 and 5% to expert 7, and the dropped fraction at f = 1 is
about 0.34 against about 0.05 for "uniform" (averaged over seeds 0..19): a clear, seed-robust gap
(s = 0.5 gives 0.19, s = 1.5 gives 0.46). Gate weights ``W`` are the softmax scores of the top-k
(not renormalised), as in ``functionalities/gate.py``; all weights are taken on the fixed-point grid
(``quantize(W)``), which is what the routing ranks and what the layer multiplies by.

Why confidence-aware selection can only help
--------------------------------------------
Every assignment (j, i) is routed to exactly one expert, ``K[j, i]``, so the experts' candidate sets
partition the m k assignments. Let ``n_e`` be the number of assignments routed to expert e. Both
selections keep ``min(n_e, t)`` of them, since routed candidates outrank padding under either rule
(for confidence, as long as their quantised weight is > 0; see the caveat below), so both drop
exactly ``sum_e max(n_e - t, 0)`` assignments: **the dropped counts are equal**, whatever the weights.
(This count is also non-increasing in t, for each (K, W), not only on average.)
They differ in *which* are dropped: confidence drops, for each expert, the ``max(n_e - t, 0)`` routed
candidates of smallest weight, and any other choice of that many candidates (random selection's,
in particular) has a weight sum at least as large. Summing over the disjoint per-expert sets:
**dropped_mass(confidence) <= dropped_mass(random)** for every (K, W, t) and every random seed.
For the output, ``||y_exact - y_balanced||_F <= sum over dropped of W[j, i] ||E_{K[j, i]}(x_j)||
<= max_{e, j} ||E_e(x_j)|| * (dropped weight)``, so confidence minimises this worst-case bound; the
realised rel_output_error is a norm of a sum of vectors and is usually, but not provably, smaller.

Caveat (a discrepancy with ``functionalities/routing.py``'s docstring): the routing ranks candidates
by the *quantised* weight, so a routed assignment whose weight rounds to 0 (W < 2^-17) ties with
padding, and under confidence selection it can lose to a lower-indexed padding candidate and be dropped
although its expert had spare capacity. Its weight mass is 0, so the mass inequality above still
holds, but the count equality does not. Softmax top-k weights here are far above 2^-17.
"""
from __future__ import annotations

import math

import pandas as pd
import torch

from functionalities.fixed_point import quantize
from functionalities.moe import WEIGHT_RANGE, X_RANGE, expert_ffn
from functionalities.routing import Routing, balanced_routing, resolve_capacity

KINDS = ("uniform", "zipf")
#: Zipf-like popularity skew: expert e's logit is biased by ``-ZIPF_SKEW * log(e + 1)``.
ZIPF_SKEW = 1.0
METRICS = ("dropped_fraction", "dropped_mass", "rel_output_error")
COLUMNS = ["kind", "capacity_factor", "selection", "capacity", "metric", "value", "seed"]
#: Scale of the random expert weights: U, V ~ N(0, 1/d) * WEIGHT_SCALE, D ~ N(0, 1/f) * WEIGHT_SCALE.
WEIGHT_SCALE = 0.5
#: The layer's weights use their own random stream, so they do not depend on the router's draws.
_LAYER_SEED_OFFSET = 1_000_003


def router_logits(kind: str, tokens: int, experts: int, seed: int, skew: float = ZIPF_SKEW) -> torch.Tensor:
    """(m, E) float64 router logits: i.i.d. N(0, 1), plus ``-skew * log(e + 1)`` for kind "zipf"."""
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(tokens, experts, generator=g, dtype=torch.float64)
    if kind == "zipf":
        logits = logits - skew * torch.log(torch.arange(experts, dtype=torch.float64) + 1.0)
    return logits


def route(logits: torch.Tensor, top_k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """softmax then top-k per token (ties -> lower expert index) -> K (m, k) int64, W (m, k) float64."""
    scores = torch.softmax(logits.double(), dim=-1)
    w, k = torch.sort(scores, dim=-1, descending=True, stable=True)
    return k[:, :top_k], w[:, :top_k]


def make_layer(tokens: int, experts: int, hidden: int, ffn: int, seed: int):
    """Seeded x (m, d), U, V (E, d, f), D (E, f, d) inside the layer's declared domain (|x| <= 1,
    |U|, |V|, |D| <= 0.5): x ~ N(0, 1)/sqrt(d), U, V ~ N(0, 1/d) * WEIGHT_SCALE, D ~ N(0, 1/f) * WEIGHT_SCALE,
    all clipped to that domain."""
    g = torch.Generator().manual_seed(seed + _LAYER_SEED_OFFSET)

    def normal(*shape, std):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * std

    x = normal(tokens, hidden, std=1 / math.sqrt(hidden)).clamp(-X_RANGE, X_RANGE)
    U = normal(experts, hidden, ffn, std=WEIGHT_SCALE / math.sqrt(hidden)).clamp(-WEIGHT_RANGE, WEIGHT_RANGE)
    V = normal(experts, hidden, ffn, std=WEIGHT_SCALE / math.sqrt(hidden)).clamp(-WEIGHT_RANGE, WEIGHT_RANGE)
    D = normal(experts, ffn, hidden, std=WEIGHT_SCALE / math.sqrt(ffn)).clamp(-WEIGHT_RANGE, WEIGHT_RANGE)
    return x, U, V, D


def expert_outputs(x: torch.Tensor, U: torch.Tensor, V: torch.Tensor, D: torch.Tensor) -> torch.Tensor:
    """Every expert on every token, (E, m, d): row (e, j) is E_e(x_j). One batched call."""
    return expert_ffn(x.unsqueeze(0), U, V, D)


def exact_output(outs: torch.Tensor, K: torch.Tensor, W: torch.Tensor) -> torch.Tensor:
    """y_exact (m, d): ``y_j = sum_i W[j, i] E_{K[j, i]}(x_j)``, on quantised W."""
    tokens = K.shape[0]
    gathered = outs[K, torch.arange(tokens).unsqueeze(1)]                 # (m, k, d)
    return (quantize(W).unsqueeze(-1) * gathered).sum(1)


def balanced_output(outs: torch.Tensor, r: Routing) -> torch.Tensor:
    """y_balanced (m, d): sum over (e, i) of ``S[e, i] E_e(x[T[e, i]])`` (padding has S = 0)."""
    experts, tokens, hidden = outs.shape
    per_slot = outs[torch.arange(experts).unsqueeze(1), r.T] * r.S.unsqueeze(-1)    # (E, t, d)
    y = torch.zeros(tokens, hidden, dtype=outs.dtype)
    return y.index_add_(0, r.T.reshape(-1), per_slot.reshape(-1, hidden))


def dropped_output(outs: torch.Tensor, K: torch.Tensor, W: torch.Tensor, dropped: torch.Tensor) -> torch.Tensor:
    """(m, d): sum over dropped (j, i) of ``W[j, i] E_{K[j, i]}(x_j)`` -- what y_exact has and y_balanced lacks."""
    return exact_output(outs, K, W * dropped)


def drop_stats(K: torch.Tensor, W: torch.Tensor, r: Routing) -> dict:
    """dropped_count, dropped_fraction and dropped_mass (on quantised W) of a routing."""
    wq = quantize(W)
    count = int(r.dropped.sum())
    total = float(wq.sum())
    mass = float((wq * r.dropped).sum()) / total if total > 0 else 0.0
    return {"dropped_count": count, "dropped_fraction": count / K.numel(), "dropped_mass": mass}


def fidelity(kind: str, capacity_factor: float, selection: str, *, tokens: int = 128, experts: int = 8,
             top_k: int = 2, hidden: int = 16, ffn: int = 32, seed: int = 0) -> dict:
    """Balanced vs exact routing for one (router kind, f, selection): the metrics of the module docstring,
    plus ``capacity`` (t) and ``dropped_count``."""
    capacity = resolve_capacity(tokens, experts, top_k, capacity_factor=capacity_factor)
    K, W = route(router_logits(kind, tokens, experts, seed), top_k)
    r = balanced_routing(K, W, experts, capacity, selection, seed)
    outs = expert_outputs(*make_layer(tokens, experts, hidden, ffn, seed))
    y_exact, y_bal = exact_output(outs, K, W), balanced_output(outs, r)
    rel = float(torch.linalg.norm(y_bal - y_exact) / torch.linalg.norm(y_exact))
    return {"capacity": capacity, **drop_stats(K, W, r), "rel_output_error": rel}


def fidelity_table(seed: int = 0, kinds=KINDS, factors=(1.0, 1.5, 2.0), selections=("confidence", "random"),
                   **sizes) -> pd.DataFrame:
    """Tidy table, one row per (kind, capacity_factor, selection, metric); ``sizes`` go to ``fidelity``."""
    rows = []
    for kind in kinds:
        for f in factors:
            for sel in selections:
                res = fidelity(kind, f, sel, seed=seed, **sizes)
                rows += [{"kind": kind, "capacity_factor": f, "selection": sel, "capacity": res["capacity"],
                          "metric": m, "value": res[m], "seed": seed} for m in METRICS]
    return pd.DataFrame(rows, columns=COLUMNS)


def plot_fidelity(table: pd.DataFrame, path):
    """Two panels (dropped fraction, relative output error) against f, a line per (kind, selection),
    averaged over seeds if the table holds several. Writes ``path`` (format from its suffix); returns it."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(10, 4), layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(1, 2)
    styles = {"confidence": "-", "random": "--"}
    for ax, metric, title in zip(axes, ("dropped_fraction", "rel_output_error"),
                                 ("dropped assignments / (m k)", "||y_balanced - y_exact|| / ||y_exact||")):
        sub = table[table.metric == metric]
        for (kind, sel), grp in sub.groupby(["kind", "selection"], sort=True):
            line = grp.groupby("capacity_factor")["value"].mean()
            ax.plot(line.index, line.values, styles.get(sel, ":"), marker="o", label=f"{kind}, {sel}")
        ax.set_xlabel("capacity factor f  (t = floor(f k m / E))")
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0].legend()
    fig.suptitle("Balanced routing vs exact routing")
    fig.savefig(path, dpi=120)
    return path
