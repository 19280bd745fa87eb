"""``privmoe reproduce``: the papers' published numbers beside privmoe's two accountings.

For every published number (``analysis/published.py``, the only hand-typed column):

* ``paper``: the pipeline the authors measured, costed from structure with privmoe's one set of unit
  costs (``cost_models/moe_paper.py`` for the MoE layers and their dispatch/combine; the HE matmul counts
  in the papers' convention of N slots per ciphertext; NEXUS as its authors specify it; CipherGPT's
  structural model);
* ``ratio`` = paper / published, and for |ratio - 1| > 0.15 one sentence naming the cause;
* ``protocol``: what the protocol as privmoe specifies and runs costs (``cost_models/moe.py`` on the
  ``cheetah`` units: the MoE layers with the hybrid structure -- the server's plaintext weights through HE
  ciphertext x plaintext products, shares -> HE and HE -> shares around each (``linear=he``) -- privmoe's
  own top-t network and //k-free dispatch; the HE matmuls as privmoe runs them, N/2 slots per ciphertext),
  so each improvement is a visible delta against a faithful baseline.

Every number but the published one is computed here, at the published row's parameters.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import pandas as pd

from analysis.cost_models import cheetah as CH
from analysis.cost_models import ciphergpt
from analysis.cost_models import he as H
from analysis.cost_models import moe as M
from analysis.cost_models import moe_paper as MP
from analysis.published import MODELS, PUBLISHED, TOKENS, Published
from functionalities.routing import resolve_capacity

#: a deviation beyond this needs its sentence
TOLERANCE = 0.15


@dataclass(frozen=True)
class Row:
    """One published number, privmoe's paper accounting of it, the cause of any deviation, and privmoe's
    protocol accounting."""

    item: Published
    paper: float
    protocol: float | None
    cause: str

    @property
    def ratio(self) -> float:
        return self.paper / self.item.value

    def as_dict(self) -> dict:
        p = self.item
        return {"key": p.key, "source": p.source, "quantity": p.quantity, "parameters": _params_text(p.params),
                "published": p.value, "unit": p.unit, "paper": self.paper, "ratio": self.ratio,
                "cause": self.cause, "protocol": self.protocol,
                "protocol / paper": (self.protocol / self.paper if self.protocol is not None and self.paper
                                     else None)}


def _params_text(params: dict) -> str:
    return ", ".join(f"{k}={v}" for k, v in params.items() if k != "model")


def _capacity(p: dict, f: float) -> int:
    return resolve_capacity(p["tokens"], p["experts"], p["top_k"], None, f)


# -- Table 2 --------------------------------------------------------------------------------------------
def _hybrid() -> dict:
    from protocols.mpc.secmoe_moe import he_params

    return {"linear": "he", "he_params": he_params()}


#: the protocol accounting's layers have the hybrid structure (``protocols/he/hybrid_linear.py``): the
#: experts' linears on the server's plaintext weights by HE (BOLT for dense and CipherPrune-style, the batch
#: matmul for CryptoMoE) at privmoe's parameters, shares -> HE and HE -> shares around them
HYBRID = _hybrid()
def _layer_costs(p: dict) -> tuple:
    """(paper cost, protocol cost) of a Table 2 layer."""
    m, d, f, E, k = p["tokens"], p["hidden"], p["ffn"], p["experts"], p["top_k"]
    layer = p["layer"]
    t = _capacity(p, p["capacity_factor"]) if "capacity_factor" in p else None
    paper = MP.layer(layer, m, d, f, E, k, t)
    if layer == "cryptomoe":
        from protocols.mpc.cryptomoe_combine import choose_variant

        protocol = M.cryptomoe_moe(CH, m, d, f, E, k, t, choose_variant(m, d), **HYBRID)
    elif layer == "dense":
        protocol = M.dense_moe(CH, m, d, f, E, k, **HYBRID)
    elif layer == "insecure":
        protocol = M.insecure_moe_balanced(CH, m, d, f, E, k, t)
    else:
        protocol = M.cipherprune_moe(CH, m, d, f, E, k, t, **HYBRID)
    return paper, protocol


def _table2_cause(item: Published, paper: float) -> str:
    p = item.params
    if p["layer"] == "cipherprune":
        t = _capacity(p, 1.0)
        return (f"The authors' CipherPrune-style pipeline is in neither their public code nor their logs; privmoe "
                f"charges its own compaction (t = {t} bubble passes over the k m = {p['top_k'] * p['tokens']} "
                f"candidates, d-wide rows), which grows with k t across the three models while the published "
                f"column falls with it (Qwen > DeepSeekMoE > OLMoE).")
    return (f"Unexplained: {paper:.1f} MB/token against {item.value}; moe_paper.py no longer follows the authors' "
            f"logged run of this layer (tests/test_published.py compares them).")


def _per_token_mb(cost, p: dict) -> float:
    return cost.bytes / p["tokens"] / 1e6


# -- the rebuttal's dispatch / combine ---------------------------------------------------------------------
def _dispatch_combine(item: Published) -> tuple[float, float | None, str]:
    p = item.params
    m, d, E, k, t = p["tokens"], p["hidden"], p["experts"], p["top_k"], p["capacity"]
    step, layer = item.key.split("/")[1], item.key.split("/")[2]
    if layer == "cipherprune":
        fn = M.cipherprune_dispatch if step == "dispatch" else M.cipherprune_combine
        paper = fn(CH, m, d, E, k, t).bytes / 1e9
        cas = sum(M.swap_pairs(k * m, t))
        per = item.value * 1e9 / (E * cas * (d if step == "combine" else d + 2))
        cause = (f"The authors' CipherPrune-style code is not public; privmoe's compaction runs {cas:,} "
                 f"compare-and-swaps of (d + 2)-wide rows per expert (the combine replays them on d-wide rows), "
                 f"each row element through Cheetah's multiplexer at {CH.mux(1).bytes} bytes (the "
                 f"calibration's select - less); the published figure is {per:.1f} bytes per such element, "
                 f"i.e. fewer swaps or a cheaper multiplexer than privmoe can derive.")
        return paper, paper, cause
    from protocols.mpc.cryptomoe_combine import choose_variant

    if step == "dispatch":
        paper = MP.dispatch(CH, m, d, E, k, t).bytes / 1e9
        protocol = M.cryptomoe_dispatch(CH, m, d, E, k, t).bytes / 1e9
        alt = MP.dispatch(CH, m, d, E, k, 2 * t).bytes / 1e9
    else:
        paper = MP.combine(CH, m, d, E, t).bytes / 1e9
        protocol = M.cryptomoe_combine(CH, m, d, E, t, choose_variant(m, d)).bytes / 1e9
        alt = MP.combine(CH, m, d, E, 2 * t).bytes / 1e9
    cause = (f"At t = {2 * t} (f = 2) the authors' pipeline costs {alt:.3f} GB ({alt / item.value:.3f} of the "
             f"published value): the rebuttal's CryptoMoE columns match f = 2, not the t = {t} the table states.")
    return paper, protocol, cause


# -- the rebuttal's matmul table ------------------------------------------------------------------------
def _matmul(item: Published) -> tuple[float, float | None, str]:
    p = item.params
    E, t, di, do, N = p["experts"], p["capacity"], p["d_in"], p["d_out"], p["poly_degree"]
    method, metric = p["method"], item.key.split("/")[-1]
    if method == "CipherGPT":
        paper = ciphergpt.matmul(E, t, di, do).bytes / 1e9
        bits = item.value * 1e9 * 8 / (E * t * di * do)
        return paper, None, (f"privmoe charges one 64-bit VOLE correlation per scalar product (no amortisation "
                             f"over t = {t} tokens); the published figure is {bits:.0f} bits per product, an "
                             f"overhead (e.g. a larger VOLE field) no source privmoe holds derives.")
    if method == "NEXUS":
        paper_c, protocol_c = H.nexus_published(E, t, di, do, N), H.nexus_matmul(E, t, di, do, N, N)
    else:
        packing = "bolt" if method.startswith("BOLT") else "batch"
        paper_c = H.matmul(E, t, di, do, N, True, packing, slots=N)
        protocol_c = H.matmul(E, t, di, do, N, True, packing)
    if metric == "bytes":
        paper, protocol = paper_c.bytes / 1e9, protocol_c.bytes / 1e9
        per = item.value * 1e9 / paper_c.ciphertexts
        cause = (f"Same {paper_c.ciphertexts:,} ciphertexts; the rebuttal charges {per / 1e6:.2f} MB per "
                 f"ciphertext, privmoe sends seeded queries over three primes "
                 f"({H.HEParams(N).seeded_ciphertext_bytes() / 1e6:.3f} MB) and answers switched down to two "
                 f"({H.HEParams(N).response_bytes() / 1e6:.3f} MB).")
        return paper, protocol, cause
    key = "key_switches" if method == "NEXUS" else "rotations"
    paper, protocol = getattr(paper_c, key), getattr(protocol_c, key)
    cause = ("Convention: NEXUS's expansion and packing are automorphisms, so it is compared on key switches "
             "(rotations + automorphisms); the rebuttal counts one expansion tree per expert over its "
             f"{t * di:,} values, privmoe one per {N}-coefficient ciphertext.") if method == "NEXUS" else ""
    return paper, protocol, cause


# -- SecMoE's claims ----------------------------------------------------------------------------------------
def _secmoe(item: Published) -> tuple[float, float | None, str]:
    from analysis import registry

    p = item.params
    if item.key == "secmoe/experts_32_to_128":
        base = {k: p[k] for k in ("tokens", "hidden", "ffn", "top_k")}

        def ratio(name):
            entry = registry.get(name)
            lo, hi = (entry.cost("cheetah", entry.resolve({**base, "experts": e})).bytes for e in p["experts"])
            return hi / lo
        ours, reshared = ratio("secmoe.moe"), ratio("reshared.moe")
        return ours, ours, (f"secmoe.moe keeps the selected weights encrypted (paper and protocol accountings are "
                            f"the same protocol); the re-shared baseline grows by {reshared:.3f}x.")
    gelu = registry.get("secmoe.gelu")
    ours = gelu.cost("cheetah", gelu.resolve({"n": p["n"]})).bytes
    saved = 1 - ours / CH.gelu(p["n"]).bytes
    return saved, saved, (f"secmoe.gelu (SecMoE's Protocol 2: 6 pieces, 5 comparisons, privmoe's breakpoints) against "
                          f"SPU's GeLU on the same unit costs saves {saved:.0%}: its three fixed-point products "
                          f"(x^2, a1 x, a2 x^2) cost more than the published 81 % leaves room for on SPU's units; "
                          f"the paper's BumbleBee baseline and per-operation costs are not published "
                          f"(analysis/gelu_claims.py).")


def _row(item: Published) -> Row:
    if item.source.startswith("CryptoMoE Table 2"):
        paper_c, protocol_c = _layer_costs(item.params)
        paper, protocol = _per_token_mb(paper_c, item.params), _per_token_mb(protocol_c, item.params)
        cause = _table2_cause(item, paper)
    elif "/dispatch/" in item.key or "/combine/" in item.key:
        paper, protocol, cause = _dispatch_combine(item)
    elif item.key.startswith("rebuttal/matmul"):
        paper, protocol, cause = _matmul(item)
    else:
        paper, protocol, cause = _secmoe(item)
    if abs(paper / item.value - 1) <= TOLERANCE and not cause.startswith("Convention"):
        cause = ""
    return Row(item, paper, protocol, cause)


def rows() -> list[Row]:
    """Every published number with privmoe's accountings (module docstring)."""
    return [_row(p) for p in PUBLISHED]


