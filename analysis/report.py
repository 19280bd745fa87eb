"""``privmoe report``: report.md + PNG plots + costs.csv (tidy) + manifest.json.

Sections: 1 dispatch (CipherPrune vs CryptoMoE), 2 HE matmuls, 3 the MoE layer per model (LAN/WAN),
4 routing fidelity, 5 model vs measurement (every protocol) with the fixed-point error vs its bound,
6 the security checks. Figures come from ``analysis/plots.py``, each drawn from the tidy table.
"""
from __future__ import annotations

import json
import platform
import subprocess
import time
from pathlib import Path

import pandas as pd

from analysis import comparisons, harness, registry
from analysis.published import MODELS, TOKENS  # the papers' models; prefill with m = 128 tokens
from analysis.registry import Entry
from analysis.strategies import draw_example_inputs
#: (online metric, phase, direction) rows of the tidy table for a CrypTen run
METRIC_ROWS = [("rounds", "online", "both"), ("bytes_client_to_server", "online", "client->server"),
               ("bytes_server_to_client", "online", "server->client"), ("offline_bytes", "offline", "dealer->server")]


def draw_example(entry: Entry, seed: int):
    """One deterministic (params, inputs) from the entry's strategies (Hypothesis, seeded)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed
    from hypothesis import strategies as st

    params = dict(entry.resolve())
    return params, draw_example_inputs(entry, params, seed)


from analysis.cost_models.cost import METRICS

PHASE = {"rounds": ("online", "both"), "bytes_client_to_server": ("online", "client->server"),
         "bytes_server_to_client": ("online", "server->client"), "offline_bytes": ("offline", "dealer->server")}
ROW_METRICS = [m for m in METRICS if m != "bytes"]


def cost_rows(section: str, label: str, protocol: str, backend: str, params: dict, cost, measured: dict | None = None,
              seed: int = 0, sweep: str | None = None) -> list[dict]:
    """The tidy rows of one cost (total and every step), measured beside analytic where given (totals)."""
    rows = []
    for step, c in [("total", cost)] + list(cost.steps):
        for metric, value in c.to_dict().items():
            if metric == "bytes":
                continue
            phase, direction = PHASE.get(metric, ("he", "server"))
            got = measured.get(metric, float("nan")) if (measured is not None and step == "total") else float("nan")
            rows.append(dict(section=section, label=label, sweep=sweep, protocol=protocol, backend=backend, step=step,
                             phase=phase, direction=direction, metric=metric, analytic=value, measured=got,
                             parameters=json.dumps(params, sort_keys=True, default=str), seed=seed))
    return rows


def _observed_error(ideal, real) -> float:
    """max |real - ideal| over the float outputs of matching shape (nan if none)."""
    import torch

    pairs = list(zip(ideal, real)) if isinstance(ideal, (tuple, list)) else [(ideal, real)]
    errs = [float((a.double() - b.double()).abs().max()) for a, b in pairs
            if isinstance(a, torch.Tensor) and a.is_floating_point() and a.shape == b.shape and a.numel()]
    return max(errs) if errs else float("nan")


def section_model_vs_measurement(seed: int, bar) -> tuple[list[dict], list[dict]]:
    """5. Every registered protocol with a measured backend, one seeded example each."""
    rows, fixed = [], []
    for entry in registry.all_entries():
        if entry.negative_control:
            continue
        params, inputs = draw_example(entry, seed)
        backend = harness.default_backend(entry)
        ex = harness.run_example(entry, params, inputs, seed=seed, backend=backend)
        got = harness.measured(ex.real)
        rows += cost_rows("5", entry.name, entry.name, backend, params, entry.cost(backend, params), got, seed)
        fixed.append({"protocol": entry.name, "observed_error": _observed_error(ex.ideal, ex.real.outputs),
                      "bound": entry.error_bound(params), "equivalence": "ok" if not ex.equivalence else "FAIL",
                      "model == measured": "yes" if not ex.cost else "NO", "wall_s": round(ex.real.wall_time, 3)})
        bar.advance(entry.name)
    return rows, fixed


#: 5's sweep (the model-vs-measured figure): a few protocols measured over sizes spanning orders of
#: magnitude -- CrypTen runs (privmoe's Meter) and HE matmuls as two parties on the slot simulator (the
#: protocol's own code, every key and ciphertext serialized on the wire, every HE operation counted)
SWEEPS = [
    ("equal", "crypten", [{"n": n} for n in (4, 64, 1024, 16384)]),
    ("topk", "crypten", [{"rows": 2, "length": n, "t": 2} for n in (4, 16, 64)]),
    ("cryptomoe.dispatch", "crypten", [{"tokens": m, "hidden": 4, "experts": 4, "top_k": 2, "capacity_factor": 1.0}
                                       for m in (4, 16, 48)]),
    ("bolt.matmul", "sim", [{"experts": e, "capacity": t, "d_in": d, "d_out": d, "poly_degree": 8192}
                            for e, t, d in ((1, 2, 8), (2, 4, 32), (4, 8, 128), (8, 16, 512))]),
    ("cryptomoe.matmul", "sim", [{"experts": e, "capacity": t, "d_in": d, "d_out": d, "poly_degree": 8192}
                                       for e, t, d in ((1, 2, 8), (2, 4, 32), (4, 8, 128), (8, 16, 512))]),
]


def section_model_sweep(seed: int) -> list[dict]:
    """5 (figure): ``SWEEPS``, each size measured beside its model (tidy rows of section ``5s``)."""
    rows = []
    for name, backend, sizes in SWEEPS:
        e = registry.get(name)
        for size in sizes:
            p = e.resolve(size)
            run = harness.run_real(e, p, draw_example_inputs(e, p, seed), seed=seed, timeout=120,
                                   backend=backend if e.kind == "he" else None)    # HE: two parties, on the wire
            rows += cost_rows("5s", name, name, backend, p, e.cost(backend, p), harness.measured(run), seed,
                              sweep=name)
    return rows


def section_dispatch(seed: int, quick: bool) -> list[dict]:
    """1. CipherPrune vs CryptoMoE dispatch + combine: measured small, projected at paper scale, sweeps."""
    rows = []
    small = {"tokens": 6 if quick else 12, "hidden": 8, "experts": 4, "top_k": 2, "capacity_factor": 2.0}
    for name in ("cryptomoe.dispatch", "cipherprune.dispatch", "cipherprune.combine"):
        e = registry.get(name)
        p = e.resolve(small)
        inputs = draw_example_inputs(e, p, seed)
        run = harness.run_real(e, p, inputs, seed=seed)
        rows += cost_rows("1", name, name, "crypten", p, e.cost("crypten", p), harness.measured(run), seed)
    for model, cfg in MODELS.items():
        base = {"tokens": TOKENS, "hidden": cfg["hidden"], "experts": cfg["experts"], "top_k": cfg["top_k"],
                "capacity_factor": 1.0}
        for name, label in (("cryptomoe.dispatch", "CryptoMoE dispatch"), ("cryptomoe.combine", "CryptoMoE combine"),
                            ("cipherprune.combine", "CipherPrune dispatch+combine")):
            e = registry.get(name)
            p = e.resolve({k: v for k, v in base.items() if k in e.defaults} | (
                {"capacity": registry.get("cryptomoe.dispatch").resolve(base)["capacity"]} if name == "cryptomoe.combine" else {}))
            rows += cost_rows("1p", label, name, "cheetah", {**p, "model": model}, e.cost("cheetah", p), seed=seed)
    ds = MODELS["DeepSeekMoE-16B"]
    for sweep, values in (("t", [2, 4, 8, 12, 24, 48]), ("d", [256, 512, 1024, 2048, 4096])):
        for v in values:
            base = {"tokens": TOKENS, "hidden": ds["hidden"] if sweep == "t" else v, "experts": ds["experts"],
                    "top_k": ds["top_k"], "capacity": v if sweep == "t" else 12}
            cm = registry.get("cryptomoe.dispatch").cost("cheetah", registry.get("cryptomoe.dispatch").resolve(base))
            comb = registry.get("cryptomoe.combine")
            cm = cm + comb.cost("cheetah", comb.resolve({k: base[k] for k in ("tokens", "hidden", "experts", "capacity")}))
            cp = registry.get("cipherprune.combine").cost("cheetah", registry.get("cipherprune.combine").resolve(base))
            rows += cost_rows("1s", "CryptoMoE", "cryptomoe.dispatch+combine", "cheetah", base, cm.flat(), sweep=sweep)
            rows += cost_rows("1s", "CipherPrune", "cipherprune.dispatch+combine", "cheetah", base, cp.flat(), sweep=sweep)
    return rows


def section_matmul(seed: int, quick: bool) -> list[dict]:
    """2. HE matmuls: measured on SEAL at small dims, closed form at paper dims, sweeps over E and t."""
    from analysis.cost_models import ciphergpt
    from analysis.cost_models import he as H

    rows = []
    small = {"experts": 2, "capacity": 4, "d_in": 16, "d_out": 16, "poly_degree": 8192, "pack": 64}
    variants = [("BOLT", "bolt.matmul", False), ("BOLT+BSGS", "bolt.matmul", True),
                ("batch", "cryptomoe.matmul", False), ("batch+BSGS", "cryptomoe.matmul", True),
                ("NEXUS", "nexus.matmul", False)]
    for label, name, bsgs in variants:
        e = registry.get(name)
        p = e.resolve({**small, "bsgs": bsgs})
        run = harness.run_real(e, p, draw_example_inputs(e, p, seed), seed=seed, backend="seal")
        rows += cost_rows("2", label, name, "seal", p, e.cost("seal", p), harness.measured(run), seed)
    paper = {"experts": 64, "capacity": 32, "d_in": 2048, "d_out": 2048, "poly_degree": 8192}
    for label, name, bsgs in variants:
        e = registry.get(name)
        p = e.resolve({**paper, "bsgs": bsgs, "pack": 8192})
        rows += cost_rows("2p", label, name, "sim", p, e.cost("sim", p), seed=seed)
    rows += cost_rows("2p", "CipherGPT (model)", "ciphergpt.matmul", "model", paper,
                      ciphergpt.matmul(64, 32, 2048, 2048), seed=seed)
    for sweep, values in (("E", [2, 4, 8, 16, 32, 64]), ("t", [4, 8, 16, 32, 64])):
        for v in values:
            p = {**paper, "experts": v if sweep == "E" else 64, "capacity": v if sweep == "t" else 32}
            for label, packing, bsgs in (("BOLT", "bolt", False), ("BOLT+BSGS", "bolt", True),
                                         ("batch", "batch", False), ("batch+BSGS", "batch", True)):
                try:
                    c = H.matmul(p["experts"], p["capacity"], 2048, 2048, 8192, bsgs, packing)
                except ValueError:
                    continue
                rows += cost_rows("2s", label, f"{packing}.matmul", "sim", p, c, sweep=sweep)
            rows += cost_rows("2s", "NEXUS", "nexus.matmul", "sim", p,
                              H.nexus_matmul(p["experts"], p["capacity"], 2048, 2048, 8192, 8192), sweep=sweep)
    return rows


#: the layers of §3, all with the hybrid structure (``linear=he``: the server's plaintext weights by HE, shares
#: -> HE -> shares around every linear): dense (BOLT), CryptoMoE (batch matmul), CipherPrune-style (BOLT), SecMoE
LAYERS = [("dense", "dense.moe", {"linear": "he"}),
          ("CryptoMoE f=1", "cryptomoe.moe", {"capacity_factor": 1.0, "linear": "he"}),
          ("CryptoMoE f=1.5", "cryptomoe.moe", {"capacity_factor": 1.5, "linear": "he"}),
          ("CryptoMoE f=2", "cryptomoe.moe", {"capacity_factor": 2.0, "linear": "he"}),
          ("CipherPrune-style f=1", "cipherprune.moe", {"capacity_factor": 1.0, "linear": "he"}),
          ("SecMoE", "secmoe.moe", {}),
          ("SecMoE re-shared (baseline)", "reshared.moe", {})]


def section_layers(network=None) -> tuple[list[dict], pd.DataFrame]:
    """3. The MoE layer per model: communication and network latency per token, per-step breakdown;
    ``network`` (a ``simulators.network.Network``) adds a column for any other link. A layer with top-t methods
    (``network`` among its parameters) is costed on each link with the methods the network rule picks for that
    link (``sorting.pick_method``): the LAN and WAN columns may be different runs of the same protocol."""
    from simulators.network import LAN, WAN, latency

    rows, lat = [], []
    for model, cfg in MODELS.items():
        for label, name, extra in LAYERS:
            e = registry.get(name)
            base = {"tokens": TOKENS, "hidden": cfg["hidden"], "ffn": cfg["ffn"], "experts": cfg["experts"],
                    "top_k": cfg["top_k"], **extra}
            p = e.resolve({k: v for k, v in base.items() if k in e.defaults})
            c = e.cost("cheetah", p)
            rows += cost_rows("3", label, name, "cheetah", {**p, "model": model}, c)

            def on(net):
                """The cost with the top-t methods the rule picks for ``net`` (the default one without them)."""
                return e.cost("cheetah", e.resolve({**p, "network": f"{net.bandwidth_bps / 1e6:g},{net.rtt_s * 1e3:g}"})) \
                    if "network" in e.defaults else c
            wan = on(WAN)
            lat.append({"model": model, "protocol": label, "MiB/token": c.bytes / TOKENS / 2**20,
                        "rounds": c.rounds, "WAN rounds": wan.rounds, "LAN ms/token": 1e3 * latency(on(LAN), LAN) / TOKENS,
                        "WAN ms/token": 1e3 * latency(wan, WAN) / TOKENS,
                        **({f"{network.name} ms/token": 1e3 * latency(on(network), network) / TOKENS} if network else {})})
    return rows, pd.DataFrame(lat)


#: the protocols and controls §6 checks live by default: one of each kind of view and of leak (MPC dispatch
#: and combine, an HE matmul's noise, the dealer, mask reuse, a weak mask, an opened value, a hybrid layer)
LIVE_SECURITY = ["equal", "cryptomoe.dispatch", "cryptomoe.combine", "insecure.moe", "leaky.dispatch",
                 "unmasked.matmul", "leaky_dealer.equal", "reuse.dispatch", "weak_mask.dispatch"]


def section_security(seed: int, quick: bool, bar, everything: bool = False) -> pd.DataFrame:
    """6. The security checks, live: ``LIVE_SECURITY`` (2 runs per family quick, 6 otherwise) or, with
    ``everything``, every protocol and negative control (6 runs: about 15 minutes, 97 % of a report that
    runs them all -- SecMoE's N = 16384 runs alone take 6 minutes; tests/test_security.py runs them all in
    CI). The recorded tables beside them: ``recorded_security``."""
    names = [e.name for e in registry.all_entries()] if everything else LIVE_SECURITY
    out = []
    for name in names:
        e = registry.get(name)
        began = time.perf_counter()
        results = harness.security_results(e, runs=2 if quick else 6, seed=seed)
        failed = [r.check for r in results if not r.passed]
        verdict = ("CAUGHT" if failed else "NOT CAUGHT") if e.negative_control else ("pass" if not failed else "FAIL")
        first = next((f for r in results for f in r.failures), "")
        out.append({"protocol": name, "negative control": e.negative_control, "verdict": verdict,
                    "failed checks": ", ".join(failed) or "-", "runs": results[0].examples,
                    "first problem": first if len(first) <= 110 else first[:107] + "...",
                    "seconds": round(time.perf_counter() - began, 1)})
        bar.advance(name)
    return pd.DataFrame(out)


def recorded_security() -> tuple[pd.DataFrame, pd.DataFrame]:
    """The security benchmarks' last recorded tables (``python -m analysis.bench_security``): per negative
    control, the checks that caught it in every seed (``security_controls.csv``); per secure protocol, the
    measured false-alarm rate of the statistical checks (``security_fwer.csv``)."""
    from analysis.bench_security import controls_table, fwer_table

    fwer = fwer_table()
    return controls_table().reset_index(), fwer.rename_axis("protocol").reset_index()


def section_published() -> tuple[str, dict[str, pd.DataFrame]]:
    """7. The papers' published numbers beside privmoe's paper and protocol accountings
    (``analysis/reproduce.py``), the authors' logged runs beside the paper accounting, and where the bytes
    go per step in one layer."""
    from analysis import reproduce

    from analysis.secmoe_claims import claims_table

    table, logged, steps = reproduce.table(), reproduce.logged_runs(), reproduce.step_deltas()
    claims = claims_table()
    shown = table.drop(columns=["key", "parameters", "protocol / paper"])
    md = f"""## 7. Published numbers

