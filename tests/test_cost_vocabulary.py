"""One primitive vocabulary for every cost backend (``analysis/cost_models/backend.py``): both backends provide
every member of ``CostBackend`` with the interface's parameter list, no cost model gives a primitive a second
name, and the checker reports a backend that breaks either rule."""
import importlib
import inspect
import pkgutil
import types

import pytest

import analysis.cost_models as cost_models
from analysis.cost_models import backend, cheetah, crypten
from analysis.cost_models import cheetah_calibration as CC
from analysis.cost_models import moe as M
from analysis.cost_models.backend import CostBackend, SpuBackend, members, second_names, vocabulary_problems

COST_MODULES = sorted(m.name for m in pkgutil.iter_modules(cost_models.__path__))


def _signature(fn):
    return [(p.name, p.kind) for p in inspect.signature(fn).parameters.values() if p.name != "self"]


def _fake(**overrides):
    """A backend made of crypten's members, with ``overrides`` (None deletes a member)."""
    ns = {name: getattr(crypten, name) for name in members(CostBackend)}
    ns.update(overrides)
    return types.SimpleNamespace(**{k: v for k, v in ns.items() if v is not None})


def test_the_vocabulary_is_what_the_compositions_call():
    assert members(CostBackend) == sorted([
        "less_than_zero", "equal_zero", "eq_binary", "mul", "square", "mux_bits", "open_values", "matmul", "bmm",
        "bmm_sum", "wmm", "silu", "topk_auto", "equal", "onehot", "topk", "gate"])
    assert set(members(SpuBackend)) - set(members(CostBackend)) == {
        "exp", "reciprocal", "gelu", "select", "mux", "b2a", "onehot_op", "topk_op"}
    for name in members(SpuBackend):
        member = getattr(SpuBackend, name)
        assert member.__doc__ and member.__doc__.strip(), name
        hints = inspect.get_annotations(member)
        assert hints.get("return") == "Cost" and set(hints) == {p.name for p in
                                                                 inspect.signature(member).parameters.values()
                                                                 if p.name != "self"} | {"return"}, name


@pytest.mark.parametrize("module", [crypten, cheetah], ids=["crypten", "cheetah"])
def test_both_backends_provide_every_member_with_the_same_parameters(module):
    assert vocabulary_problems(module) == []
    for name in members(CostBackend):
        assert _signature(getattr(module, name)) == _signature(getattr(CostBackend, name)), name


def test_crypten_and_cheetah_agree_member_by_member():
    for name in members(CostBackend):
        assert _signature(getattr(crypten, name)) == _signature(getattr(cheetah, name)), name


def test_cheetah_provides_the_spu_ops_of_the_paper_accounting():
    assert vocabulary_problems(cheetah, SpuBackend) == []


@pytest.mark.parametrize("name", COST_MODULES)
def test_no_cost_model_gives_a_primitive_a_second_name(name):
    module = importlib.import_module(f"analysis.cost_models.{name}")
    for retired in backend.RETIRED_NAMES:
        assert not hasattr(module, retired), f"{name}.{retired}"
    assert second_names(module) == []


def test_cost_functions_are_named_after_their_entries():
    for gone in ("piecewise_all", "piecewise_select"):
        assert not hasattr(M, gone)
    for B in (crypten, cheetah):
        assert M.lift(B, 5) == B.less_than_zero(10).labelled("lift")
        assert [n for n, _ in M.lift(B, 5).steps] == ["lift"]
        assert M.secmoe_activation(B, 4, 3).step("compare") == B.less_than_zero(12)
        assert M.piecewise_activation(B, 4, 3).step("compare") == B.less_than_zero(12)


def test_cheetah_keeps_the_calibration_names_its_callers_use():
    for name in ("calibration_dir", "calibration_topk_fit", "topk_fit", "setup_bytes", "unit_costs",
                 "CMP_ROUNDS", "EQ_ROUNDS", "MATMUL_ROUNDS"):
        assert getattr(cheetah, name) is getattr(CC, name), name
    for name in ("LinearFit", "fit_line", "_Tables", "_Unit", "_load", "small_size_fits", "rows_table_fits",
                 "CalibrationError"):
        assert not hasattr(cheetah, name) or getattr(cheetah, name) is getattr(CC, name), name
        assert hasattr(CC, name), name


# -- negative controls: the checker must report a broken backend --------------------------------------------
def test_the_fake_made_of_crypten_passes():
    assert vocabulary_problems(_fake()) == []


def test_a_missing_member_is_reported():
    problems = vocabulary_problems(_fake(less_than_zero=None))
    assert len(problems) == 1 and "missing 'less_than_zero'" in problems[0]


def test_a_renamed_parameter_is_reported():
    def mux_bits(n_bits, n_values, n_out=None):
        return crypten.mux_bits(n_bits, n_values, n_out)

    problems = vocabulary_problems(_fake(mux_bits=mux_bits))
    assert len(problems) == 1 and "mux_bits" in problems[0] and "n_values" in problems[0]


def test_a_changed_kind_or_default_is_reported():
    def mul(n_x, n_y=None, *, n_out=None):
        return crypten.mul(n_x, n_y, n_out)

    def square(n=1):
        return crypten.square(n)

    assert len(vocabulary_problems(_fake(mul=mul))) == 1
    assert len(vocabulary_problems(_fake(square=square))) == 1


def test_a_second_name_is_reported():
    fake = _fake(lt=crypten.less_than_zero)
    assert any("'lt'" in p for p in vocabulary_problems(fake))
    alias = _fake(is_negative=crypten.less_than_zero)
    assert any("'is_negative' is a second name for 'less_than_zero'" in p for p in vocabulary_problems(alias))


def test_a_module_object_is_checked_like_a_namespace():
    module = types.ModuleType("fake_backend")
    vars(module).update({name: getattr(cheetah, name) for name in members(CostBackend) if name != "gate"})
    assert vocabulary_problems(module) == ["fake_backend: missing 'gate'"]
