"""Registry entry: ``cryptomoe.combine`` (CryptoMoE Algorithm 2, both orders)."""
import torch
from hypothesis import strategies as st

import functionalities.dispatch as F
import protocols.mpc.cryptomoe_combine as P
from analysis.cost_models import cheetah, crypten
from analysis.cost_models import moe as M
from analysis.entries._moe_params import ALIASES
from analysis.registry import BadCase, Entry, InputSpec, exact_check, register
from analysis.strategies import SCORE_TIES, fixed_values, tensor
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError
from functionalities.fixed_point import ULP


def bound(p):
    """2 E (t + 1) ULP: one truncation per (expert, token) sum, padding rows +- 2 ULP (module doc)."""
    return 2 * p["experts"] * (p["capacity"] + 1) * ULP


def inputs(p):
    E, t, m, d = p["experts"], p["capacity"], p["tokens"], p["hidden"]
    T = st.lists(st.integers(0, m - 1), min_size=E * t, max_size=E * t).map(
        lambda v: torch.nn.functional.one_hot(torch.tensor(v).reshape(E, t), m).long())
    S = tensor((E, t), st.one_of(st.sampled_from(SCORE_TIES), st.floats(0, 1, allow_nan=False)))
    return st.fixed_dictionaries({"y": tensor((E, t, d), fixed_values(8.0)), "O": T, "S": S})


def validate(p, i):
    P.choose_variant(p["tokens"], p["hidden"], p["variant"])
    F.validate_combine(p["tokens"], p["hidden"], p["experts"], p["capacity"], i.get("y"), i.get("O"), i.get("S"))


def cost(B):
    return lambda p: M.cryptomoe_combine(B, p["tokens"], p["hidden"], p["experts"], p["capacity"],
                                         P.choose_variant(p["tokens"], p["hidden"], p["variant"]))


register(Entry(
    name="cryptomoe.combine",
    functionality="combine",
    kind="mpc",
    summary="CryptoMoE combine: R = O^T * S' then R y (or y * S' first), summed over experts",
    ideal=lambda p, i: F.combine(i["y"], i["O"], i["S"]),
    real=lambda p, s: P.combine(s["y"], s["O"], s["S"], p["variant"]),
    validate=validate,
    input_specs=lambda p: [InputSpec("y", 0, (p["experts"], p["capacity"], p["hidden"])),
                           InputSpec("O", 0, (p["experts"], p["capacity"], p["tokens"]), integer=True),
                           InputSpec("S", 0, (p["experts"], p["capacity"]))],
    defaults={"tokens": 8, "hidden": 4, "experts": 4, "capacity": 4, "variant": "auto"},
    aliases=ALIASES,
    costs={"crypten": cost(crypten), "cheetah": cost(cheetah)},
    params_strategy=lambda: st.fixed_dictionaries({
        "tokens": st.integers(1, 4), "hidden": st.integers(1, 4), "experts": st.integers(1, 3),
        "capacity": st.integers(1, 4), "variant": st.sampled_from(P.VARIANTS)}),
    inputs_strategy=inputs,
    check=lambda ideal, real, p, i: exact_check(ideal, real, p, i, bound(p)),
    error_bound=bound,
    leakage=("tokens", "hidden", "experts", "capacity"),
    doc="docs/protocols/cryptomoe_combine.md",
    bad_cases=[
        BadCase("unknown variant", lambda p, i: ({**p, "variant": "sideways"}, i), PublicParameterError),
        BadCase("y wrong shape", lambda p, i: (p, {**i, "y": i["y"][:, :, :0]}), ShapeError),
        BadCase("S out of range", lambda p, i: (p, {**i, "S": i["S"] + 2}), FixedPointRangeError),
    ],
))
