"""Registry entry: ``cipherprune.dispatch`` (oblivious compaction by compare-and-swap)."""
import functionalities.dispatch as F
import protocols.mpc.cipherprune_dispatch as P
from analysis.cost_models import cheetah, crypten
from analysis.cost_models import moe as M
from analysis.entries._moe_params import ALIASES, ROUTING_DEFAULTS, derive_capacity
from analysis.entries.cryptomoe_dispatch import BAD, inputs, specs, validate
from analysis.registry import Entry, exact_check, register
from analysis.strategies import routing_params


def cost(B):
    return lambda p: M.cipherprune_dispatch(B, p["tokens"], p["hidden"], p["experts"], p["top_k"], p["capacity"])


register(Entry(
    name="cipherprune.dispatch",
    functionality="dispatch",
    kind="mpc",
    summary="CipherPrune-style dispatch: score-bound rows compacted by a pipelined compare-and-swap network",
    ideal=lambda p, i: F.dispatch(i["x"], i["K"], i["W"], p["experts"], p["capacity"]),
    real=lambda p, s: P.dispatch(s["x"], s["K"], s["W"], p["experts"], p["capacity"]),
    validate=validate,
    input_specs=specs,
    defaults=dict(ROUTING_DEFAULTS),
    aliases=ALIASES,
    derive=derive_capacity,
    costs={"crypten": cost(crypten), "cheetah": cost(cheetah)},
    params_strategy=lambda: routing_params(max_tokens=3, max_experts=3),
    inputs_strategy=inputs,
    check=lambda ideal, real, p, i: exact_check(ideal, real, p, i, 0.0),
    error_bound=lambda p: 0.0,
    leakage=("tokens", "hidden", "experts", "top_k", "capacity"),
    doc="docs/protocols/cipherprune.md",
    bad_cases=BAD,
))