Every number the papers publish that privmoe can cost, beside two accountings on one set of unit costs
(`analysis/cost_models/cheetah.py` says where each unit comes from; no per-model or per-cell factor):
**paper** is the pipeline the authors measured (`analysis/cost_models/moe_paper.py`: their op sequence from
their benchmark script, shared weights, their batched-expert proxy, GeLU; HE counts in the papers' convention
of N slots per ciphertext), **protocol** is what the protocol as privmoe specifies costs (the server's weights
in plaintext through ciphertext x plaintext products, the //k-free dispatch, SiLU as the models use it; HE
matmuls as privmoe runs them, N/2 slots). A deviation beyond {reproduce.TOLERANCE:.0%} carries its cause. Table 2's
unit is a run's total traffic (rank 0's bytes sent + received) over its 128 tokens, in MB = 10^6 bytes.
Full precision: `reproduce.csv`, `privmoe reproduce --json`.

{reproduce.markdown(shown)}

The authors' fifteen profiled runs behind Table 2 (their SPU logs, `analysis/data/cryptomoe_spu_logs.json`)
beside privmoe's paper accounting of the same layer, in total and per op class (ratio = privmoe / logged).
The equality class is the exception, by design: SPU sets its oblivious transfers up lazily, inside the
first comparison of a run, and privmoe charges no set-up.

