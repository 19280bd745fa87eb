"""Contracts between the registry, the documentation and the README, as fast tests (no protocol runs).

Each contract is a small function that returns the problems it finds (``[]`` when the contract holds):

* :func:`entry_problems`: every field of a registered :class:`~analysis.registry.Entry` holds something
  that can be wrong (owners, shapes, defaults, leakage, bad cases, costs, doc page, kind vs backends,
  approximate iff ``errors``, summary); ``test_entry_is_complete`` in ``tests/test_registry_generic.py``
  runs it on every entry;
* :func:`inputs_problems`: inputs drawn from an entry's strategy have the names, shapes and dtypes its
  ``input_specs`` announce;
* :func:`doc_problems`: an entry's ``doc`` page exists under ``docs/`` and is in the ``mkdocs.yml`` nav;
* :func:`readme_problems`: the README's protocol table against the registry (every entry that is not a
  negative control has a row with its kind and functionality; every negative control is named; no row
  names an unregistered protocol);
* :func:`api_problems`: ``docs/api.md`` lists every module of the library packages, once, and nothing else
  that does not exist;
* :func:`stem_problems`: one name stem per protocol across the layers -- the entry is
  ``realisation.functionality`` (or the functionality alone), the spec is ``functionalities/<functionality>.py``,
  the protocol ``protocols/{mpc,he}/<realisation>_<functionality>.py`` (or ``protocols/<realisation>/
  <functionality>.py``), a cost function of that stem exists in ``analysis/cost_models`` (``<functionality>``
  for a bare entry or a package as realisation, e.g. ``he.lift``), and the page is
  ``docs/protocols/<functionality>.md`` or ``docs/protocols/<realisation>_<functionality>.md``.

The real tests call each function on the repository; the negative tests call the same function on a
deliberately broken copy (``dataclasses.replace`` of a real entry, an edited README or API page) and
assert that it reports the break: every contract check is shown to be able to fail.
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import pytest
import torch
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from analysis import registry
from analysis.cost_models.cost import METRICS, Cost
from analysis.registry import BadCase, Entry, InputSpec
from functionalities.errors import PeerError, PrivMoEError, PublicParameterError, ShapeError

ROOT = Path(__file__).resolve().parents[1]

KINDS = ("mpc", "he", "hybrid")
#: kind -> (backends an entry of that kind must have, backends it may have)
KIND_BACKENDS = {"mpc": ({"crypten"}, {"crypten", "cheetah"}),
                 "hybrid": ({"crypten"}, {"crypten", "cheetah"}),
                 "he": ({"seal"}, {"seal", "sim"})}
#: the packages ``docs/api.md`` must cover, module by module (the ``analysis`` scripts and CLI are not API)
API_PACKAGES = ("protocols", "protocols/runtime", "protocols/mpc", "protocols/he", "functionalities", "simulators",
                "analysis/cost_models")


# -- the contract checks ------------------------------------------------------------------------------------


def cost_function_names(root: Path = ROOT) -> set[str]:
    """Every module-level function defined in ``analysis/cost_models``."""
    import ast

    names: set[str] = set()
    for path in (root / "analysis" / "cost_models").glob("*.py"):
        names |= {n.name for n in ast.parse(path.read_text()).body if isinstance(n, ast.FunctionDef)}
    return names


def stem_problems(entry: Entry, root: Path = ROOT, costs: set[str] | None = None) -> list[str]:
    """The entry's name, spec, protocol, cost function and page share one stem (module docstring). A negative
    control composes a secure protocol: only its name, spec and page are checked."""
    functionality = entry.functionality.split("[")[0]
    realisation, dot, last = entry.name.rpartition(".")
    problems: list[str] = []
    if (dot and last != functionality) or (not dot and entry.name != functionality):
        problems.append(f"{entry.name}: the name is not realisation.{functionality} (nor {functionality})")
    if not (root / "functionalities" / f"{functionality}.py").is_file():
        problems.append(f"{entry.name}: no spec functionalities/{functionality}.py")
    stem = f"{realisation}_{functionality}" if dot else functionality
    pages = {f"docs/protocols/{functionality}.md", f"docs/protocols/{stem}.md"}
    if entry.negative_control:          # documented on the page of the protocol it composes with a leak
        if not re.fullmatch(rf"docs/protocols/([a-z0-9]+_)?{functionality}\.md", entry.doc):
            problems.append(f"{entry.name}: its page {entry.doc} is not a page of {functionality}")
        return problems
    if entry.doc not in pages:
        problems.append(f"{entry.name}: its page {entry.doc} is not one of {sorted(pages)}")
    files = [f"protocols/{pkg}/{stem}.py" for pkg in ("mpc", "he")] + [f"protocols/{realisation}/{functionality}.py"]
    if not any((root / f).is_file() for f in files if f):
        problems.append(f"{entry.name}: no protocol file {' or '.join(files[:2])}")
    costs = cost_function_names(root) if costs is None else costs
    # bare entries (``topk``) and a protocols package as realisation (``he.lift``) use the functionality's name
    if stem not in costs and (dot and realisation not in ("mpc", "he") or functionality not in costs):
        problems.append(f"{entry.name}: no cost function {stem} in analysis/cost_models")
    return problems


def nav_pages(root: Path = ROOT) -> set[str]:
    """Every page of the ``mkdocs.yml`` nav, as a path under ``docs/``."""
    config = yaml.safe_load((root / "mkdocs.yml").read_text())
    pages: set[str] = set()

    def walk(node):
        if isinstance(node, str):
            pages.add(f"docs/{node}")
        elif isinstance(node, list):
            for item in node:
                walk(item)
        elif isinstance(node, dict):
            for value in node.values():
                walk(value)

    walk(config.get("nav", []))
    return pages


def doc_problems(entry: Entry, root: Path = ROOT, nav: set[str] | None = None) -> list[str]:
    """The entry's ``doc`` is a page under ``docs/`` that exists and is reachable from the nav."""
    doc = entry.doc
    if not isinstance(doc, str) or not doc.startswith("docs/") or not doc.endswith(".md"):
        return [f"{entry.name}: doc {doc!r} is not a docs/*.md page"]
    problems = []
    if not (root / doc).is_file():
        problems.append(f"{entry.name}: doc page {doc} does not exist")
    if doc not in (nav_pages(root) if nav is None else nav):
        problems.append(f"{entry.name}: doc page {doc} is not in the mkdocs.yml nav")
    return problems


