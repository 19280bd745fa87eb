"""The comparisons the report shows, as tidy tables computed from the registry's cost models.

``secmoe_comparison``: at the projection scale (m = 128, d = 2048, d_ff = 1408), for E in {8, ..., 128},
communication and modelled LAN/WAN latency (``simulators/network``, network only: no compute) of dense,
CryptoMoE (f = 1, 2) and SecMoE -- as published (the selected weights stay encrypted; a projection where
one weight matrix exceeds a ciphertext) and the re-shared baseline (``reshared.moe``) -- on the ``cheetah`` backend, in the ``protocol`` accounting (the server's weights in
plaintext; dense and CryptoMoE with ``linear=he``: the same kind of layer as SecMoE's).
``activation_comparison``: piecewise vs select-then-compute. ``where_the_bytes_go``: one model's layers
with the hybrid structure, their bytes per token by kind of step.
"""
from __future__ import annotations

import pandas as pd

from analysis import registry
from simulators.network import LAN, WAN, latency


def _row(protocol: str, label: str, experts: int, cost, **extra) -> dict:
    return {"protocol": label, "experts": experts, "bytes": cost.bytes, "rounds": cost.rounds,
            "lan_s": latency(cost, LAN), "wan_s": latency(cost, WAN), "entry": protocol, **extra}


def secmoe_comparison(experts=(8, 16, 32, 64, 128), tokens: int = 128, hidden: int = 2048, ffn: int = 1408,
                      top_k: int = 2, backend: str = "cheetah") -> pd.DataFrame:
    rows = []
    for E in experts:
        base = {"tokens": tokens, "hidden": hidden, "ffn": ffn, "experts": E, "top_k": top_k}
        dense = registry.get("dense.moe")
        rows.append(_row("dense.moe", "dense", E, dense.cost(backend, dense.resolve({**base, "linear": "he"}))))
        cm = registry.get("cryptomoe.moe")
        for f in (1.0, 2.0):
            p = cm.resolve({**base, "capacity_factor": f, "linear": "he"})
            rows.append(_row("cryptomoe.moe", f"CryptoMoE f={f:g}", E, cm.cost(backend, p), capacity=p["capacity"]))
        sm = registry.get("secmoe.moe")
        rows.append(_row("secmoe.moe", "SecMoE", E, sm.cost(backend, sm.resolve(base))))
        rm = registry.get("reshared.moe")
        rows.append(_row("reshared.moe", "SecMoE re-shared (baseline)", E, rm.cost(backend, rm.resolve(base))))
    return pd.DataFrame(rows)


def activation_comparison(n: int = 128 * 1408, backend: str = "crypten") -> pd.DataFrame:
    rows = []
    for name in ("piecewise.activation", "secmoe.activation"):
        for fn in ("silu", "gelu"):
            e = registry.get(name)
            c = e.cost(backend, e.resolve({"n": n, "function": fn}))
            rows.append({"protocol": name, "function": fn, "n": n, "bytes": c.bytes, "rounds": c.rounds,
                         "offline_bytes": c.offline_bytes})
    return pd.DataFrame(rows)


def secmoe_table(metric: str = "gib") -> pd.DataFrame:
    """``secmoe_comparison`` as experts x protocol: ``gib`` (GiB of the layer) or ``wan_s`` (seconds on the
    WAN, network only)."""
    df = secmoe_comparison()
    if metric == "gib":
        df = df.assign(gib=df.bytes / 2**30)
    elif metric != "wan_s":
        raise ValueError(f"metric must be gib or wan_s, got {metric!r}")
    return df.pivot_table(index="experts", columns="protocol", values=metric)