def table() -> pd.DataFrame:
    return pd.DataFrame([r.as_dict() for r in rows()])


def logged_runs() -> pd.DataFrame:
    """The authors' fifteen profiled runs (``cost_models/spu_logs.py``) beside privmoe's paper accounting of
    the same layer, in total and per op class (HLO ops of the profile vs the model's steps): the check that
    the pipeline and the unit costs, not the totals alone, agree with what was measured."""
    from analysis.cost_models import spu_logs

    out = []
    for r in spu_logs.runs():
        p = r["params"]
        cost = MP.layer(r["layer"], p["tokens"], p["hidden"], p["ffn"], p["experts"], p["top_k"], p.get("capacity"))
        row = {"model": r["model"], "layer": r["layer"], "capacity_factor": r["capacity_factor"],
               "log": f"{r['file']} run {r['run']}", "logged MB/token": spu_logs.mb_per_token(r),
               "paper MB/token": cost.bytes / p["tokens"] / 1e6}
        row["ratio"] = row["paper MB/token"] / row["logged MB/token"]
        model_cls = MP.by_op_class(cost)
        for cls, (hlo_ops, _) in MP.OP_CLASSES.items():
            logged = sum(r["hlo"].get(op, 0) for op in hlo_ops)
            row[f"{cls} ratio"] = model_cls[cls] / logged if logged else float("nan")
        out.append(row)
    return pd.DataFrame(out)


