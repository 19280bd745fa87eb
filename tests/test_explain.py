"""`privmoe explain`: every registered protocol walks through; values beside the spec's; costs agree."""
import json

import pytest

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
