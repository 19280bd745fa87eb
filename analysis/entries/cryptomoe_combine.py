"""Registry entry: ``cryptomoe.combine`` (CryptoMoE Algorithm 2, both orders).

Error (``analysis/error_bounds.py``, rules T and E; ULP = 2^-16). Every input is exact (y, S fixed point,
O integer), and so is every product by O (scale 1: no truncation). ``scores_first``: R_e = O_e^T S_e is
exact, R_e y_e truncates once per (expert, token, column) an exactly known value v_e = sum_i O S y: its
error is in [-f, 1 - f] ULP (f the fractional part of v_e in ULPs). ``outputs_first``: y_e S_e truncates
every row's product (exact value S y) once, and O_e^T adds the rows of token j. Per element of the
output the bound is the larger end of the summed intervals, ``max(sum f, sum (1 - f))`` ULP over the
truncations that reach it (0 when every product is on the grid) -- attainable, and per example.
``error_bound(params) = E t ULP`` is the domain-wide a-priori bound (E for scores first, E t for outputs
first: one < 1 ULP truncation per term).
"""
import torch
from hypothesis import strategies as st

import functionalities.combine as F
import protocols.mpc.cryptomoe_combine as P
from analysis import error_bounds as EB
from analysis.cost_models import cheetah, crypten
from analysis.cost_models import moe as M
from analysis.entries._moe_params import ALIASES
from analysis.entry import BadCase, Entry, InputSpec, register
from analysis.strategies import SCORE_TIES, fixed_values, int_tensor, tensor
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError
from functionalities.fixed_point import ULP, quantize


def bound(p):
    """A-priori (domain-wide): E t ULP, one truncation per (expert, row) at most (module docstring)."""
    return p["experts"] * p["capacity"] * ULP


def parts(ideal, real, p, i):
    """[Part y] with the per-element bound of the module docstring (or a shape problem)."""
    if tuple(real.shape) != tuple(ideal.shape):
        return [f"out: shape {tuple(real.shape)} != ideal {tuple(ideal.shape)}"]
    y, O, S = quantize(i["y"]), i["O"].double(), quantize(i["S"])
    if P.choose_variant(p["tokens"], p["hidden"], p["variant"]) == "scores_first":
        lo, hi = EB.trunc_interval(torch.einsum("etm,et,etd->emd", O, S, y))    # one per (e, j, column)
        lo, hi = lo.sum(0), hi.sum(0)
    else:
        lo, hi = EB.trunc_interval(S.unsqueeze(-1) * y)                            # one per (e, row, column)
        lo, hi = torch.einsum("etm,etd->md", O, lo), torch.einsum("etm,etd->md", O, hi)
    return [EB.part("y", real, ideal, EB.interval_abs(lo, hi))]


errors = EB.Errors(parts)


def inputs(p):
    E, t, m, d = p["experts"], p["capacity"], p["tokens"], p["hidden"]
    T = int_tensor((E, t), 0, m - 1).map(lambda v: torch.nn.functional.one_hot(v, m).long())
    S = tensor((E, t), st.one_of(st.sampled_from(SCORE_TIES), st.floats(0, 1, allow_nan=False)))
    return st.fixed_dictionaries({"y": tensor((E, t, d), fixed_values(8.0)), "O": T, "S": S})


def validate(p, i):
    P.choose_variant(p["tokens"], p["hidden"], p["variant"])
    F.validate(p["tokens"], p["hidden"], p["experts"], p["capacity"], i.get("y"), i.get("O"), i.get("S"))


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
    check=errors.check,
    errors=errors,
    error_bound=bound,
    leakage=("tokens", "hidden", "experts", "capacity"),
    doc="docs/protocols/cryptomoe_combine.md",
    bad_cases=[
        BadCase("unknown variant", lambda p, i: ({**p, "variant": "sideways"}, i), PublicParameterError),
        BadCase("y wrong shape", lambda p, i: (p, {**i, "y": i["y"][:, :, :0]}), ShapeError),
        BadCase("S out of range", lambda p, i: (p, {**i, "S": i["S"] + 2}), FixedPointRangeError),
    ],
))
