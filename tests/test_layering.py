"""Layers point down and no modules import each other in a cycle (``analysis/layering.py``): checked on
the repository, and shown to fail on a copy of it with one bad import planted in each way one can hide."""
import shutil
from pathlib import Path

import pytest

from analysis import layering

ROOT = Path(__file__).resolve().parents[1]


def test_layers_point_down_and_nothing_imports_in_a_cycle():
    assert layering.problems(ROOT) == []


def test_every_kind_of_import_is_an_edge():
    """Top-level, function-level, relative, ``from package import module`` and dynamic imports are all seen."""
    found = {(e.source, e.target) for e in layering.edges(ROOT)}
    assert ("analysis.registry", "analysis.entries") in found            # importlib.import_module(f"...")
    assert ("analysis.cli", "analysis.explain") in found                  # inside a function
    assert ("protocols.mpc.secmoe_moe", "protocols.mpc.gate") in found     # from .gate import gate
    assert ("analysis.harness", "analysis.security") in found             # from analysis.security import ...
    assert len(layering.modules(ROOT)) > 100


@pytest.fixture
def tree(tmp_path):
    for layer in layering.LAYERS:
        shutil.copytree(ROOT / layer, tmp_path / layer, ignore=shutil.ignore_patterns("__pycache__", "data"))
    assert layering.problems(tmp_path) == []
    return tmp_path


def _plant(root: Path, rel: str, code: str) -> None:
    path = root / rel
    path.write_text(path.read_text() + "\n\n" + code + "\n")


@pytest.mark.parametrize("rel, code, expect", [
    # an upward import hidden in a function (the layering's classic escape)
    ("functionalities/topk.py", "def _later():\n    from analysis import report", "layer analysis is above"),
    # protocols reaching the ideal-world HE simulator (the pre-issue-15 SecMoE)
    ("protocols/mpc/secmoe_moe.py", "def _backend():\n    from simulators.he import SimBackend",
     "imports simulators.he"),
    # a dynamic import with a constant prefix
    ("protocols/mpc/sharing.py", "def _load(n):\n    import importlib\n    return importlib.import_module(f\"simulators.{n}\")",
     "imports simulators"),
    # a cycle inside one layer through a function-level import: entry <-> registry
    ("analysis/entry.py", "def _all():\n    from analysis.registry import all_entries", "import cycle among"),
    # a cycle through a relative import: primitives <-> topk
    ("protocols/mpc/primitives.py", "def _k():\n    from .topk import topk", "import cycle among"),
    # the pre-issue-15 report -> cli -> report cycle (a progress bar hosted by the CLI)
    ("analysis/report.py", "def _bar():\n    from analysis.cli import main", "import cycle among"),
])
def test_a_planted_bad_import_is_caught(tree, rel, code, expect):
    _plant(tree, rel, code)
    found = layering.problems(tree)
    assert found and any(expect in p for p in found), found
    module = layering.module_name(tree, tree / rel)
    assert any(module in p for p in found)


def test_the_cycle_report_names_the_lines(tree):
    _plant(tree, "analysis/entry.py", "def _all():\n    from analysis.registry import all_entries")
    (cycle,) = [p for p in layering.problems(tree) if p.startswith("import cycle")]
    assert "analysis.entry -> analysis.registry (analysis/entry.py:" in cycle
    assert "analysis.registry -> analysis.entry" in cycle
