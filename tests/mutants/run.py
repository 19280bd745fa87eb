"""Run the curated mutant catalogue (``tests/mutants/catalogue.toml``): ``make mutants``.

Each mutant is one line of one source file with one replacement. The working tree is copied ONCE to a
scratch directory (without .venv, .git, build, report, caches); for each mutant the line is replaced in
the copy, the tests that should catch it run there (``python -m pytest -x -q -p no:cacheprovider
SELECTION`` with ``cwd`` = the copy and ``PYTHONPATH`` = the copy, so the copy's packages shadow the
editable install -- checked before the first mutant), and the file is restored. ``-p mutants_plugin``
(this directory) turns off Hypothesis's shrinking: a killed mutant stops at its first failing example
instead of spending minutes minimising it (whether it is killed does not change). Results:

* ``killed``   -- the selection failed (pytest exit 1, or 2 for a collection error the mutant caused;
  pytest-timeout's 300 s per test, configured in pyproject.toml, counts as a failure);
* ``survived`` -- the selection passed: the suite misses this mutant;
* ``error``    -- the catalogue is stale (the original text is not on its line nor unique in the file),
  the replacement does not compile, the selection names a missing test file or selects nothing, pytest
  crashed, or the whole selection ran past ``--timeout``.

A line number that has moved is not an error: the unique line holding the original text is used and a
warning says the catalogue's line number is stale. Exit status 0 iff every mutant run was killed.

    python tests/mutants/run.py                  # all of them; writes tests/mutants/last_run.md
    python tests/mutants/run.py --only ID ...    # some (no report file unless --out)
    python tests/mutants/run.py --list           # the catalogue, nothing run

``PRIVMOE_EXAMPLES`` passes through (unset: the suite's default); ``PRIVMOE_SEED`` defaults to the seed
the suite derives from the commit (tests/conftest.py), since the scratch copy has no .git.
"""
from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

try:                                   # Python >= 3.11
    import tomllib
except ModuleNotFoundError:            # 3.10: the same parser, as tomli or as pip's vendored copy
    try:
        import tomli as tomllib
    except ModuleNotFoundError:
        from pip._vendor import tomli as tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
CATALOGUE = HERE / "catalogue.toml"
REPORT = HERE / "last_run.md"
CATEGORIES = ("functionality", "protocol", "runtime", "dealer", "he", "cost-model")
PACKAGES = ("analysis", "functionalities", "protocols", "simulators")
#: not copied to the scratch tree
IGNORED = (".venv", ".git", "build", "report", "site", "__pycache__", ".pytest_cache", ".hypothesis",
           "*.egg-info", "last_run.md")
#: one whole selection may run this long (pytest-timeout already stops any single test at 300 s)
DEFAULT_TIMEOUT = 1800


@dataclasses.dataclass(frozen=True)
class Mutant:
    id: str
    category: str
    file: str
    line: int
    original: str
    replacement: str
    models: str
    select: tuple[str, ...]
    k: str | None = None

    def pytest_args(self) -> list[str]:
        return [*self.select, *(["-k", self.k] if self.k else [])]


class CatalogueError(ValueError):
    pass


def load(path: Path = CATALOGUE) -> list[Mutant]:
    """Parse the catalogue; structural problems raise :class:`CatalogueError`."""
    with path.open("rb") as f:
        data = tomllib.load(f)
    out, seen = [], set()
    for i, m in enumerate(data.get("mutant", [])):
        missing = {"id", "category", "file", "line", "original", "replacement", "models", "select"} - set(m)
        unknown = set(m) - {f.name for f in dataclasses.fields(Mutant)}
        if missing or unknown:
            raise CatalogueError(f"mutant #{i} ({m.get('id')}): missing {sorted(missing)}, unknown {sorted(unknown)}")
        if m["id"] in seen:
            raise CatalogueError(f"duplicate mutant id {m['id']!r}")
        seen.add(m["id"])
        if m["category"] not in CATEGORIES:
            raise CatalogueError(f"{m['id']}: category {m['category']!r} not in {CATEGORIES}")
        if m["original"] == m["replacement"] or not m["original"].strip():
            raise CatalogueError(f"{m['id']}: the replacement must change a non-empty original text")
        if "\n" in m["original"] or "\n" in m["replacement"]:
            raise CatalogueError(f"{m['id']}: original and replacement are single-line texts")
        if not m["select"]:
            raise CatalogueError(f"{m['id']}: empty selection")
        out.append(Mutant(**{**m, "select": tuple(m["select"])}))
    return out


