"""Registry entry: ``cipherprune.combine`` -- the dispatch's swaps undone (run after its dispatch).

Error (``analysis/error_bounds.py``, rules T and E; ULP = 2^-16): the dispatch is exact (products by bits)
and keeps the scores S' exactly; ``scale`` truncates each kept row's product y S' once -- an exactly known
value, so its error is in [-f, 1 - f] ULP (f its fractional part in ULPs; 0 for a zero score); the swaps
back and the token sums are exact. Per output element: ``max(sum f, sum (1 - f))`` ULP over the token's
kept rows (the rows of the spec's own dispatch, which keeps the same rows). ``error_bound(params) =
E k ULP`` is the domain-wide a-priori bound (a token sums at most E k truncated rows).
"""
import torch
from hypothesis import strategies as st

import functionalities.combine as F
import functionalities.dispatch as FD
import protocols.mpc.cipherprune_combine as P
from analysis import error_bounds as EB
from analysis.cost_models import cheetah, crypten
from analysis.cost_models import moe as M
from analysis.entries._moe_params import ALIASES, ROUTING_DEFAULTS, derive_capacity
from analysis.entries.cryptomoe_dispatch import BAD, validate
from analysis.entry import Entry, InputSpec, register
from analysis.strategies import fixed_values, routing_inputs, routing_params, tensor
from functionalities.fixed_point import ULP, quantize


def ideal(p, i):
    _, O, S = FD.dispatch(i["x"], i["K"], i["W"], p["experts"], p["capacity"])
    return F.combine(i["y"], O, S)


def bound(p):
    """A-priori (domain-wide): one truncation (< 1 ULP) per kept row, a token sums <= E k rows: E k ULP."""
    return p["experts"] * p["top_k"] * ULP


def parts(ideal, real, p, i):
    """[Part y] with the per-element bound of the module docstring (or a shape problem)."""
    if tuple(real.shape) != tuple(ideal.shape):
        return [f"out: shape {tuple(real.shape)} != ideal {tuple(ideal.shape)}"]
    _, O, S = FD.dispatch(i["x"], i["K"], i["W"], p["experts"], p["capacity"])
    lo, hi = EB.trunc_interval(quantize(S).unsqueeze(-1) * quantize(i["y"]))      # (E, t, d)
    O = O.double()
    lo, hi = torch.einsum("etm,etd->md", O, lo), torch.einsum("etm,etd->md", O, hi)
    return [EB.part("y", real, ideal, EB.interval_abs(lo, hi))]


errors = EB.Errors(parts)


def cost(B):
    def f(p):
        m, d, E, k, t = p["tokens"], p["hidden"], p["experts"], p["top_k"], p["capacity"]
        return M.cipherprune_dispatch(B, m, d, E, k, t).labelled("dispatch") + \
            M.cipherprune_combine(B, m, d, E, k, t).labelled("combine")
    return f


def inputs(p):
    E, t, m, d = p["experts"], p["capacity"], p["tokens"], p["hidden"]
    return st.tuples(tensor((m, d), fixed_values()), routing_inputs(m, E, p["top_k"]),
                     tensor((E, t, d), fixed_values(8.0))).map(lambda v: {"x": v[0], **v[1], "y": v[2]})


register(Entry(
    name="cipherprune.combine",
    functionality="combine",
    kind="mpc",
    summary="CipherPrune-style combine: scale by the kept scores, replay the dispatch's swaps backwards",
    ideal=ideal,
    real=lambda p, s: P.route_and_combine(s["x"], s["K"], s["W"], s["y"], p["experts"], p["capacity"]),
    validate=lambda p, i: (validate(p, {k: v for k, v in i.items() if k != "y"}),
                           F.validate(p["tokens"], p["hidden"], p["experts"], p["capacity"], i.get("y"))),
    input_specs=lambda p: [InputSpec("x", 0, (p["tokens"], p["hidden"])),
                           InputSpec("K", 0, (p["tokens"], p["top_k"]), integer=True),
                           InputSpec("W", 0, (p["tokens"], p["top_k"])),
                           InputSpec("y", 0, (p["experts"], p["capacity"], p["hidden"]))],
    defaults=dict(ROUTING_DEFAULTS),
    aliases=ALIASES,
    derive=derive_capacity,
    costs={"crypten": cost(crypten), "cheetah": cost(cheetah)},
    params_strategy=lambda: routing_params(max_tokens=3, max_experts=3),
    inputs_strategy=inputs,
    check=errors.check,
    errors=errors,
    error_bound=bound,
    leakage=("tokens", "hidden", "experts", "top_k", "capacity"),
    doc="docs/protocols/cipherprune_combine.md",
    bad_cases=BAD,
))