{_md(logged.drop(columns=["log"]), ".3f")}

Where the bytes go, DeepSeekMoE-16B, CryptoMoE f = 1 (MB per token): {reproduce.delta_summary(steps)}

{_md(steps, ".3f")}

SecMoE's claims beside privmoe's `secmoe.moe` (the selected weights kept encrypted) at m = 128, d = 2048,
f = 1408, k = 2 on `cheetah`, and `secmoe.gelu`; server time is the projection's HE operation counts times
SEAL's time per operation measured on this machine at N = 16384 (`analysis/secmoe_claims.py`):

{_md(claims.reset_index())}
"""
    return md, {"reproduce": table, "logged_runs": logged, "step_deltas": steps, "secmoe_claims": claims}


def _git_sha() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True,
                              cwd=Path(__file__).resolve().parent).stdout.strip()
    except Exception:  # noqa: BLE001 - not a checkout
        return "unknown"


def _md(df: pd.DataFrame, floatfmt: str = ".4g") -> str:
    return df.to_markdown(index=False, floatfmt=floatfmt)


def _total(rows: list[dict], section: str) -> pd.DataFrame:
    t = pd.DataFrame([r for r in rows if r["section"] == section and r["step"] == "total"])
    return t


def write_report(out: str | Path, *, quick: bool = False, seed: int = 0, network=None,
                 all_security: bool = False) -> Path:
    """Write report.md, the PNG plots, costs.csv and manifest.json into ``out``; return report.md."""
    from analysis import plots, routing
    from analysis.progress import Progress

    start = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if not quick:
        print("privmoe report: "
              + ("every security check runs live: expect about 15 minutes on 2 cores." if all_security else
                 "expect about 2 minutes on 2 cores (--all-security: every security check live, about 15)."),
              flush=True)
    n_sec = len(registry.all_entries()) if all_security else len(LIVE_SECURITY)
    bar = Progress(len(registry.all_entries()) + n_sec + 6, "report")
    timings: dict[str, float] = {}
    clock = [time.perf_counter()]

    def lap(name: str) -> None:
        """Where the time goes: seconds per section (manifest.json ``section_seconds``)."""
        now = time.perf_counter()
        timings[name] = round(now - clock[0], 2)
        clock[0] = now

    rows, fixed = section_model_vs_measurement(seed, bar)
    lap("5 model vs measurement")
    rows += section_model_sweep(seed)
    lap("5s model sweep")
    bar.advance("model sweep")
    rows += section_dispatch(seed, quick)
    lap("1 dispatch")
    bar.advance("dispatch")
    rows += section_matmul(seed, quick)
    lap("2 HE matmuls")
    bar.advance("matmul")
    layer_rows, lat = section_layers(network)
    rows += layer_rows
    where = comparisons.where_the_bytes_go(LAYERS)
    topk_methods, layer_rounds = comparisons.topk_methods_table(), comparisons.layer_rounds_table()
    lap("3 layers")
    bar.advance("layers")
    fid = routing.fidelity_table(seed=seed)
    lap("4 routing fidelity")
    bar.advance("routing")
    security = section_security(seed, quick, bar, all_security)
    controls_rec, fwer_rec = recorded_security()
    lap("6 security")
    published_md, published = section_published()
    lap("7 published numbers")
    bar.advance("published numbers")
    bar.close()

    table = pd.DataFrame(rows)
    table.to_csv(out / "costs.csv", index=False)
    fid.to_csv(out / "routing_fidelity.csv", index=False)
    published["reproduce"].to_csv(out / "reproduce.csv", index=False)
    published["logged_runs"].to_csv(out / "logged_runs.csv", index=False)
    figs = {
        "model": plots.model_vs_measured(table, out / "model_vs_measured.png"),
        "dispatch": plots.dispatch_scaling(table, out / "dispatch_scaling.png"),
        "matmul": plots.matmul_key_switches(table, out / "matmul_key_switches.png"),
        "layer": plots.layer_per_token(table, out / "layer_per_token.png"),
        "steps": plots.layer_steps(table, out / "layer_steps.png"),
        "routing": routing.plot_fidelity(fid, out / "routing_fidelity.png"),
    }

    def pivot(section, metrics=("rounds", "bytes_client_to_server", "bytes_server_to_client", "offline_bytes")):
        t = _total(rows, section)
        t = t[t.metric.isin(metrics)]
        return t.pivot_table(index=["label"], columns="metric", values=["analytic", "measured"], aggfunc="first")

    s5 = _total(rows, "5")
    s5 = s5[s5.metric.isin(["rounds", "bytes_client_to_server", "bytes_server_to_client", "offline_bytes",
                            "rotations", "pt_mults", "ct_adds", "ciphertexts", "key_switches"])]
    s5 = s5[~((s5.analytic == 0) & s5.measured.isna())]
    exact = s5.dropna(subset=["measured"])
    n_exact = int((exact.analytic == exact.measured).sum())
    sweep = _total(rows, "5s").dropna(subset=["measured"])
    n_sweep, n_sweep_exact = len(sweep), int((sweep.analytic == sweep.measured).sum())

    def flat(df):
        df = df.copy()
        df.columns = [" ".join(str(c) for c in col if c) if isinstance(col, tuple) else col for col in df.columns]
        return df.reset_index()

    d1 = flat(pivot("1"))
    d1p = _total(rows, "1p")
    d1p["model"] = d1p.parameters.map(lambda s: json.loads(s)["model"])
    d1p = d1p[d1p.metric.isin(["rounds", "bytes_client_to_server", "bytes_server_to_client"])]
    d1p = d1p.assign(GiB=lambda d: d.analytic / 2**30).pivot_table(
        index="model", columns=["label", "metric"], values="analytic", aggfunc="first")
    d1p_bytes = pd.DataFrame({lab: (d1p[(lab, "bytes_client_to_server")] + d1p[(lab, "bytes_server_to_client")]) / 2**30
                              for lab in sorted({c[0] for c in d1p.columns})}).reset_index()
    m2 = flat(pivot("2", ("key_switches", "rotations", "pt_mults", "ciphertexts", "bytes_client_to_server",
                          "bytes_server_to_client")))
    m2p = _total(rows, "2p")
    m2p = m2p[m2p.metric.isin(["rotations", "key_switches", "pt_mults", "ciphertexts", "bytes_client_to_server",
                               "bytes_server_to_client"])].pivot_table(index="label", columns="metric",
                                                                       values="analytic", aggfunc="first").reset_index()
    manifest = dict(privmoe="0.1.0", git_sha=_git_sha(), seed=seed, quick=quick, python=platform.python_version(),
                    versions=_versions(), wall_seconds=round(time.time() - start, 2), section_seconds=timings,
                    tokens=TOKENS, models=MODELS,
                    protocols=[e.name for e in registry.all_entries()], figures=[p.name for p in figs.values()])
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2))
    fid_piv = fid.pivot_table(index=["kind", "capacity_factor"], columns=["selection", "metric"], values="value")
    fid_piv.columns = [f"{a} {b}" for a, b in fid_piv.columns]
    md = f"""# privmoe report