def _named_error(error) -> bool:
    """A bad input is refused with one of ``functionalities/errors.py``'s named input errors."""
    return (isinstance(error, type) and issubclass(error, PrivMoEError) and error is not PrivMoEError
            and not issubclass(error, PeerError))


def _cost_problems(entry: Entry, backend: str, params: dict) -> list[str]:
    where = f"{entry.name}: cost[{backend}] at the defaults"
    try:
        cost = entry.cost(backend, params)
    except Exception as e:  # noqa: BLE001 -- any failure is the finding
        return [f"{where} raises {type(e).__name__}: {e}"]
    if not isinstance(cost, Cost):
        return [f"{where} returns {type(cost).__name__}, not a Cost"]
    problems = []
    metrics = cost.to_dict()
    negative = {m: v for m, v in metrics.items() if v < 0}
    if negative:
        problems.append(f"{where} has negative metrics {negative}")
    if backend in ("crypten", "cheetah"):
        if cost.rounds <= 0 or cost.bytes <= 0:
            problems.append(f"{where}: a two-party protocol needs rounds > 0 and bytes > 0, "
                            f"got rounds={cost.rounds}, bytes={cost.bytes}")
    elif cost.ciphertexts <= 0 or cost.bytes <= 0:
        problems.append(f"{where}: an HE protocol sends ciphertexts, got ciphertexts={cost.ciphertexts}, "
                        f"bytes={cost.bytes}")
    if backend == "crypten" and cost.steps:
        top = [c for n, c in cost.steps if "/" not in n]
        for m in METRICS:
            total = sum(getattr(c, m) for c in top)
            if total != getattr(cost, m):
                problems.append(f"{where}: the top-level steps' {m} add up to {total}, not the total "
                                f"{getattr(cost, m)}")
    return problems


