"""The mutant catalogue (tests/mutants/catalogue.toml, `make mutants`) must not go stale: it parses, holds at
least 25 mutants over every category, each mutant's original text is on its line (exactly once) and the
mutated file still compiles, and every selection names an existing test file. Nothing is mutated here."""
import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("privmoe_mutants_run", ROOT / "tests" / "mutants" / "run.py")
run = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(run)

MUTANTS = run.load()


def test_catalogue_parses_and_is_large_enough():
    assert len(MUTANTS) >= 25
    assert {m.category for m in MUTANTS} == set(run.CATEGORIES)
    assert len({m.id for m in MUTANTS}) == len(MUTANTS)
    # no two mutants are the same edit
    assert len({(m.file, m.original, m.replacement) for m in MUTANTS}) == len(MUTANTS)


@pytest.mark.parametrize("m", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_applies_where_catalogued(m):
    line, warning = run.locate(m)
    assert warning is None, warning                   # the catalogued line number is current
    text = (ROOT / m.file).read_text()
    assert text.count(m.original) == 1, f"{m.original!r} must occur exactly once in {m.file}"
    mutated = run.mutate(m, text, line)
    assert mutated != text and mutated.count(m.replacement) >= 1
    compile(mutated, m.file, "exec")
    assert m.models.strip()


@pytest.mark.parametrize("m", MUTANTS, ids=[m.id for m in MUTANTS])
def test_selection_names_existing_tests(m):
    assert run.selection_problems(m) == []
    assert not any(s.startswith("tests/mutants") for s in m.select)


def test_a_moved_line_is_found_and_a_vanished_text_is_an_error(tmp_path):
    m = MUTANTS[0]
    src = (ROOT / m.file).read_text()
    (tmp_path / m.file).parent.mkdir(parents=True)
    (tmp_path / m.file).write_text("# one more line\n" + src)
    line, warning = run.locate(m, tmp_path)
    assert line == m.line + 1 and "stale line number" in warning
    (tmp_path / m.file).write_text(src.replace(m.original, "something else"))
    with pytest.raises(run.CatalogueError, match="stale catalogue"):
        run.locate(m, tmp_path)


def test_every_selection_collects():
    """Node ids must still exist (a renamed test or parameter would make the mutant run an error)."""
    import subprocess

    args = sorted({a for m in MUTANTS for a in m.select})
    out = subprocess.run([sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *args],
                         cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stdout[-2000:] + out.stderr[-2000:]
