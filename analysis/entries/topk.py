"""Registry entry: ``topk`` (top-t of each row, values + indices, ties -> lower index)."""
from hypothesis import strategies as st

import functionalities.topk as F
import protocols.mpc.topk as P
from analysis.cost_models import cheetah, crypten
from analysis.entries._moe_params import derive_topk
from analysis.entry import BadCase, Entry, InputSpec, exact_check, register
from analysis.strategies import fixed_values, tensor
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError


def _params():
    return st.integers(1, 9).flatmap(lambda length: st.fixed_dictionaries({
        "rows": st.integers(1, 3), "length": st.just(length),
        "t": st.one_of(st.just(1), st.just(length), st.integers(1, length)),
        "method": st.sampled_from(P.METHODS)}))


register(Entry(
    name="topk",
    functionality="topk",
    kind="mpc",
    summary="top-t values and indices of each row (tournaments, a bitonic network, the top-t merge or ranking; "
            "ties to the lower index)",
    ideal=lambda p, i: F.topk(i["x"], p["t"]),
    real=lambda p, s: P.topk(s["x"], p["t"], p["method"]),
    validate=lambda p, i: (P.choose_method(p["length"], p["t"], p["method"]),
                           F.validate(p["rows"], p["length"], p["t"], i.get("x"))),
    input_specs=lambda p: [InputSpec("x", 0, (p["rows"], p["length"]))],
    defaults={"rows": 4, "length": 16, "t": 2, "method": "auto", "network": None},
    derive=lambda p: derive_topk(p, p["rows"], p["length"], p["t"], key="method"),
    aliases={"capacity": "t"},
    costs={"crypten": lambda p: crypten.topk(p["rows"], p["length"], p["t"], p["method"]),
           "cheetah": lambda p: cheetah.topk(p["rows"], p["length"], p["t"], p["method"])},
    params_strategy=_params,
    inputs_strategy=lambda p: tensor((p["rows"], p["length"]), fixed_values()).map(lambda t: {"x": t}),
    # values are selected, not computed: exact; indices exact (ties resolved by the same rule)
    check=lambda ideal, real, p, i: exact_check(ideal, real, p, i, 0.0),
    error_bound=lambda p: 0.0,
    leakage=("rows", "length", "t"),
    doc="docs/protocols/topk.md",
    bad_cases=[
        BadCase("t > length", lambda p, i: ({**p, "t": p["length"] + 1}, i), PublicParameterError),
        BadCase("t = 0", lambda p, i: ({**p, "t": 0}, i), PublicParameterError),
        BadCase("unknown method", lambda p, i: ({**p, "method": "quick"}, i), PublicParameterError),
        BadCase("x wrong shape", lambda p, i: (p, {"x": i["x"].T.contiguous()}) if p["rows"] != p["length"]
                else (p, {"x": i["x"][:, :-1]}), ShapeError),
        BadCase("x has inf", lambda p, i: (p, {"x": i["x"] + float("inf")}), FixedPointRangeError),
        BadCase("x out of range", lambda p, i: (p, {"x": i["x"] * 0 + 2e4}), FixedPointRangeError),
    ],
))
