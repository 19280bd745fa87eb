"""Registry entry: ``he.lift`` -- HE shares mod t into CrypTen's Z_2^64 shares."""
import torch
from hypothesis import strategies as st

import functionalities.lift as F
import protocols.he.lift as P
from analysis.cost_models import cheetah, crypten
from analysis.cost_models import moe as M
from analysis.entry import BadCase, Entry, InputSpec, exact_check, register
from analysis.strategies import array
from functionalities.errors import FixedPointRangeError, PublicParameterError


def _inputs(p):
    t = p["modulus"]
    res = st.one_of(st.sampled_from([0, 1, t - 1, t // 2, (t + 1) // 2]), st.integers(0, t - 1))
    vec = array((p["n"],), res, "int64").map(lambda v: torch.tensor(v, dtype=torch.long))
    return st.fixed_dictionaries({"c": vec, "s": vec})


register(Entry(
    name="he.lift",
    functionality="lift",
    kind="hybrid",
    summary="HE -> shares lift: residues mod t (client c, server s) to the centred value in Z_2^64",
    ideal=lambda p, i: F.lift(i["c"], i["s"], p["modulus"]),
    real=lambda p, s: P.lift(s["c"], s["s"], p["modulus"]),
    validate=lambda p, i: F.validate(p["n"], p["modulus"], i.get("c"), i.get("s")),
    input_specs=lambda p: [InputSpec("c", 0, (p["n"],), integer=True), InputSpec("s", 1, (p["n"],), integer=True)],
    defaults={"n": 8, "modulus": 1032193},
    costs={"crypten": lambda p: M.lift(crypten, p["n"]), "cheetah": lambda p: M.lift(cheetah, p["n"])},
    params_strategy=lambda: st.fixed_dictionaries({"n": st.integers(1, 8),
                                                   "modulus": st.sampled_from([3, 65537, 1032193, 1073643521])}),
    inputs_strategy=_inputs,
    check=lambda ideal, real, p, i: exact_check(ideal, real, p, i, 0.0),
    error_bound=lambda p: 0.0,
    leakage=("n", "modulus"),
    doc="docs/protocols/lift.md",
    bad_cases=[BadCase("residue >= t", lambda p, i: (p, {**i, "c": i["c"] * 0 + p["modulus"]}), FixedPointRangeError),
               BadCase("modulus < 3", lambda p, i: ({**p, "modulus": 2}, i), PublicParameterError)],
))
