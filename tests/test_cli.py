"""The CLI contract of DESIGN.md: names, flags, JSON shape, exit codes."""
import json

import pytest
import torch

from analysis import harness, registry
from analysis.cli import main
from analysis.cost_models.cost import METRICS


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_list_json_names_every_entry(capsys):
    code, out, _ = run(capsys, "list", "--json")
    rows = json.loads(out)
    assert code == 0
    assert {r["name"] for r in rows} == {e.name for e in registry.all_entries()}
    assert all({"name", "functionality", "kind", "backends", "doc"} <= set(r) for r in rows)


def test_costs_json_equals_the_meter(capsys):
    code, out, _ = run(capsys, "costs", "topk", "--backend", "crypten", "--set", "rows=2", "length=6", "t=3", "--json")
    assert code == 0
    obj = json.loads(out)
    assert set(obj) == {"protocol", "backend", "params", "total", "steps"}
    assert set(obj["total"]) == set(METRICS) and all(set(s) == {"step", *METRICS} for s in obj["steps"])
    entry = registry.get("topk")
    params = obj["params"]
    x = torch.tensor([[3.0, -1.0, 3.0, 0.5, 0.0, 2.0], [0.0] * 6])
    got = harness.measured(harness.run_real(entry, params, {"x": x}).meter)
    for metric in harness.COMPARED:
        assert obj["total"][metric] == got[metric], metric


def test_costs_cheetah_paper_scale_is_instant(capsys):
    code, out, _ = run(capsys, "costs", "gate", "--backend", "cheetah", "--set",
                       "tokens=128 experts=64 top_k=6 hidden=2048", "--json")
    obj = json.loads(out)
    assert code == 0 and obj["total"]["bytes"] > 0 and [s["step"] for s in obj["steps"]][:1] == ["logits"]


def test_bad_parameters_exit_2_with_a_message(capsys):
    code, _, err = run(capsys, "costs", "topk", "--set", "t=99", "length=4")
    assert code == 2 and "t=99" in err
    code, _, err = run(capsys, "costs", "topk", "--set", "nonsense=1")
    assert code == 2 and "unknown parameter" in err
    code, _, err = run(capsys, "verify", "no-such-protocol")
    assert code == 2 and "unknown protocol" in err and not err.split("error: ")[1].startswith(('"', "'"))
    code, _, err = run(capsys, "costs", "cryptomoe.batch_matmul")       # renamed (one stem per protocol)
    assert code == 2 and "now called 'cryptomoe.matmul'" in err


def test_verify_json_reports_every_check(capsys):
    code, out, _ = run(capsys, "verify", "equal", "onehot", "--examples", "2", "--seed", "1", "--json")
    obj = json.loads(out)
    assert code == 0 and obj["ok"]
    for item in obj["protocols"]:
        assert [c["check"] for c in item["checks"]] == list(harness.CHECKS) + list(harness.SECURITY_CHECKS)
        assert all(c["passed"] and c["examples"] > 0 for c in item["checks"])


def test_verify_set_pins_the_public_parameters(capsys):
    code, out, _ = run(capsys, "verify", "topk", "--set", "rows=2", "length=60", "t=3", "--examples", "2",
                       "--security-runs", "0", "--json")
    obj = json.loads(out)
    assert code == 0 and obj["ok"]
    item = obj["protocols"][0]
    assert item["params"] == registry.get("topk").resolve({"rows": 2, "length": 60, "t": 3})
    assert [c["check"] for c in item["checks"]] == list(harness.CHECKS) and all(c["passed"] for c in item["checks"])


def test_verify_set_refuses_bad_parameters_by_name(capsys):
    code, out, err = run(capsys, "verify", "topk", "--set", "nonsense=1")
    assert code == 2 and "unknown parameter 'nonsense'" in err and not out
    code, _, err = run(capsys, "verify", "topk", "--set", "t=9", "length=4")
    assert code == 2 and "t=9" in err and "Traceback" not in err
    code, _, err = run(capsys, "verify", "topk", "gate", "--set", "length=8")   # every entry named resolves them
    assert code == 2 and "gate: unknown parameter 'length'" in err


def test_an_alias_without_its_parameter_is_refused_by_the_name_given(capsys):
    """dense.moe shares the MoE aliases but has no capacity: ``t=3`` is named as typed, with its target."""
    code, out, err = run(capsys, "costs", "dense.moe", "--set", "t=3")
    assert code == 2 and "unknown parameter 't' (alias of 'capacity')" in err and not out


def test_verify_exits_1_when_a_check_fails(capsys, monkeypatch):
    entry = registry.get("equal")
    monkeypatch.setitem(entry.costs, "crypten", lambda p: registry.get("onehot").cost("crypten", {"rows": 1, "width": 1, "classes": 9}))
    code, out, _ = run(capsys, "verify", "equal", "--examples", "1", "--json")
    obj = json.loads(out)
    assert code == 1 and not obj["ok"]
    assert not next(c for c in obj["protocols"][0]["checks"] if c["check"] == "cost_model")["passed"]


def test_doctor_is_green(capsys):
    code, out, _ = run(capsys, "doctor", "--json")
    obj = json.loads(out)
    assert code == 0, obj
    assert {c["check"] for c in obj["checks"]} >= {"torch", "crypten + shim", "tenseal / SEAL BFV"}


