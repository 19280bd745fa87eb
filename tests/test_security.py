"""Security as a tested property: every secure protocol passes the simulator checks, every negative
control is caught, and the JSON of `privmoe verify` says which."""
import json

import pytest

from analysis import harness, registry
from analysis.cli import main
from simulators.security import compare_samples, elementwise_problems

import numpy as np

SECURE = [e for e in registry.all_entries() if not e.negative_control]
CONTROLS = [e for e in registry.all_entries() if e.negative_control]


def _first(entry):
    """The first Hypothesis example's (params, a, b), as verify() would use it."""
    box = {}
    from hypothesis import HealthCheck, Phase, given, settings, strategies as st
    from hypothesis import seed as hseed

    @hseed(0)
    @settings(max_examples=1, database=None, phases=[Phase.generate], deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def pick(data):
        p = data.draw(entry.params_strategy())
        box["v"] = (p, data.draw(entry.inputs_strategy(p)), data.draw(entry.inputs_strategy(p)))

    pick()
    return box["v"]


@pytest.mark.parametrize("entry", SECURE, ids=[e.name for e in SECURE])
def test_secure_protocols_pass_the_simulator_checks(entry):
    results = harness.security_results(entry, _first(entry), runs=4, seed=0)
    assert all(r.passed for r in results), [(r.check, r.failures) for r in results]


@pytest.mark.parametrize("entry", CONTROLS, ids=[e.name for e in CONTROLS])
def test_negative_controls_are_caught(entry):
    results = harness.security_results(entry, _first(entry), runs=6, seed=0)
    assert not all(r.passed for r in results), f"{entry.name} was not caught"


def test_the_four_controls_are_registered():
    assert {e.name for e in CONTROLS} == {"insecure.moe", "leaky.dispatch", "unmasked.matmul", "leaky_dealer.equal"}


def test_verify_json_reports_controls_as_caught(capsys):
    code = main(["verify", "leaky_dealer.equal", "equal", "--examples", "1", "--security-runs", "4", "--json"])
    obj = json.loads(capsys.readouterr().out)
    assert code == 0
    by = {p["protocol"]: p for p in obj["protocols"]}
    assert by["leaky_dealer.equal"]["caught"] is True and by["equal"]["passed"] is True
    assert any(c["check"].startswith("security") for c in by["equal"]["checks"])


def test_the_tests_have_power_and_no_false_alarm():
    rng = np.random.default_rng(0)
    uniform = lambda: [rng.integers(0, 2**63, 50, dtype=np.int64).view(np.uint64) for _ in range(6)]  # noqa: E731
    assert compare_samples(uniform(), uniform(), tests=1000) == []
    # a routing bit carried deterministically by d = 2 elements: chi2 = 2 R d on d degrees of freedom,
    # p = exp(-R d / ... ) -- R = 6 is not enough at 1e-6, R = 10 is (simulators/security.py, POWER)
    leak_a = [np.array([1, 0, 1, 0], dtype=np.uint64)]
    leak_b = [np.array([0, 1, 1, 0], dtype=np.uint64)]
    assert not elementwise_problems(leak_a * 6, leak_b * 6, threshold=1e-6)
    assert elementwise_problems(leak_a * 10, leak_b * 10, threshold=1e-6)