def matmul_paper_scale(experts: int = 64, capacity: int = 32, d: int = 2048, poly_degree: int = 8192) -> pd.DataFrame:
    """The HE matmuls' cost models at the CryptoMoE rebuttal's size (``sim`` = ``seal``: serialized bytes and
    key bytes), one row per variant: what ``privmoe costs NAME --backend sim --set ...`` prints."""
    base = {"experts": experts, "capacity": capacity, "d_in": d, "d_out": d, "poly_degree": poly_degree}
    rows = []
    for label, name, extra in (("bolt", "bolt.matmul", {}), ("bolt, bsgs=true", "bolt.matmul", {"bsgs": True}),
                               ("batch (bsgs false or true)", "cryptomoe.matmul", {}),
                               ("nexus (pack = 256)", "nexus.matmul", {}),
                               ("nexus, pack=8192", "nexus.matmul", {"pack": 8192})):
        e = registry.get(name)
        c = e.cost("sim", e.resolve({**base, **extra}))
        rows.append({"protocol": label, "rotations": c.rotations, "key switches": c.key_switches,
                     "pt_mults": c.pt_mults, "ciphertexts": c.ciphertexts, "bytes c→s": c.bytes_client_to_server,
                     "bytes s→c": c.bytes_server_to_client, "key bytes": c.key_bytes})
    return pd.DataFrame(rows).set_index("protocol")


#: the kinds of step of a hybrid layer, in the order the table shows them: (column, how a step path ends)
WHERE = (("gate", ("gate",)), ("routing", ("dispatch", "weights", "onehot")),
         ("selection (HE)", ("select",)), ("shares -> HE", ("to_he", "x_to_he", "g_to_he")),
         ("HE answers", ("answer",)), ("lift (HE -> Z_2^64)", ("lift",)),
         ("SiLU, gate_mul", ("silu", "gate_mul")), ("combine", ("combine",)))


def where_the_bytes_go(layers, model: str = "DeepSeekMoE-16B", backend: str = "cheetah") -> pd.DataFrame:
    """Per layer ((label, entry, extra params) as the report's ``LAYERS``) at ``model``'s sizes and 128 tokens:
    MB per token (10^6 bytes, both directions) by kind of step (``WHERE``: a step counts under the first
    kind its path's last component names, its sub-steps with it), the rest, the total and the rounds."""
    from analysis.published import MODELS, TOKENS

    cfg = MODELS[model]
    out = []
    for label, name, extra in layers:
        e = registry.get(name)
        base = {"tokens": TOKENS, **cfg, **extra}
        c = e.cost(backend, e.resolve({k: v for k, v in base.items() if k in e.defaults}))
        row, counted = {"layer": label}, []
        for column, ends in WHERE:
            total = 0
            for path, step in c.steps:
                if path.split("/")[-1] in ends and not any(path.startswith(p + "/") for p in counted):
                    total += step.bytes
                    counted.append(path)
            row[column] = total / TOKENS / 1e6
        row["rest"] = round(c.bytes / TOKENS / 1e6 - sum(row[col] for col, _ in WHERE), 6)   # float dust: 0
        row["total MB/token"] = c.bytes / TOKENS / 1e6
        row["rounds"] = c.rounds
        out.append(row)
    return pd.DataFrame(out)


def topk_methods_table(backend: str = "cheetah", capacity_factor: float = 1.0) -> pd.DataFrame:
    """The dispatch's top-t (E rows of k m candidates, keep t) by every method at the three models' sizes
    (m = 128): rounds, MB (both directions), modelled LAN and WAN latency (``simulators/network``), and which
    one each rule picks: ``topk.choose_method`` (no network: the fewest comparisons) and ``sorting.pick_method``
    on LAN and on WAN (the least modelled latency on ``backend``)."""
    from analysis.cost_models import cheetah, crypten
    from analysis.cost_models.sorting import pick_method
    from analysis.published import MODELS, TOKENS
    from functionalities.routing import resolve_capacity
    from protocols.mpc.topk import METHODS, choose_method

    B = cheetah if backend == "cheetah" else crypten
    rows = []
    for model, cfg in MODELS.items():
        E, k = cfg["experts"], cfg["top_k"]
        t = resolve_capacity(TOKENS, E, k, None, capacity_factor)
        picks = {"no network": choose_method(k * TOKENS, t), "LAN": pick_method(B, E, k * TOKENS, t, LAN),
                 "WAN": pick_method(B, E, k * TOKENS, t, WAN)}
        for method in METHODS[1:]:
            c = B.topk_auto(E, k * TOKENS, t, method)
            rows.append({"model": model, "E": E, "k m": k * TOKENS, "t": t, "method": method,
                         "rounds": c.rounds, "MB": c.bytes / 1e6, "LAN s": latency(c, LAN), "WAN s": latency(c, WAN),
                         "picked": ", ".join(rule for rule, m in picks.items() if m == method) or "-"})
    return pd.DataFrame(rows)


