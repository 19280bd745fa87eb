"""Generic tests over the registry: a new entry is tested here with no new test code.

(a) equivalence within the entry's declared error bound; (b) Meter == the model, exactly, in total and per
step (``crypten`` for MPC and hybrid entries, with a hybrid's HE counts; ``seal`` for HE entries); (c) obliviousness: two secret inputs, same public parameters, same transcript signature;
(d) every declared bad input raises its named error in the spec and in the real run.
"""
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from analysis import harness, registry

ENTRIES = [e for e in registry.all_entries() if not e.negative_control]
IDS = [e.name for e in ENTRIES]


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@given(data=st.data())
def test_equivalence_and_cost_model_and_obliviousness(entry, data):
    """(a), (b) on input a; (c) a's transcript against input b's (two real runs per example, not three)."""
    params = data.draw(entry.params_strategy(), label="params")
    a = data.draw(entry.inputs_strategy(params), label="a")
    b = data.draw(entry.inputs_strategy(params), label="b")
    ex = harness.run_example(entry, params, a, seed=3)
    assert ex.equivalence == [], ex.equivalence
    assert ex.cost == [], ex.cost          # against the crypten model (MPC, hybrid) or the HE backend's
    rb = harness.run_real(entry, params, b, seed=4)
    assert harness.signature_difference(ex.real, rb) is None, "transcripts of inputs a and b differ"


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@settings(max_examples=2)
@given(data=st.data())
def test_bad_input_raises_named_errors(entry, data):
    assert entry.bad_cases, f"{entry.name} declares no bad inputs"
    params = data.draw(entry.params_strategy(), label="params")
    inputs = data.draw(entry.inputs_strategy(params), label="inputs")
    assert harness.bad_input_problems(entry, params, inputs) == []


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
def test_entry_is_complete(entry):
    """Every field of the entry is checked for something that can fail (``entry_problems`` in
    ``tests/test_contracts.py``, whose negative tests break each field of a real entry): owners and shapes,
    defaults that resolve, leakage among them, bad cases with named errors, costs at the defaults (no
    negative metric; rounds and bytes, or ciphertexts for HE; steps that add up), kind vs backends, ``errors``
    iff approximate, a one-line summary, the doc page in the nav."""
    from test_contracts import entry_problems

    assert entry_problems(entry) == []