def locate(m: Mutant, root: Path = ROOT) -> tuple[int, str | None]:
    """(1-based line the mutant applies to, warning or None). Raises CatalogueError when the original text
    is neither on the catalogued line nor on exactly one line of the file."""
    path = root / m.file
    if not path.is_file():
        raise CatalogueError(f"{m.id}: no file {m.file}")
    lines = path.read_text().splitlines()
    if 1 <= m.line <= len(lines) and m.original in lines[m.line - 1]:
        if lines[m.line - 1].count(m.original) != 1:
            raise CatalogueError(f"{m.id}: the original text occurs more than once on {m.file}:{m.line}")
        return m.line, None
    hits = [i + 1 for i, text in enumerate(lines) if m.original in text]
    if len(hits) == 1 and lines[hits[0] - 1].count(m.original) == 1:
        return hits[0], f"{m.id}: stale line number {m.file}:{m.line}, the original text is now on line {hits[0]}"
    where = f"on lines {hits}" if hits else "nowhere"
    raise CatalogueError(f"{m.id}: stale catalogue: {m.original!r} is not on {m.file}:{m.line} and occurs {where} "
                         f"in the file")


def fix_lines(mutants: list[Mutant], path: Path = CATALOGUE) -> str:
    """Rewrite the ``line = N`` of every mutant whose original text moved (``locate``'s warning); a text that
    vanished stays an error. -> a one-line summary."""
    text = path.read_text()
    fixed = 0
    for m in mutants:
        line, warning = locate(m)
        if warning is None:
            continue
        head = f'id = "{m.id}"'
        at = text.index(head)
        old = f"line = {m.line}\n"
        pos = text.index(old, at)
        text = text[:pos] + f"line = {line}\n" + text[pos + len(old):]
        fixed += 1
    path.write_text(text)
    return f"{fixed} line numbers rewritten in {path.name}"


def selection_problems(m: Mutant, root: Path = ROOT) -> list[str]:
    """Every selection item must name an existing test file under tests/."""
    problems = []
    for item in m.select:
        file = item.split("::", 1)[0]
        if not file.startswith("tests/") or not (root / file).is_file():
            problems.append(f"{m.id}: selection {item!r} names no existing test file")
    return problems


def mutate(m: Mutant, text: str, line: int) -> str:
    lines = text.splitlines(keepends=True)
    lines[line - 1] = lines[line - 1].replace(m.original, m.replacement, 1)
    return "".join(lines)


# -- the run ----------------------------------------------------------------------------------------
def commit_seed(root: Path = ROOT) -> str | None:
    """The suite's seed for this commit (tests/conftest.py: the first 8 hex digits of HEAD)."""
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10,
                              check=True).stdout.strip()
        return str(int(head[:8], 16))
    except (OSError, subprocess.SubprocessError, ValueError):
        return None


