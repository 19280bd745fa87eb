"""Registry entry: ``cryptomoe.dispatch`` (CryptoMoE Algorithm 1)."""
from hypothesis import strategies as st

import functionalities.dispatch as F
import protocols.mpc.cryptomoe_dispatch as P
from analysis.cost_models import cheetah, crypten
from analysis.cost_models import moe as M
from analysis.entries._moe_params import ALIASES, ROUTING_DEFAULTS, TOPK_DEFAULTS, derive_capacity, derive_topk
from analysis.entry import BadCase, Entry, InputSpec, exact_check, register
from analysis.strategies import fixed_values, routing_inputs, routing_params, tensor
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError
from protocols.mpc.topk import METHODS


def specs(p):
    m, k = p["tokens"], p["top_k"]
    return [InputSpec("x", 0, (m, p["hidden"])), InputSpec("K", 0, (m, k), integer=True), InputSpec("W", 0, (m, k))]


def inputs(p):
    return st.tuples(tensor((p["tokens"], p["hidden"]), fixed_values()),
                     routing_inputs(p["tokens"], p["experts"], p["top_k"])).map(lambda t: {"x": t[0], **t[1]})


def validate(p, i):
    F.validate(p["tokens"], p["hidden"], p["experts"], p["top_k"], p["capacity"], i.get("x"), i.get("K"), i.get("W"))


BAD = [
    BadCase("t > k m", lambda p, i: ({**p, "capacity": p["top_k"] * p["tokens"] + 1}, i), PublicParameterError),
    BadCase("k > E", lambda p, i: ({**p, "top_k": p["experts"] + 1}, i), PublicParameterError),
    BadCase("K out of range", lambda p, i: (p, {**i, "K": i["K"] + p["experts"]}), FixedPointRangeError),
    BadCase("W wrong shape", lambda p, i: (p, {**i, "W": i["W"][:-1]}), ShapeError),
    BadCase("x has NaN", lambda p, i: (p, {**i, "x": i["x"] * float("nan")}), FixedPointRangeError),
]

def contrast():
    """All tokens to expert 0 (descending scores) vs alternating experts: routings as different as they get."""
    import torch

    params = {"tokens": 6, "hidden": 2, "experts": 2, "top_k": 1, "capacity": 6, "capacity_factor": 2.0}
    x = torch.tensor([[0.5, -1.0], [2.0, 0.25], [-3.0, 1.5], [1.0, 1.0], [0.0, -0.5], [4.0, 2.0]])
    w = torch.tensor([[0.9], [0.8], [0.7], [0.6], [0.5], [0.4]])
    a = {"x": x, "K": torch.zeros(6, 1, dtype=torch.long), "W": w}
    b = {"x": x, "K": torch.tensor([[0], [1], [0], [1], [0], [1]]), "W": w.flip(0)}
    return params, a, b


def intermediates(p, i) -> dict:
    """The spec's S (priorities), S' (kept scores), T (token of each kept row), O and X."""
    import torch

    from functionalities.routing import balanced_routing, priorities

    r = balanced_routing(i["K"], i["W"], p["experts"], p["capacity"])
    X, O, S = F.dispatch(i["x"], i["K"], i["W"], p["experts"], p["capacity"])
    return {"S": priorities(i["K"], i["W"], p["experts"]), "S'": S, "T": r.T, "O": O, "X": X}


def derive_dispatch_topk(p: dict) -> dict:
    """``derive_capacity``, then ``derive_topk`` for the top-t of E rows of k m candidates."""
    p = derive_capacity(p)
    return derive_topk(p, p["experts"], p["top_k"] * p["tokens"], p["capacity"])


def dispatch_entry(name: str, summary: str, real, structure, doc: str, params_strategy=routing_params,
                   topk: bool = False) -> Entry:
    """A dispatch entry (same spec, inputs, checks, bad cases for every realisation of F_dispatch). ``topk``:
    the realisation has a top-t, whose method is the parameter ``topk`` (``TOPK_DEFAULTS``, with ``network``)."""
    method = (lambda p: {"method": p.get("topk", "auto")}) if topk else (lambda p: {})

    def cost(B):
        return lambda p: structure(B, p["tokens"], p["hidden"], p["experts"], p["top_k"], p["capacity"], **method(p))
    return Entry(
        name=name, functionality="dispatch", kind="mpc", summary=summary,
        ideal=lambda p, i: F.dispatch(i["x"], i["K"], i["W"], p["experts"], p["capacity"]),
        real=lambda p, s: real(s["x"], s["K"], s["W"], p["experts"], p["capacity"], **method(p)),
        validate=validate, input_specs=specs,
        defaults={**ROUTING_DEFAULTS, **(TOPK_DEFAULTS if topk else {})}, aliases=ALIASES,
        derive=derive_dispatch_topk if topk else derive_capacity, costs={"crypten": cost(crypten), "cheetah": cost(cheetah)},
        params_strategy=params_strategy, inputs_strategy=inputs,
        check=lambda ideal, real_out, p, i: exact_check(ideal, real_out, p, i, 0.0),   # selections, exact matmul
        error_bound=lambda p: 0.0, leakage=("tokens", "hidden", "experts", "top_k", "capacity"), doc=doc,
        bad_cases=BAD, contrast=contrast, intermediates=intermediates)


register(dispatch_entry("cryptomoe.dispatch",
                        "CryptoMoE dispatch: equal, mux, top-t per expert, one-hot, one batched matmul",
                        P.dispatch, M.cryptomoe_dispatch, "docs/protocols/cryptomoe_dispatch.md", topk=True,
                        params_strategy=lambda: routing_params().flatmap(
                            lambda p: st.sampled_from(METHODS).map(lambda m: {**p, "topk": m}))))
