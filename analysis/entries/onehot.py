"""Registry entry: ``onehot`` (secret indices -> one-hot rows over c classes)."""
from hypothesis import strategies as st

import functionalities.onehot as F
import protocols.mpc.onehot as P
from analysis.cost_models import cheetah, crypten
from analysis.entry import BadCase, Entry, InputSpec, exact_check, register
from analysis.strategies import int_tensor
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError

register(Entry(
    name="onehot",
    functionality="onehot",
    kind="mpc",
    summary="secret indices (rows x width) to one-hot rows over `classes`",
    ideal=lambda p, i: F.onehot(i["idx"], p["classes"]),
    real=lambda p, s: P.onehot(s["idx"], p["classes"]),
    validate=lambda p, i: F.validate(p["rows"], p["width"], p["classes"], i.get("idx")),
    input_specs=lambda p: [InputSpec("idx", 0, (p["rows"], p["width"]), integer=True)],
    defaults={"rows": 4, "width": 2, "classes": 8},
    costs={"crypten": lambda p: crypten.onehot(p["rows"], p["width"], p["classes"]),
           "cheetah": lambda p: cheetah.onehot(p["rows"], p["width"], p["classes"])},
    params_strategy=lambda: st.fixed_dictionaries(
        {"rows": st.integers(1, 3), "width": st.integers(1, 3), "classes": st.integers(1, 6)}),
    inputs_strategy=lambda p: int_tensor((p["rows"], p["width"]), 0, p["classes"] - 1).map(lambda t: {"idx": t}),
    check=lambda ideal, real, p, i: exact_check(ideal, real, p, i, 0.0),
    error_bound=lambda p: 0.0,
    leakage=("rows", "width", "classes"),
    doc="docs/protocols/onehot.md",
    bad_cases=[
        BadCase("classes = 0", lambda p, i: ({**p, "classes": 0}, i), PublicParameterError),
        BadCase("index >= classes", lambda p, i: (p, {"idx": i["idx"] + p["classes"]}), FixedPointRangeError),
        BadCase("wrong shape", lambda p, i: (p, {"idx": i["idx"].reshape(-1, 1).repeat(1, 2)}), ShapeError),
    ],
))