def entry_problems(entry: Entry, root: Path = ROOT, nav: set[str] | None = None) -> list[str]:
    """Everything wrong with one (non negative-control) entry's fields; ``[]`` when it is complete."""
    name = entry.name
    problems: list[str] = []

    # identity: name, functionality, summary, kind
    if not isinstance(name, str) or not re.fullmatch(r"[a-z0-9_]+(\.[a-z0-9_]+)*", name):
        problems.append(f"{name!r}: name is not a lower-case dotted identifier")
    if not isinstance(entry.functionality, str) or not re.fullmatch(r"[a-z0-9_]+(\[[a-z0-9_]+\])?",
                                                                     entry.functionality):
        problems.append(f"{name}: functionality {entry.functionality!r} is not an identifier")
    summary = entry.summary
    if not isinstance(summary, str) or not summary.strip():
        problems.append(f"{name}: summary is empty")
    elif "\n" in summary or summary != summary.strip():
        problems.append(f"{name}: summary is not one line ({summary!r})")
    if entry.kind not in KINDS:
        problems.append(f"{name}: kind {entry.kind!r} is not one of {KINDS}")
    else:
        required, allowed = KIND_BACKENDS[entry.kind]
        backends = set(entry.costs)
        if not required <= backends or not backends <= allowed:
            problems.append(f"{name}: a {entry.kind} entry has backends {sorted(required)} and may have "
                            f"{sorted(allowed)}; it has {sorted(backends)}")
        if not callable(entry.real) or entry.runner is not None:
            problems.append(f"{name}: a {entry.kind} entry runs its real protocol on the two-party runtime "
                            f"(real callable, runner None)")
    for field in ("ideal", "validate", "input_specs", "params_strategy", "inputs_strategy", "check",
                  "error_bound"):
        if not callable(getattr(entry, field)):
            problems.append(f"{name}: {field} is not callable")

    # public parameters: defaults resolve, leakage names them
    if not isinstance(entry.defaults, dict) or not entry.defaults:
        return problems + [f"{name}: no default public parameters"]
    try:
        params = entry.resolve()
    except Exception as e:  # noqa: BLE001
        return problems + [f"{name}: the defaults do not resolve: {type(e).__name__}: {e}"]
    if not set(entry.defaults) <= set(params):
        problems.append(f"{name}: resolve() drops default parameters {sorted(set(entry.defaults) - set(params))}")
    if not entry.leakage:
        problems.append(f"{name}: declares no leakage")
    elif not set(entry.leakage) <= set(entry.defaults):
        problems.append(f"{name}: leakage {sorted(set(entry.leakage) - set(entry.defaults))} is not among the "
                        f"public parameters")

    # inputs: who owns what, of which shape
    try:
        specs = list(entry.input_specs(params))
    except Exception as e:  # noqa: BLE001
        specs = []
        problems.append(f"{name}: input_specs at the defaults raises {type(e).__name__}: {e}")
    if not specs and not any("input_specs" in p for p in problems):
        problems.append(f"{name}: input_specs at the defaults is empty")
    if len({s.name for s in specs}) != len(specs):
        problems.append(f"{name}: two inputs share a name")
    for s in specs:
        if not isinstance(s, InputSpec):
            problems.append(f"{name}: input spec {s!r} is not an InputSpec")
            continue
        if s.owner not in (0, 1) or isinstance(s.owner, bool):
            problems.append(f"{name}: input {s.name} has owner {s.owner!r}, not 0 (client) or 1 (server)")
        shape = tuple(s.shape)
        if not shape or not all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in shape):
            problems.append(f"{name}: input {s.name} has shape {s.shape!r} at the defaults: not a positive-size "
                            f"tensor shape")

    # bad inputs: declared, each refused with a named error
    if not entry.bad_cases:
        problems.append(f"{name}: declares no bad inputs")
    if len({b.label for b in entry.bad_cases}) != len(entry.bad_cases):
        problems.append(f"{name}: two bad cases share a label")
    for b in entry.bad_cases:
        if not callable(b.mutate):
            problems.append(f"{name}: bad case {b.label!r} has no mutate function")
        if not _named_error(b.error):
            problems.append(f"{name}: bad case {b.label!r} expects {b.error!r}, not a named input error of "
                            f"functionalities/errors.py")

    # error bound: approximate iff ``errors`` (the per-example bound)
    try:
        bound = float(entry.error_bound(params))
    except Exception as e:  # noqa: BLE001
        problems.append(f"{name}: error_bound at the defaults raises {type(e).__name__}: {e}")
    else:
        if not bound >= 0:
            problems.append(f"{name}: error_bound at the defaults is {bound}, not >= 0")
        elif (bound > 0) != (entry.errors is not None):
            problems.append(f"{name}: error_bound at the defaults is {bound} but errors is "
                            f"{'set' if entry.errors is not None else 'None'}: an entry is approximate "
                            f"(bound > 0) iff it derives per-example bounds (errors)")

    # costs: every backend at the defaults
    if not entry.costs:
        problems.append(f"{name}: no cost model")
    for backend in entry.costs:
        problems += _cost_problems(entry, backend, params)

    return problems + doc_problems(entry, root, nav)