def step_deltas(model: str = "DeepSeekMoE-16B", layer: str = "cryptomoe", capacity_factor: float | None = 1.0
                ) -> pd.DataFrame:
    """Where the bytes go, per step, in the paper and the protocol accounting of one Table 2 layer (MB per
    token; a step only one accounting has shows 0 in the other)."""
    p = {"tokens": TOKENS, **MODELS[model], "layer": layer,
         **({} if capacity_factor is None else {"capacity_factor": capacity_factor})}
    paper, protocol = _layer_costs(p)
    a = {n: c.bytes / TOKENS / 1e6 for n, c in paper.steps}
    b = {n: c.bytes / TOKENS / 1e6 for n, c in protocol.steps}
    names = list(a) + [n for n in b if n not in a]
    order = sorted(names, key=lambda n: ([n.split("/")[0] == s for s in ("gate", "dispatch", "experts",
                                                                        "combine")].index(True)
                                         if n.split("/")[0] in ("gate", "dispatch", "experts", "combine")
                                         else 9, names.index(n)))
    rows = [{"step": n, "paper MB/token": a.get(n, 0.0), "protocol MB/token": b.get(n, 0.0),
             "protocol - paper": b.get(n, 0.0) - a.get(n, 0.0)} for n in order]
    rows.append({"step": "total", "paper MB/token": paper.bytes / TOKENS / 1e6,
                 "protocol MB/token": protocol.bytes / TOKENS / 1e6,
                 "protocol - paper": (protocol.bytes - paper.bytes) / TOKENS / 1e6})
    return pd.DataFrame(rows)