def layer_rounds_table(backend: str = "cheetah", capacity_factor: float = 1.0) -> pd.DataFrame:
    """Rounds per step of dense and of the CryptoMoE layer (``linear=he``) per model, with the gate's top-k by
    tournaments or ranking and the dispatch's top-t by each method, and each layer's modelled LAN and WAN
    latency. ``picked by``: the rule without a network (``choose_method``, ``choose_onehot_method``) and the
    network rule on LAN and on WAN (``sorting.pick_method``, ``pick_onehot_method`` on ``backend``)."""
    from analysis.cost_models import cheetah, crypten
    from analysis.cost_models import moe as M
    from analysis.cost_models.sorting import pick_method, pick_onehot_method
    from analysis.published import MODELS, TOKENS
    from functionalities.routing import resolve_capacity
    from protocols.mpc.cryptomoe_combine import choose_variant
    from protocols.mpc.secmoe_moe import he_params
    from protocols.mpc.topk import METHODS, choose_method, choose_onehot_method

    B = cheetah if backend == "cheetah" else crypten
    out = []

    def row(model, layer, cost, picked):
        steps = dict(cost.steps)
        rounds = {s: steps[s].rounds if s in steps else 0
                  for s in ("gate", "gate/topk", "weights", "dispatch", "dispatch/topk", "experts", "combine")}
        out.append({"model": model, "layer": layer, **rounds, "total": cost.rounds, "MB/token": cost.bytes / 1e6 / TOKENS,
                    "LAN s": latency(cost, LAN), "WAN s": latency(cost, WAN), "picked by": picked or "-"})

    for model, cfg in MODELS.items():
        m, d, f, E, k = TOKENS, cfg["hidden"], cfg["ffn"], cfg["experts"], cfg["top_k"]
        t = resolve_capacity(m, E, k, None, capacity_factor)
        gate_picks = {"no network": choose_onehot_method(E, k), "LAN": pick_onehot_method(B, m, E, k, LAN),
                      "WAN": pick_onehot_method(B, m, E, k, WAN)}
        picks = {"no network": choose_method(k * m, t), "LAN": pick_method(B, E, k * m, t, LAN),
                 "WAN": pick_method(B, E, k * m, t, WAN)}
        for gate in ("tournament", "rank"):
            cost = M.dense_moe(B, m, d, f, E, k, "he", he_params=he_params(), gate_method=gate)
            row(model, f"dense, gate {gate}", cost, ", ".join(r for r, g in gate_picks.items() if g == gate))
        combos = [("tournament", method) for method in METHODS[1:]] + [("rank", "rank")]
        combos += [pair for pair in {(gate_picks[r], picks[r]) for r in picks} if pair not in combos]
        for gate, method in combos:
            cost = M.cryptomoe_moe(B, m, d, f, E, k, t, choose_variant(m, d), "he", he_params=he_params(),
                                   method=method, gate_method=gate)
            row(model, f"CryptoMoE, gate {gate}, dispatch {method}", cost,
                ", ".join(r for r in picks if (gate_picks[r], picks[r]) == (gate, method)))
    return pd.DataFrame(out)