def inputs_problems(entry: Entry, params: dict, inputs: dict) -> list[str]:
    """Inputs drawn for ``params`` are exactly the inputs ``input_specs(params)`` announces: names, shapes,
    integer or not."""
    specs = {s.name: s for s in entry.input_specs(params)}
    problems = []
    if set(specs) != set(inputs):
        problems.append(f"{entry.name}: inputs {sorted(inputs)} but input_specs {sorted(specs)}")
    for key in set(specs) & set(inputs):
        s, x = specs[key], inputs[key]
        if tuple(x.shape) != tuple(s.shape):
            problems.append(f"{entry.name}: input {key} has shape {tuple(x.shape)}, input_specs says {s.shape}")
        if s.integer == x.is_floating_point():
            problems.append(f"{entry.name}: input {key} has dtype {x.dtype}, input_specs says "
                            f"integer={s.integer}")
    return problems


def _readme_table(readme: str) -> list[list[str]]:
    """The rows of the table under ``## Protocols so far``: the header, then every ``|`` line up to the first
    line that is not one (a blank line ends a Markdown table)."""
    section = readme.split("## Protocols so far", 1)
    if len(section) < 2:
        return []
    rows, started = [], False
    for line in section[1].splitlines():
        if line.startswith("|"):
            started = True
            rows.append([c.strip() for c in line.strip().strip("|").split("|")])
        elif started:
            break
    return rows


def readme_problems(readme: str, entries: list[Entry]) -> list[str]:
    """The README's protocol table against the registry (``entries``: all registered entries)."""
    rows = _readme_table(readme)
    if len(rows) < 2:
        return ["README: no protocol table under '## Protocols so far'"]
    header = [h.lower() for h in rows[0]]
    for column in ("name", "kind", "functionality"):
        if column not in header:
            return [f"README: the protocol table has no {column!r} column (columns: {rows[0]})"]
    col = {c: header.index(c) for c in ("name", "kind", "functionality")}
    by_name = {e.name: e for e in entries}
    problems, seen, named = [], set(), set()
    for row in rows[2:]:
        if len(row) != len(header):
            problems.append(f"README: row {row[0]!r} has {len(row)} cells, the header {len(header)}")
            continue
        names = re.findall(r"`([^`]+)`", row[col["name"]])
        if len(names) == 1 and row[col["name"]] == f"`{names[0]}`":
            name = names[0]
            named.add(name)
            if name not in by_name:
                problems.append(f"README: stale row {name!r}: no such registered protocol")
                continue
            if name in seen:
                problems.append(f"README: two rows for {name!r}")
            seen.add(name)
            e = by_name[name]
            if row[col["kind"]] != e.kind:
                problems.append(f"README: {name} has kind {row[col['kind']]!r}, the registry {e.kind!r}")
            if row[col["functionality"]] != e.functionality:
                problems.append(f"README: {name} has functionality {row[col['functionality']]!r}, the registry "
                                f"{e.functionality!r}")
        else:  # a row that lists negative controls by name
            listed = [n for n in re.findall(r"`([^`]+)`", " ".join(row)) if "." in n and "/" not in n]
            count = re.match(r"(\d+)", row[col["name"]])
            if count and int(count.group(1)) != len(listed):
                problems.append(f"README: row {row[0]!r} says {count.group(1)} but names {len(listed)}")
            for name in listed:
                named.add(name)
                if name not in by_name:
                    problems.append(f"README: stale name {name!r}: no such registered protocol")
                elif not by_name[name].negative_control:
                    problems.append(f"README: {name} is listed among the negative controls but is not one")
    for e in entries:
        if not e.negative_control and e.name not in seen:
            problems.append(f"README: {e.name} ({e.kind}, {e.functionality}) has no row in the protocol table")
        if e.negative_control and e.name not in named:
            problems.append(f"README: the negative control {e.name} is not named in the protocol table")
    return problems


