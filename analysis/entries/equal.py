"""Registry entry: ``equal`` (client's x == server's y, elementwise)."""
from hypothesis import strategies as st

import functionalities.equal as F
import protocols.mpc.equal as P
from analysis.cost_models import cheetah, crypten
from analysis.entry import BadCase, Entry, InputSpec, exact_check, register
from analysis.strategies import array, fixed_values, tensor
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError


def _inputs(p):
    n = p["n"]
    x = tensor((n,), fixed_values())
    # y copies x where a coin says so: equal and unequal positions in every example
    return x.flatmap(lambda xv: st.tuples(st.just(xv), tensor((n,), fixed_values()),
                                          array((n,), st.booleans(), bool))).map(
        lambda t: {"x": t[0], "y": t[0].where(__import__("torch").tensor(t[2]), t[1])})


register(Entry(
    name="equal",
    functionality="equal",
    kind="mpc",
    summary="elementwise [x == y] of the client's and the server's vectors",
    ideal=lambda p, i: F.equal(i["x"], i["y"]),
    real=lambda p, s: P.equal(s["x"], s["y"]),
    validate=lambda p, i: F.validate(p["n"], i.get("x"), i.get("y")),
    input_specs=lambda p: [InputSpec("x", 0, (p["n"],)), InputSpec("y", 1, (p["n"],))],
    defaults={"n": 8},
    costs={"crypten": lambda p: crypten.equal(p["n"]), "cheetah": lambda p: cheetah.equal(p["n"])},
    params_strategy=lambda: st.fixed_dictionaries({"n": st.integers(1, 8)}),
    inputs_strategy=_inputs,
    check=lambda ideal, real, p, i: exact_check(ideal, real, p, i, 0.0),
    error_bound=lambda p: 0.0,
    leakage=("n",),
    doc="docs/protocols/equal.md",
    bad_cases=[
        BadCase("n = 0", lambda p, i: ({**p, "n": 0}, i), PublicParameterError),
        BadCase("y too short", lambda p, i: (p, {**i, "y": i["y"][:-1]}), ShapeError),
        BadCase("x has NaN", lambda p, i: (p, {**i, "x": i["x"] * float("nan")}), FixedPointRangeError),
        BadCase("x out of range", lambda p, i: (p, {**i, "x": i["x"] + 1e6}), FixedPointRangeError),
    ],
))