def delta_summary(steps: pd.DataFrame) -> str:
    """One sentence: the largest per-step differences between the accountings (``step_deltas``)."""
    leaves = steps[steps.step.str.contains("/")].copy()
    leaves["abs"] = leaves["protocol - paper"].abs()
    top = leaves.sort_values("abs", ascending=False).head(4)
    parts = [f"`{r.step}` {r['protocol - paper']:+.2f}" for _, r in top.iterrows()]
    total = steps[steps.step == "total"].iloc[0]
    return (f"the protocol costs {total['protocol - paper']:+.2f} MB/token against the paper pipeline; the "
            f"largest differences are " + ", ".join(parts) + " (a step only one accounting has counts as 0 in "
            "the other: SiLU, as the models use it, against the authors' GeLU proxy).")


def markdown(df: pd.DataFrame | None = None) -> str:
    """The reproduction table as Markdown (numbers rounded for reading; ``--json`` has them all)."""
    df = table() if df is None else df

    def fmt(v):
        if v is None or (isinstance(v, float) and v != v):
            return "—"
        if isinstance(v, float):
            return f"{v:,.0f}" if abs(v) >= 1000 else f"{v:.4g}"
        return f"{v:,}" if isinstance(v, int) else str(v)
    cols = [c for c in ("source", "quantity", "parameters", "published", "unit", "paper", "ratio", "protocol",
                        "cause") if c in df.columns]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for _, r in df.iterrows():
        lines.append("| " + " | ".join(fmt(r[c]) for c in cols) + " |")
    return "\n".join(lines)