def library_modules(root: Path = ROOT) -> set[str]:
    """Every module of the library packages (``API_PACKAGES``), dotted, ``__init__`` left out."""
    return {f"{package.replace('/', '.')}.{f.stem}" for package in API_PACKAGES
            for f in (root / package).glob("*.py") if f.stem != "__init__"}


def api_problems(api: str, root: Path = ROOT) -> list[str]:
    """``docs/api.md``'s ``::: module`` lines: each names a module that exists, once; together they cover every
    module of the library packages."""
    targets = re.findall(r"^:::\s*([\w.]+)\s*$", api, flags=re.M)
    problems = []
    for t in sorted({t for t in targets if targets.count(t) > 1}):
        problems.append(f"docs/api.md: {t} is listed {targets.count(t)} times")
    for t in targets:
        path = root / Path(*t.split("."))
        if not (path.with_suffix(".py").is_file() or (path / "__init__.py").is_file()):
            problems.append(f"docs/api.md: {t} is not a module of the repository")
    for m in sorted(library_modules(root) - set(targets)):
        problems.append(f"docs/api.md: the module {m} is missing")
    return problems


# -- the contracts, on the repository -----------------------------------------------------------------------

ALL = registry.all_entries()
ENTRIES = [e for e in ALL if not e.negative_control]
IDS = [e.name for e in ENTRIES]


@pytest.mark.parametrize("entry", ALL, ids=[e.name for e in ALL])
def test_contract_doc_page_exists_and_is_in_the_nav(entry):
    assert doc_problems(entry) == []


