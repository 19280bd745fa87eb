"""The capacity rule floors: t = floor(f k m / E) (the CryptoMoE authors' code), never rounds or ceils.

Every case below has a NON-integer f k m / E (asserted), so floor, round and ceil disagree; the expected t
is computed with exact rational arithmetic, independently of the code under test. Checked where a
capacity is derived: the functionality, every entry that derives it, the paper-scale reproduction and the
cost models at the three published model shapes, and one real dispatch run.
"""
from fractions import Fraction

import pytest

from analysis import harness, registry
from analysis.published import MODELS
from functionalities.routing import resolve_capacity

#: (tokens, capacity factor): with each model's (E, k) these give non-integer f k m / E
CASES = [(100, 1.0), (128, 1.1), (37, 1.5), (200, 0.7)]
DERIVING = ["cryptomoe.moe", "cryptomoe.dispatch", "cipherprune.dispatch"]


def floor_capacity(m: int, E: int, k: int, f: float) -> int:
    exact = Fraction(f) * k * m / E
    assert exact.denominator != 1, f"f k m / E = {exact} is an integer: floor and ceil agree"
    return exact.numerator // exact.denominator


@pytest.mark.parametrize("model", sorted(MODELS))
@pytest.mark.parametrize("m,f", CASES)
def test_capacity_floors_at_published_shapes(model, m, f):
    E, k = MODELS[model]["experts"], MODELS[model]["top_k"]
    want = floor_capacity(m, E, k, f)
    assert resolve_capacity(m, E, k, None, f) == want
    for name in DERIVING:
        entry = registry.get(name)
        keys = set(entry.defaults)
        params = {"tokens": m, "experts": E, "top_k": k, "capacity": None, "capacity_factor": f}
        if "hidden" in keys:
            params["hidden"] = 8
        assert entry.resolve(params)["capacity"] == want, name


def test_paper_scale_capacity_floors():
    """The reproduction's layer rows derive t from the factor the same way (Table 2: m = 128)."""
    from analysis import reproduce

    for model, shape in MODELS.items():
        p = {"tokens": 100, **shape}
        assert reproduce._capacity(p, 1.0) == floor_capacity(100, shape["experts"], shape["top_k"], 1.0)


def test_real_dispatch_uses_floored_capacity():
    """m = 3, E = 2, k = 1, f = 1: f k m / E = 1.5 -> t = 1 row per expert (ceil would give 2)."""
    entry = registry.get("cryptomoe.dispatch")
    params = entry.resolve({"tokens": 3, "hidden": 1, "experts": 2, "top_k": 1, "capacity": None,
                            "capacity_factor": 1.0})
    assert params["capacity"] == floor_capacity(3, 2, 1, 1.0) == 1
    import torch

    inputs = {"x": torch.tensor([[0.5], [0.25], [1.0]]), "K": torch.tensor([[0], [1], [0]]),
              "W": torch.tensor([[0.5], [0.75], [1.0]])}
    ex = harness.run_example(entry, params, inputs)
    assert ex.equivalence == [] and ex.cost == []
    X = ex.real.outputs[0]
    assert tuple(X.shape) == (2, 1, 1), tuple(X.shape)