def environment(scratch: Path) -> dict[str, str]:
    env = dict(os.environ)
    paths = [str(scratch), str(scratch / "tests" / "mutants")]      # the copy; mutants_plugin (no shrinking)
    env["PYTHONPATH"] = os.pathsep.join(paths + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    env["PYTHONDONTWRITEBYTECODE"] = "1"        # a restored file must never be shadowed by a mutant's .pyc
    if "PRIVMOE_SEED" not in env and (seed := commit_seed()) is not None:
        env["PRIVMOE_SEED"] = seed
    # cheetah's calibration tables live beside the repository (shared/calibration), not beside the copy
    calibration = ROOT.parent / "shared" / "calibration"
    if "PRIVMOE_CALIBRATION" not in env and calibration.is_dir():
        env["PRIVMOE_CALIBRATION"] = str(calibration)
    return env


def make_scratch(parent: str | None) -> Path:
    base = Path(tempfile.mkdtemp(prefix="privmoe-mutants-", dir=parent))
    tree = base / "tree"
    shutil.copytree(ROOT, tree, ignore=shutil.ignore_patterns(*IGNORED), symlinks=True)
    return tree


def check_shadowing(tree: Path, env: dict[str, str], python: str) -> None:
    """The scratch copy's packages must be the ones imported (not the editable install's)."""
    code = ("import importlib, sys\n"
            f"for name in {PACKAGES!r}:\n"
            "    print(importlib.import_module(name).__file__)\n")
    out = subprocess.run([python, "-c", code], cwd=tree, env=env, capture_output=True, text=True, timeout=120)
    files = out.stdout.split()
    if out.returncode or len(files) != len(PACKAGES) or not all(Path(f).resolve().is_relative_to(tree) for f in files):
        raise RuntimeError(f"the scratch copy does not shadow the install: {out.stdout}{out.stderr}")


@dataclasses.dataclass
class Result:
    mutant: Mutant
    line: int
    result: str
    seconds: float
    detail: str = ""


def _first_failure(output: str) -> str:
    for text in output.splitlines():
        if text.startswith(("FAILED ", "ERROR ")):
            return text[:160]
    for text in reversed(output.splitlines()):
        if "Timeout" in text or "Error" in text:
            return text.strip()[:160]
    return ""


def run_one(m: Mutant, tree: Path, env: dict[str, str], python: str, timeout: float) -> Result:
    start = time.monotonic()
    try:
        line, warning = locate(m, tree)
    except CatalogueError as e:
        return Result(m, m.line, "error", 0.0, str(e))
    if warning:
        print(f"WARNING: {warning}", file=sys.stderr)
    problems = selection_problems(m, tree)
    if problems:
        return Result(m, line, "error", 0.0, "; ".join(problems))
    path = tree / m.file
    original = path.read_text()
    mutated = mutate(m, original, line)
    try:
        compile(mutated, str(path), "exec")
    except SyntaxError as e:
        return Result(m, line, "error", 0.0, f"the replacement does not compile: {e}")
    path.write_text(mutated)
    try:
        cmd = [python, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", "-p", "mutants_plugin", *m.pytest_args()]
        proc = subprocess.Popen(cmd, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
        try:
            output, _ = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
            return Result(m, line, "error", time.monotonic() - start, f"selection ran past --timeout {timeout:g} s")
        except BaseException:          # interrupted (Ctrl-C, SIGTERM): take the selection's processes along
            os.killpg(proc.pid, signal.SIGKILL)
            raise
    finally:
        path.write_text(original)
    seconds = time.monotonic() - start
    code = proc.returncode
    if code == 0:
        return Result(m, line, "survived", seconds, "the selection passed")
    if code in (1, 2):
        return Result(m, line, "killed", seconds, ("collection error: " if code == 2 else "") + _first_failure(output))
    tail = " | ".join(output.strip().splitlines()[-3:])
    return Result(m, line, "error", seconds, f"pytest exit {code}: {tail}"[:300])


def table(results: list[Result], markdown: bool) -> str:
    head = ["id", "category", "file:line", "models", "result", "seconds"]
    rows = [[r.mutant.id, r.mutant.category, f"{r.mutant.file}:{r.line}", r.mutant.models, r.result,
             f"{r.seconds:.0f}"] for r in results]
    if markdown:
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        return "\n".join(out)
    widths = [max(len(str(x)) for x in col) for col in zip(head, *rows)]
    widths[3] = min(widths[3], 60)
    fmt = lambda row: "  ".join(str(c)[:w].ljust(w) for c, w in zip(row, widths))   # noqa: E731
    return "\n".join([fmt(head), fmt(["-" * w for w in widths])] + [fmt(r) for r in rows])


def write_report(path: Path, results: list[Result], total: float, env: dict[str, str], partial: bool) -> None:
    counts = {k: sum(r.result == k for r in results) for k in ("killed", "survived", "error")}
    lines = [
        "# Mutant run" + (" (partial: --only)" if partial else ""), "",
        f"Written by `tests/mutants/run.py` (`make mutants`) on {time.strftime('%Y-%m-%d %H:%M:%S')}: "
        f"{len(results)} mutants, {counts['killed']} killed, {counts['survived']} survived, "
        f"{counts['error']} errors, {total / 60:.1f} min in all. PRIVMOE_EXAMPLES="
        f"{env.get('PRIVMOE_EXAMPLES', '(suite default)')}, PRIVMOE_SEED={env.get('PRIVMOE_SEED', '(unset)')}.", "",
        table(results, markdown=True), "",
    ]
    details = [r for r in results if r.result != "killed" or r.detail]
    if details:
        lines += ["## Details", ""]
        lines += [f"- `{r.mutant.id}` ({r.result}; selection `{' '.join(r.mutant.pytest_args())}`): {r.detail}"
                  for r in details]
        lines.append("")
    path.write_text("\n".join(lines))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    ap.add_argument("--list", action="store_true", help="print the catalogue and exit")
    ap.add_argument("--fix-lines", action="store_true",
                    help="rewrite stale line numbers in the catalogue (where the original text moved) and exit")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="seconds per mutant's whole selection")
    ap.add_argument("--scratch", default=None, help="parent directory of the scratch copy (default: the system tmp)")
    ap.add_argument("--keep", action="store_true", help="keep the scratch copy")
    ap.add_argument("--out", type=Path, default=None,
                    help=f"markdown report (default {REPORT.relative_to(ROOT)} for a full run, none for --only)")
    args = ap.parse_args(argv)

    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))     # clean up the scratch copy on SIGTERM too
    mutants = load()
    if args.fix_lines:
        print(fix_lines(mutants))
        return 0
    if args.list:
        for m in mutants:
            print(f"{m.id:28} {m.category:13} {m.file}:{m.line}  {m.models}\n{'':43}kill: {' '.join(m.pytest_args())}")
        print(f"{len(mutants)} mutants")
        return 0
    if args.only:
        unknown = set(args.only) - {m.id for m in mutants}
        if unknown:
            ap.error(f"unknown mutant ids: {sorted(unknown)}")
        mutants = [m for m in mutants if m.id in args.only]
    out = args.out if args.out is not None else (None if args.only else REPORT)

    python = str(ROOT / ".venv" / "bin" / "python")
    if not Path(python).exists():
        python = sys.executable
    tree = make_scratch(args.scratch)
    env = environment(tree)
    results: list[Result] = []
    start = time.monotonic()
    try:
        check_shadowing(tree, env, python)
        print(f"scratch copy {tree}; PRIVMOE_EXAMPLES={env.get('PRIVMOE_EXAMPLES', '(suite default)')} "
              f"PRIVMOE_SEED={env.get('PRIVMOE_SEED', '(unset)')}", flush=True)
        for i, m in enumerate(mutants, 1):
            r = run_one(m, tree, env, python, args.timeout)
            results.append(r)
            print(f"[{i}/{len(mutants)}] {m.id}: {r.result} ({r.seconds:.0f} s) {r.detail}", flush=True)
    finally:
        if not args.keep:
            shutil.rmtree(tree.parent, ignore_errors=True)
    total = time.monotonic() - start
    print()
    print(table(results, markdown=False))
    bad = [r for r in results if r.result != "killed"]
    print(f"\n{len(results)} mutants: {len(results) - len(bad)} killed, "
          f"{sum(r.result == 'survived' for r in results)} survived, {sum(r.result == 'error' for r in results)} "
          f"errors; {total / 60:.1f} min")
    if out is not None:
        write_report(out, results, total, env, partial=bool(args.only))
        print(f"wrote {out}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
