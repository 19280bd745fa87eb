"""`privmoe explain`: every registered protocol walks through; values beside the spec's; costs agree."""
import json
import re

import pytest
import torch

from analysis import explain, registry
from analysis.cli import main

NAMES = [e.name for e in registry.all_entries()]


@pytest.mark.parametrize("name", NAMES)
def test_every_protocol_walks_through(name):
    w = explain.walk(name)
    assert w["steps"] and w["outputs"]
    if w["total"]["model"] is not None:
        assert w["total"]["meter"] == w["total"]["model"]
    for s in w["steps"]:
        if "model" in s:
            assert {k: s["meter"][k] for k in s["model"]} == s["model"], s["step"]
        for t in s["traces"]:
            if "ideal" in t:
                assert t["value"] == pytest.approx(t["ideal"], abs=0.2), (name, t["name"])
    assert "step 1:" in explain.render(w)


def test_dispatch_walk_shows_shares_messages_and_values(capsys):
    assert main(["explain", "cryptomoe.dispatch", "--set", "tokens=4", "experts=3", "--json"]) == 0
    w = json.loads(capsys.readouterr().out)
    names = [t["name"] for s in w["steps"] for t in s["traces"]]
    assert names == ["S", "S'", "T", "O", "X"]
    t = next(t for s in w["steps"] for t in s["traces"] if t["name"] == "T")
    assert t["value"] == t["ideal"] and t["client_share"] != t["value"]      # a share is not the value
    assert any(m["from_to"] == "client->server" for s in w["steps"] for m in s["messages"])


# CryptoMoE's Fig. 4 toy example: E = 4 experts, m = 2 tokens A and B, k = 2, t = 1. Expert 2's priorities
# over the k*m = 4 (token, slot) candidates c = token*k + slot are [0, 0.2, 0, 0.6]: A routes to experts
# 0 and 2 (scores 0.8, 0.2), B to 1 and 2 (0.4, 0.6). With t = 1 expert 2 keeps B (0.6) and drops A.
FIG4_SETS = ["tokens=2", "experts=4", "top_k=2", "capacity=1", "hidden=2"]
FIG4_INPUTS = ["x=[[1, 2], [3, 4]]", "K=[[0, 2], [1, 2]]", "W=[[0.8, 0.2], [0.4, 0.6]]"]


def test_fig4_toy_example_walks_the_users_inputs(capsys):
    from functionalities.routing import priorities

    inputs = explain.parse_inputs(FIG4_INPUTS)
    S = priorities(torch.tensor(inputs["K"]), torch.tensor(inputs["W"]), 4)
    assert S[2].tolist() == pytest.approx([0, 0.2, 0, 0.6], abs=1e-4)         # the paper's vector, from the spec
    assert main(["explain", "cryptomoe.dispatch", "--set", *FIG4_SETS, "--input", *FIG4_INPUTS, "--json"]) == 0
    w = json.loads(capsys.readouterr().out)
    assert all(v["given"] for v in w["inputs"].values())
    assert w["inputs"]["W"]["values"] == [0.8, 0.2, 0.4, 0.6]
    t = next(t for s in w["steps"] for t in s["traces"] if t["name"] == "T")
    assert t["value"][2] == t["ideal"][2] == 1                                 # expert 2 selects token B
    X, O, S_kept = w["outputs"]
    assert O["real"][2 * 2:3 * 2] == [0.0, 1.0]                                # O[2, 0] = one-hot of B
    assert X["real"][2 * 2:3 * 2] == [3.0, 4.0]                                 # X[2, 0] = x_B
    assert S_kept["real"][2] == pytest.approx(0.6, abs=1e-4)
    for o in w["outputs"]:
        assert o["real"] == o["ideal"]
    assert w["total"]["meter"] == w["total"]["model"]
    for s in w["steps"]:
        if "model" in s:
            assert {k: s["meter"][k] for k in s["model"]} == s["model"], s["step"]


def test_inputs_api_matches_the_cli_and_mixes_with_drawn_ones():
    w = explain.walk("cryptomoe.dispatch", {"tokens": 2, "experts": 4, "top_k": 2, "capacity": 1, "hidden": 2},
                     inputs={"K": [[0, 2], [1, 2]], "W": torch.tensor([[0.8, 0.2], [0.4, 0.6]])})
    assert [v["given"] for v in w["inputs"].values()] == [False, True, True]   # x drawn, K and W given
    assert next(t for s in w["steps"] for t in s["traces"] if t["name"] == "T")["value"][2] == 1
    assert "(given)" in explain.render(w)


@pytest.mark.parametrize("given, error, says", [
    ("x=[[1,2],[3,4]", "PrivMoEError", "not valid JSON"),
    ("x", "PrivMoEError", "NAME=JSON"),
    ("y=[[1]]", "PrivMoEError", "no secret input 'y'"),
    ("x=[[1,2],[3]]", "ShapeError", "rectangular"),
    ("x=[[1,2]]", "ShapeError", "expected shape (2, 2)"),
    ('x=[["a",2],[3,4]]', "FixedPointRangeError", "expected numbers"),
    ("K=[[0,2.5],[1,2]]", "FixedPointRangeError", "expected integers"),
    ("K=[[0,7],[1,2]]", "FixedPointRangeError", "K"),                          # the entry's own validation
    ("K=[[0,0],[1,2]]", "FixedPointRangeError", "distinct"),
    ("W=[[0.8,2],[0.4,0.6]]", "FixedPointRangeError", "W"),
])
def test_bad_inputs_are_named_errors_exit_2_no_traceback(given, error, says, capsys):
    from functionalities import errors

    with pytest.raises(getattr(errors, error), match=re.escape(says)):
        explain.walk("cryptomoe.dispatch", {"tokens": 2, "experts": 4, "top_k": 2, "capacity": 1, "hidden": 2},
                     inputs=explain.parse_inputs([given]))
    assert main(["explain", "cryptomoe.dispatch", "--set", *FIG4_SETS, "--input", given]) == 2
    err = capsys.readouterr().err
    assert err.startswith("privmoe: error:") and says in err and "Traceback" not in err