Seed {seed}{' (quick)' if quick else ''}, git `{manifest['git_sha'][:10]}`, {manifest['wall_seconds']} s on this
machine. Definitions of rounds and bytes: `docs/accounting.md`; all numbers are in `costs.csv` (one tidy table:
protocol, backend, step, phase, direction, metric, analytic, measured, parameters, seed) and every figure can be
re-drawn from it with `analysis/plots.py`. Latency is the network model of `simulators/network.py` (LAN 3 Gbps /
0.2 ms, WAN 400 Mbps / 40 ms; a round costs the one-way delay RTT/2; no compute, no overlap, no slow start;
validated against runs on an emulated link by `python -m analysis.bench_network`). Paper scale: m = {TOKENS} tokens.

## 1. Dispatch: CipherPrune vs CryptoMoE

Measured on CrypTen (two parties as threads, privmoe's Meter) beside the `crypten` model:

{_md(d1, ".10g")}

Projected (`cheetah`, f = 1) at the three models' scale, GiB (dispatch and combine):

{_md(d1p_bytes)}

![dispatch scaling]({figs['dispatch'].name})

## 2. Matmul: BOLT, BOLT+BSGS, NEXUS, CryptoMoE batch (±BSGS), CipherGPT

Measured on SEAL (E = 2, t = 4, d = 16, N = 8192, the smallest ring whose answers can be noise-flooded) beside the closed form:

{_md(m2, ".10g")}

At paper dimensions (E = 64, t = 32, d_in = d_out = 2048, N = 8192; closed form = the simulator's counts;
BSGS takes the rotation-minimising baby step; NEXUS is compared on key switches = rotations + the
automorphisms of its expansion, which are key switches too; CipherGPT is a structural model, see §7):

{_md(m2p)}

![matmul key switches]({figs['matmul'].name})

## 3. The MoE layer per model

Dense vs CryptoMoE (f = 1, 1.5, 2) vs CipherPrune-style vs SecMoE, `cheetah` projection in the `protocol`
accounting, per token, all with the same hybrid structure: the server's weights stay plaintext and every
expert linear is a ciphertext x plaintext product (`linear=he`, `protocols/he/hybrid_linear.py`: dense by BOLT
with the tokens encrypted once for all experts, CryptoMoE by its batch matmul on the E t dispatched rows,
CipherPrune-style by BOLT per expert; SecMoE on its selected weights, encrypted), with shares -> HE and HE ->
shares around each and the nonlinearities on shares (§7 sets it beside the pipeline the papers measured).
HE at privmoe's parameters (N = 16384, 45-bit t: what flooding the answers needs at a 2^32 product scale).
SecMoE at these sizes is the projection `moe.secmoe_moe_large` (a weight matrix exceeds a ciphertext; the
protocol runs where d f <= S); "re-shared" is the baseline `reshared.moe`, which decrypts the selected weights
into shares. `insecure.moe` has no closed form (its cost depends on the opened routing) and is the negative
control of §6. `rounds` is each layer with the top-t methods the rule picks without a network (the merge for
CryptoMoE's dispatch, tournaments for the gate's top-k); `WAN rounds` and the LAN and WAN columns are each link
with the methods the network rule picks for it (`--set network=LAN|WAN`; the ranking on WAN, see below).

{_md(lat)}

Where the bytes go (DeepSeekMoE-16B, MB per token by kind of step, `comparisons.where_the_bytes_go`):
the hybrid steps are `shares -> HE` (the server's statistically masked share, 8 bytes per value, and the
client's queries), `HE answers` (masked, flooded) and the `lift` back to CrypTen's Z_2^64 (two comparisons per
value: BOLT and CryptoMoE share mod their HE prime and need no lift; privmoe's shares live in Z_2^64).

{_md(where)}

Rounds: the top-t methods and the network rule. The dispatch's top-t (E rows of k·m candidates, keep t) by
every method, `cheetah` units: `merge` (the bitonic top-t merge) has the fewest comparisons, so the rule
without a network picks it; `rank` (at most three levels, each comparing all pairs of its groups at once:
`docs/protocols/topk.md`) has the fewest rounds for more bytes. With `--set network=LAN|WAN` the network rule
(`sorting.pick_method`: least modelled latency) keeps the merge on LAN and takes the ranking on WAN:

{_md(topk_methods)}

The layer's rounds per step with each method (and the gate's top-k by k tournaments or one level of ranking,
`gate_topk`), beside dense, per model (`comparisons.layer_rounds_table`; latency for all m = {TOKENS} tokens,
network only): the rounds the top-t's save are what separates CryptoMoE from dense on WAN.

{_md(layer_rounds)}

![layer per token]({figs['layer'].name})

![layer steps]({figs['steps'].name})

## 4. Routing fidelity

Balanced routing (m = 128, E = 8, k = 2): dropped assignments, dropped score mass and the relative output error
of the balanced layer against the exact one, for f = 1, 1.5, 2, confidence-aware vs random selection, under a
uniform and a Zipf-skewed router (`analysis/routing.py`). Both selections drop the same number of assignments;
confidence drops less mass.

{_md(fid_piv.reset_index())}

![routing fidelity]({figs['routing'].name})

## 5. Model vs measurement

Every registered protocol, one seeded example each, measured on its backend (CrypTen's Meter; SEAL's
operation counts): **{n_exact}/{len(exact)}** measured (protocol, step, metric) values equal the model exactly
(ratio 1), where we claim exactness. Fixed-point error observed against the declared bound:

{_md(pd.DataFrame(fixed))}

The figure sets each measurement against its model, log-log: every protocol above at its one size (grey),
and a sweep of sizes for {', '.join(f'`{n}`' for n, _, _ in SWEEPS)} (CrypTen runs; the HE matmuls as two
parties on the slot simulator, every key and ciphertext serialized on the wire), {n_sweep_exact}/{n_sweep}
of the sweep's values exact. A point on the dashed line is an exact prediction; the sweeps show it over
orders of magnitude (section `5s` of `costs.csv`).

![model vs measured]({figs['model'].name})

## 6. Security checks

The security checks (`docs/security.md`): the exact mask ledger (`simulators/ledger.py`), the transcript
signature with rounds, the statistical tests of real vs simulated views (`simulators/security.py`, α = 10^-3
per check, false-alarm rate measured in `analysis/data/security_fwer.csv`) and consistency. Every secure
protocol must pass; every negative control must be caught, and the first problem names the class of
leak, the party that learns, the step and the message.

Checked live in this run ({"every protocol and negative control" if all_security else "a representative set: one of each kind of view and of leak; `privmoe report --all-security` runs every protocol and control live, about 15 minutes on 2 cores, and `make test` runs them all in CI"}):

{_md(security)}

Recorded by the security benchmarks (`python -m analysis.bench_security controls|fwer`, `analysis/data/`):
every negative control, the checks that caught it and how many runs it took, over several seeds:

{_md(controls_rec)}

and every secure protocol's false alarms at α and 0.05 over independent trials at >= 4000 elements per view
position:

{_md(fwer_rec)}

{published_md}"""
    (out / "report.md").write_text(md)
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