def test_report_writes_markdown_csv_manifest_and_plots(tmp_path, capsys):
    code, _, _ = run(capsys, "report", "--quick", "--out", str(tmp_path))
    assert code == 0
    md = (tmp_path / "report.md").read_text()
    for section in ("## 1. Dispatch", "## 2. Matmul", "## 3. The MoE layer", "## 4. Routing fidelity",
                    "## 5. Model vs measurement", "## 6. Security checks", "## 7. Published numbers"):
        assert section in md
    import re

    exact, total = map(int, re.search(r"\*\*(\d+)/(\d+)\*\*", md).groups())
    assert exact == total > 0                      # the model equals every measurement we claim exact
    assert "NOT CAUGHT" not in md and "| FAIL" not in md
    import pandas as pd

    table = pd.read_csv(tmp_path / "costs.csv")
    assert {"protocol", "backend", "step", "phase", "direction", "metric", "analytic", "measured", "parameters",
            "seed"} <= set(table.columns)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["seed"] == 0
    # where the time goes: every section timed, and §6 shows the recorded tables beside its live checks
    assert set(manifest["section_seconds"]) >= {"6 security", "5 model vs measurement", "7 published numbers"}
    assert "Recorded by the security benchmarks" in md and "cipherprune.moe" in md
    assert len(list(tmp_path.glob("*.png"))) >= 5
    # the reproduction table is regenerated by the report: only its published column is typed by hand
    from analysis import published, reproduce

    rep = pd.read_csv(tmp_path / "reproduce.csv")
    assert list(rep["published"]) == [p.value for p in published.PUBLISHED]
    assert list(rep["paper"]) == pytest.approx([r.paper for r in reproduce.rows()])
    assert rep["protocol"].notna().sum() == len(rep) - 1          # CipherGPT has no protocol of privmoe's


def test_resolved_parameters_agree_with_an_explicit_capacity(capsys):
    """An explicit capacity wins over the factor: no echo shows a factor that contradicts it."""
    code, out, _ = run(capsys, "costs", "cryptomoe.moe", "--set", "capacity=12", "--json")
    params = json.loads(out)["params"]
    assert code == 0 and params["capacity"] == 12 and params["capacity_factor"] is None
    code, out, _ = run(capsys, "costs", "cryptomoe.dispatch", "--set", "t=3", "f=1.5", "--json")   # both given: t wins
    params = json.loads(out)["params"]
    assert code == 0 and params["capacity"] == 3 and params["capacity_factor"] is None
    # a factor alone derives t, and the two agree: t = floor(f k m / E)
    code, out, _ = run(capsys, "costs", "cryptomoe.moe", "--set", "tokens=16 experts=4 top_k=2 f=1.5", "--json")
    params = json.loads(out)["params"]
    assert code == 0 and params["capacity_factor"] == 1.5 and params["capacity"] == 12
    assert registry.get("cryptomoe.moe").resolve(params) == params     # resolving resolved parameters: a fixed point
    code, out, _ = run(capsys, "costs", "cryptomoe.moe", "--set", "tokens=16 experts=4 top_k=2 f=1.5 t=12", "--json")
    assert code == 0 and json.loads(out)["params"] == params           # an explicit t the factor agrees with
    # explain and verify --json echo the same resolution
    code, out, _ = run(capsys, "explain", "cryptomoe.dispatch", "--set", "capacity=3", "--json")
    params = json.loads(out)["params"]
    assert code == 0 and params["capacity"] == 3 and params["capacity_factor"] is None
    code, out, _ = run(capsys, "verify", "cryptomoe.dispatch", "--set", "tokens=4 experts=2 top_k=1 hidden=2 capacity=3",
                       "--examples", "1", "--security-runs", "0", "--json")
    params = json.loads(out)["protocols"][0]["params"]
    assert code == 0 and params["capacity"] == 3 and params["capacity_factor"] is None


def _actions(parser, path=("privmoe",)):
    """(command path, action) of every argument of the parser and of every subcommand, recursively."""
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield from _actions(sub, path + (name,))
        yield path, action


def test_every_flag_has_help_text():
    import argparse

    from analysis.cli import build_parser

    seen, missing = 0, []
    for path, action in _actions(build_parser()):
        if isinstance(action, argparse._HelpAction):
            continue
        seen += 1
        if not (action.help or "").strip() or action.help == argparse.SUPPRESS:
            missing.append(f"{' '.join(path)} {'/'.join(action.option_strings) or action.dest}")
    assert seen > 30 and not missing, missing


def _privmoe_cmd() -> list[str]:
    import shutil
    import sys
    from pathlib import Path

    script = Path(sys.executable).parent / "privmoe"
    return [str(script)] if script.exists() else [shutil.which("privmoe") or "privmoe"]


@pytest.mark.parametrize("unbuffered", [False, True])
def test_output_into_a_closed_pipe_ends_quietly(unbuffered):
    """``privmoe list --json | head -c 10``: no traceback, no 'Exception ignored', exit 0 -- whether the
    write that meets the closed pipe is a print (unbuffered) or the final flush (block-buffered)."""
    import os
    import shlex
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"} | ({"PYTHONUNBUFFERED": "1"} if unbuffered else {})
    cmd = " ".join(map(shlex.quote, _privmoe_cmd()))
    shell = subprocess.run(["bash", "-c", f"set -o pipefail; {cmd} list --json | head -c 10"], env=env,
                           capture_output=True, text=True, timeout=120)
    assert shell.returncode == 0 and shell.stdout == "[\n  {\n    " and "Traceback" not in shell.stderr, shell.stderr
    # a reader that is gone before the first byte (deterministic: the interpreter is still starting)
    for argv in (["list", "--json"], ["costs", "topk", "--json"], ["list"]):
        proc = subprocess.Popen(_privmoe_cmd() + argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        proc.stdout.close()
        err = proc.stderr.read().decode()
        assert proc.wait(timeout=120) == 0, err
        assert "Traceback" not in err and "Exception ignored" not in err and "BrokenPipe" not in err, err