# -- checks (each returns its problems; the tests assert none, and that planted errors are found) ---------
#: the structural matmul against every logged call: partition and packing exact, bytes within this
CALL_TOLERANCE = 0.01


def check_logged_calls() -> list[str]:
    """Every matmul call of the authors' logs against ``cheetah_matmul.plan``: the same partition and
    packing, queries and answers within ``CALL_TOLERANCE`` (the logs print MiB to three decimals)."""
    from analysis.cost_models import cheetah_matmul as CM
    from analysis.cost_models import spu_logs

    problems = []
    for c in spu_logs.dot_calls():
        p = CM.plan(c["m"], c["k"], c["n"], c["batch"])
        where = f"{c['batch']}@{c['m']}x{c['k']}x{c['n']} ({c['file']})"
        if list(p.sub) != c["subshape"] or p.packing != c["packing"]:
            problems.append(f"{where}: plan {p.sub} {p.packing}, logged {tuple(c['subshape'])} {c['packing']}")
        for what, model, logged in (("queries", p.query_bytes, c["recv_mib"]),
                                    ("answers", p.answer_bytes, c["response_mib"])):
            if abs(model / 2**20 / logged - 1) > CALL_TOLERANCE:
                problems.append(f"{where}: {what} {model / 2**20:.3f} MiB, logged {logged} MiB")
    return problems


def check_logged_runs(total: tuple[float, float] = (0.90, 1.0), by_class: tuple[float, float] = (0.90, 1.05)
                      ) -> list[str]:
    """The paper accounting against each logged run: the total within ``total`` of the log (privmoe charges
    no set-up, so it may only fall short) and the matmul, top-k and nonlinear classes within ``by_class``."""
    problems = []
    for _, r in logged_runs().iterrows():
        lo, hi = total
        if not lo <= r["ratio"] <= hi:
            problems.append(f"{r['log']}: total {r['ratio']:.3f} of the logged run")
        lo, hi = by_class
        for cls in ("matmul", "top-k", "nonlinear and products"):
            if not lo <= r[f"{cls} ratio"] <= hi:
                problems.append(f"{r['log']}: {cls} {r[f'{cls} ratio']:.3f} of the logged ops")
    return problems


def check_table2_traffic(tolerance: float = 0.04) -> list[str]:
    """Table 2's cells are the logged runs' traffic per token (MB = 10^6): each published cell with a log
    within ``tolerance`` of ``spu_logs.mb_per_token``."""
    from analysis.cost_models import spu_logs

    published = {(p.params["model"], p.params["layer"], p.params.get("capacity_factor") if p.params["layer"]
                  == "cryptomoe" else None): p.value for p in PUBLISHED if p.source.startswith("CryptoMoE Table 2")}
    problems, matched = [], 0
    for r in spu_logs.runs():
        key = (r["model"], r["layer"], r["capacity_factor"] if r["layer"] == "cryptomoe" else None)
        if key not in published:
            continue
        matched += 1
        got = spu_logs.mb_per_token(r)
        if abs(got / published[key] - 1) > tolerance:
            problems.append(f"{key}: logged {got:.2f} MB/token, published {published[key]}")
    if matched < 12:
        problems.append(f"only {matched} logged runs have a published cell (expected 12)")
    return problems