@pytest.mark.parametrize("entry", ENTRIES, ids=IDS)
@settings(max_examples=2, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_contract_drawn_inputs_match_input_specs(entry, data):
    params = entry.resolve()
    assert inputs_problems(entry, params, data.draw(entry.inputs_strategy(params), label="inputs")) == []


def test_contract_readme_protocol_table_matches_the_registry():
    assert readme_problems((ROOT / "README.md").read_text(), ALL) == []


@pytest.mark.parametrize("entry", ALL, ids=[e.name for e in ALL])
def test_contract_one_stem_per_protocol(entry):
    assert stem_problems(entry) == []


@pytest.mark.parametrize("changes, phrase", [
    ({"name": "cryptomoe.batch_matmul"}, "is not realisation.matmul"),
    ({"functionality": "he_matmul"}, "no spec functionalities/he_matmul.py"),
    ({"doc": "docs/protocols/he_matmul.md"}, "its page docs/protocols/he_matmul.md"),
    ({"name": "secure.matmul"}, "no protocol file protocols/mpc/secure_matmul.py"),
])
def test_contract_stem_problems_are_reported(changes, phrase):
    broken = dataclasses.replace(registry.get("cryptomoe.matmul"), **changes)
    assert any(phrase in p for p in stem_problems(broken)), stem_problems(broken)


def test_contract_a_missing_cost_function_is_reported():
    entry = registry.get("cryptomoe.dispatch")
    found = stem_problems(entry, costs=cost_function_names() - {"cryptomoe_dispatch"})
    assert any("no cost function cryptomoe_dispatch" in p for p in found)


def test_contract_api_reference_covers_the_packages():
    assert api_problems((ROOT / "docs" / "api.md").read_text()) == []


# -- each check can fail -------------------------------------------------------------------------------------


def _broken(base: str, **changes) -> Entry:
    return dataclasses.replace(registry.get(base), **changes)


def _specs(*specs):
    return lambda p: list(specs)


class _NotNamed(ValueError):
    pass


BROKEN = [
    # (what is broken, the broken entry, a phrase the report must contain)
    ("name", lambda: _broken("equal", name="Equal Two"), "lower-case dotted identifier"),
    ("functionality", lambda: _broken("equal", functionality=""), "is not an identifier"),
    ("summary empty", lambda: _broken("equal", summary="  "), "summary is empty"),
    ("summary two lines", lambda: _broken("equal", summary="one\ntwo"), "summary is not one line"),
    ("kind unknown", lambda: _broken("equal", kind="tee"), "is not one of"),
    ("mpc without crypten", lambda: _broken("equal", costs={"cheetah": registry.get("equal").costs["cheetah"]}),
     "a mpc entry has backends"),
    ("he with crypten", lambda: _broken("bolt.matmul", costs={**registry.get("bolt.matmul").costs,
                                                              "crypten": registry.get("equal").costs["crypten"]}),
     "a he entry has backends"),
    ("he claimed mpc", lambda: _broken("bolt.matmul", kind="mpc"), "a mpc entry has backends"),
    ("mpc with a runner", lambda: _broken("equal", runner=lambda *a, **k: None), "on the two-party runtime"),
    ("he without a real protocol", lambda: _broken("bolt.matmul", real=None), "on the two-party runtime"),
    ("check not callable", lambda: _broken("equal", check=None), "check is not callable"),
    ("no defaults", lambda: _broken("equal", defaults={}), "no default public parameters"),
    ("defaults do not resolve", lambda: _broken("topk", defaults={**registry.get("topk").defaults, "t": 0}),
     "do not resolve"),
    ("no leakage", lambda: _broken("equal", leakage=()), "declares no leakage"),
    ("leakage not public", lambda: _broken("equal", leakage=("n", "x")), "not among the public parameters"),
    ("owner 2", lambda: _broken("equal", input_specs=_specs(InputSpec("x", 2, (3,)), InputSpec("y", 1, (3,)))),
     "not 0 (client) or 1 (server)"),
    ("shape of size 0", lambda: _broken("equal", input_specs=_specs(InputSpec("x", 0, (0,)),
                                                                    InputSpec("y", 1, (3,)))),
     "not a positive-size"),
    ("scalar shape", lambda: _broken("equal", input_specs=_specs(InputSpec("x", 0, ()), InputSpec("y", 1, (3,)))),
     "not a positive-size"),
    ("no inputs", lambda: _broken("equal", input_specs=_specs()), "input_specs at the defaults is empty"),
    ("duplicate input", lambda: _broken("equal", input_specs=_specs(InputSpec("x", 0, (3,)),
                                                                   InputSpec("x", 1, (3,)))),
     "two inputs share a name"),
    ("no bad cases", lambda: _broken("equal", bad_cases=[]), "declares no bad inputs"),
    ("bad case, unnamed error", lambda: _broken("equal", bad_cases=[BadCase("x", lambda p, i: (p, i), ValueError)]),
     "not a named input error"),
    ("bad case, own error class", lambda: _broken("equal", bad_cases=[BadCase("x", lambda p, i: (p, i), _NotNamed)]),
     "not a named input error"),
    ("bad case, the base class", lambda: _broken("equal", bad_cases=[BadCase("x", lambda p, i: (p, i),
                                                                             PrivMoEError)]),
     "not a named input error"),
    ("duplicate bad-case label", lambda: _broken("equal", bad_cases=[
        BadCase("x", lambda p, i: (p, i), ShapeError), BadCase("x", lambda p, i: (p, i), PublicParameterError)]),
     "two bad cases share a label"),
    ("exact entry with errors", lambda: _broken("equal", errors=registry.get("gate").errors),
     "approximate (bound > 0) iff"),
    ("approximate entry without errors", lambda: _broken("gate", errors=None), "approximate (bound > 0) iff"),
    ("negative bound", lambda: _broken("equal", error_bound=lambda p: -1.0), "not >= 0"),
    ("no cost model", lambda: _broken("equal", costs={}), "no cost model"),
    ("cost raises", lambda: _broken("equal", costs={**registry.get("equal").costs,
                                                    "crypten": lambda p: 1 / 0}), "raises ZeroDivisionError"),
    ("cost not a Cost", lambda: _broken("equal", costs={**registry.get("equal").costs, "crypten": lambda p: 7}),
     "not a Cost"),
    ("negative metric", lambda: _broken("equal", costs={**registry.get("equal").costs,
                                                        "crypten": lambda p: Cost(rounds=3, offline_bytes=-8,
                                                                                  bytes_client_to_server=8)}),
     "negative metrics"),
    ("crypten cost with no rounds", lambda: _broken("equal", costs={
        **registry.get("equal").costs, "crypten": lambda p: Cost.symmetric(0, 64)}), "rounds > 0 and bytes > 0"),
    ("HE cost with no ciphertexts", lambda: _broken("bolt.matmul", costs={"seal": lambda p: Cost(rounds=2)}),
     "an HE protocol sends ciphertexts"),
    ("steps do not add up", lambda: _broken("equal", costs={
        **registry.get("equal").costs,
        "crypten": lambda p: Cost(rounds=9, bytes_client_to_server=16, bytes_server_to_client=16,
                                  steps=(("a", Cost.symmetric(2, 8)), ("b", Cost.symmetric(3, 8))))}),
     "rounds add up to 5, not the total 9"),
    ("doc outside docs/", lambda: _broken("equal", doc="README.md"), "is not a docs/*.md page"),
    ("doc page missing", lambda: _broken("equal", doc="docs/protocols/no_such_page.md"), "does not exist"),
    ("doc page not in the nav", lambda: _broken("equal", doc="docs/hooks.md"), "not in the mkdocs.yml nav"),
]


@pytest.mark.parametrize("broken, phrase", [(b, p) for _, b, p in BROKEN], ids=[w for w, _, _ in BROKEN])
def test_contract_entry_problems_reports_a_broken_entry(broken, phrase):
    problems = entry_problems(broken())
    assert any(phrase in p for p in problems), problems


def test_contract_entry_problems_accepts_a_real_entry():
    """The negative tests above break ONE field of an entry that is otherwise complete."""
    for name in ("equal", "topk", "gate", "bolt.matmul"):
        assert entry_problems(registry.get(name)) == [], name


def test_contract_a_page_outside_the_nav_is_reported(tmp_path):
    (tmp_path / "docs" / "protocols").mkdir(parents=True)
    (tmp_path / "docs" / "protocols" / "equal.md").write_text("# equal\n")
    (tmp_path / "mkdocs.yml").write_text("nav:\n  - Home: index.md\n")
    assert doc_problems(registry.get("equal"), tmp_path) == [
        "equal: doc page docs/protocols/equal.md is not in the mkdocs.yml nav"]


def test_contract_drawn_inputs_problems_are_reported():
    e = registry.get("equal")
    p = e.resolve()
    n = p["n"]
    good = {"x": torch.zeros(n), "y": torch.zeros(n)}
    assert inputs_problems(e, p, good) == []
    assert "inputs ['x'] but input_specs ['x', 'y']" in inputs_problems(e, p, {"x": good["x"]})[0]
    assert "has shape" in inputs_problems(e, p, {**good, "y": torch.zeros(n, 1)})[0]
    assert "has dtype" in inputs_problems(e, p, {**good, "y": torch.zeros(n, dtype=torch.long)})[0]


def _readme() -> str:
    return (ROOT / "README.md").read_text()


def _edit(old: str, new: str) -> str:
    text = _readme()
    assert text.count(old) == 1, old
    return text.replace(old, new)


@pytest.mark.parametrize("readme, phrase", [
    (lambda: _edit("| `equal` | mpc | equal |", "| `equal` | he | equal |"), "equal has kind 'he'"),
    (lambda: _edit("| `gate` | mpc | gate |", "| `gate` | mpc | router |"), "gate has functionality 'router'"),
    (lambda: re.sub(r"^\| `topk` \|.*\n", "", _readme(), flags=re.M), "topk (mpc, topk) has no row"),
    (lambda: _edit("| `equal` | mpc | equal |", "| `equal` | mpc | equal | | |\n| `equal.v2` | mpc | equal |"),
     "stale row 'equal.v2'"),
    (lambda: _edit("| `onehot` | mpc | onehot |", "| `equal` | mpc | equal |"), "two rows for 'equal'"),
    (lambda: _edit("| `he.lift` |", "\n| `he.lift` |"), "he.lift (hybrid, lift) has no row"),
    (lambda: _edit("`reuse.dispatch`, ", ""), "says 13 but names 12"),
    (lambda: _edit("`reuse.dispatch`, ", "`reuse.dispatch`, `nosuch.gate`, ").replace("| 13 more", "| 14 more"),
     "stale name 'nosuch.gate'"),
    (lambda: _edit("`reuse.dispatch`,", "`gate`,"), "the negative control reuse.dispatch is not named"),
    (lambda: _edit("| name | kind | functionality |", "| name | type | functionality |"), "no 'kind' column"),
    (lambda: _readme().replace("## Protocols so far", "## Protocols"), "no protocol table"),
], ids=["kind", "functionality", "missing row", "stale row", "duplicate row", "table cut by a blank line",
        "count", "stale control", "control not named", "no kind column", "no table"])
def test_contract_readme_problems_are_reported(readme, phrase):
    problems = readme_problems(readme(), ALL)
    assert any(phrase in p for p in problems), problems


def test_contract_readme_control_listed_as_a_protocol_is_reported():
    text = _edit("`reuse.dispatch`, ", "`reuse.dispatch`, `equal.x`, ").replace("| 12 more", "| 13 more")
    fake = dataclasses.replace(registry.get("equal"), name="equal.x")
    assert "README: equal.x is listed among the negative controls but is not one" in readme_problems(
        text, ALL + [fake])


@pytest.mark.parametrize("edit, phrase", [
    (lambda a: a + "\n::: protocols.mpc.no_such_module\n", "protocols.mpc.no_such_module is not a module"),
    (lambda a: a.replace("::: protocols.mpc.equal\n", ""), "the module protocols.mpc.equal is missing"),
    (lambda a: a + "\n::: protocols.mpc.topk\n", "protocols.mpc.topk is listed 2 times"),
], ids=["stale", "missing", "duplicate"])
def test_contract_api_problems_are_reported(edit, phrase):
    problems = api_problems(edit((ROOT / "docs" / "api.md").read_text()))
    assert any(phrase in p for p in problems), problems


def install_problems(pyproject: str, makefile: str) -> list[str]:
    """Every runtime dependency of ``pyproject.toml`` is installed by the Makefile's venv recipe (the package
    itself is installed with ``--no-deps``, so a dependency missing there is missing on a fresh machine)."""
    import tomllib

    deps = tomllib.loads(pyproject)["project"]["dependencies"]
    names = [re.split(r"[=<>\[ ]", d, maxsplit=1)[0].lower() for d in deps]
    words = {w.strip('"').split("[")[0].split("=")[0].lower() for w in makefile.split()}
    return [f"pyproject dependency {n!r} is not installed by the Makefile" for n in names if n not in words]


def test_contract_the_makefile_installs_every_dependency():
    assert install_problems((ROOT / "pyproject.toml").read_text(), (ROOT / "Makefile").read_text()) == []


def test_contract_a_dependency_the_makefile_misses_is_reported():
    makefile = (ROOT / "Makefile").read_text().replace(" zstandard", "")
    assert install_problems((ROOT / "pyproject.toml").read_text(), makefile) == [
        "pyproject dependency 'zstandard' is not installed by the Makefile"]
