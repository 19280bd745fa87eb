"""MkDocs hook: expands privmoe's placeholders at build time, so no number in the docs is copied by hand.

* ``<!-- privmoe:explain NAME [key=value ...] [--input NAME=JSON ...] -->``: the output of ``privmoe explain``
  (JSON without spaces);
* ``<!-- privmoe:costs NAME BACKEND [key=value ...] -->``: the analytic cost (``privmoe costs``) as a table
  of its total and top-level steps;
* ``<!-- privmoe:reproduce -->`` and ``<!-- privmoe:logged_runs -->``: the tables of ``privmoe reproduce``;
* ``<!-- privmoe:table MODULE:FUNCTION [arg ...] -->``: a DataFrame an ``analysis`` function returns.

And every page under ``protocols/`` gets a section "Who sends what, when": for each registered entry (not a
negative control) whose ``doc`` is that page, a message sequence diagram of one real run
(``analysis/sequence.py``), at ``<!-- sequence -->`` if the page has the marker, else at the end. Pages are
matched by path, so a renamed page only needs its entries' ``doc``. The build fails if a diagram's transcript
disagrees with its run's Meter.
"""
from __future__ import annotations

import re
from pathlib import Path

EXPLAIN = re.compile(r"<!--\s*privmoe:explain\s+(\S+)((?:\s+\w+=\S+)*)((?:\s+--input(?:\s+\w+=\S+)+)?)\s*-->")
COSTS = re.compile(r"<!--\s*privmoe:costs\s+(\S+)\s+(\w+)((?:\s+\w+=\S+)*)\s*-->")
REPRODUCE = re.compile(r"<!--\s*privmoe:(reproduce|logged_runs)\s*-->")
TABLE = re.compile(r"<!--\s*privmoe:table\s+([\w.]+):(\w+)((?:\s+\S+)*?)\s*-->")


def _explain(match: re.Match) -> str:
    from analysis import explain
    from analysis.cli import parse_sets

    name, sets = match.group(1), parse_sets(match.group(2).split()) if match.group(2).strip() else {}
    given = match.group(3).split()[1:]
    text = explain.render(explain.walk(name, sets, seed=0, inputs=explain.parse_inputs(given)))
    command = (f"privmoe explain {name}" + (f" --set{match.group(2)}" if sets else "")
               + (" --input " + " ".join(f"'{g}'" for g in given) if given else ""))
    return f"```text\n$ {command}\n{text}\n```"


def _bytes(n: int) -> str:
    return f"{n:,} B" if n < 10**6 else f"{n / 1e6:,.2f} MB" if n < 10**9 else f"{n / 1e9:,.2f} GB"


def _costs(match: re.Match) -> str:
    from analysis import registry
    from analysis.cli import parse_sets

    name, backend, sets = match.group(1), match.group(2), match.group(3)
    entry = registry.get(name)
    params = entry.resolve(parse_sets(sets.split()) if sets.strip() else {})
    cost = entry.cost(backend, params)
    rows = [("**total**", cost)] + [(f"`{n}`", c) for n, c in cost.steps if "/" not in n]
    lines = [f"`privmoe costs {name} --backend {backend}{' --set' + sets if sets.strip() else ''}`:", "",
             "| step | rounds | client → server | server → client | offline |", "|---|---|---|---|---|"]
    lines += [f"| {n} | {c.rounds:,} | {_bytes(c.bytes_client_to_server)} | {_bytes(c.bytes_server_to_client)} | "
              f"{_bytes(c.offline_bytes)} |" for n, c in rows]
    return "\n".join(lines)


def _reproduce(match: re.Match) -> str:
    from analysis import reproduce

    if match.group(1) == "reproduce":
        return reproduce.markdown(reproduce.table().drop(columns=["key", "parameters", "protocol / paper"]))
    return reproduce.logged_runs().drop(columns=["log"]).to_markdown(index=False, floatfmt=".3f")


def _table(match: re.Match) -> str:
    import importlib

    module, func, args = match.group(1), match.group(2), match.group(3).split()
    if not module.startswith("analysis."):
        raise ValueError(f"privmoe:table reads analysis modules only, got {module!r}")
    df = getattr(importlib.import_module(module), func)(*args)
    return df.to_markdown(floatfmt=".3g")


SEQUENCE_MARKER = re.compile(r"<!--\s*sequence\s*-->")
#: entry name -> its diagram's markdown, for one build (cleared by on_pre_build)
_SEQUENCES: dict[str, str] = {}


def _diagram(name: str) -> str:
    """The subsection of one entry: its SVG and a caption with the run's parameters and measured totals."""
    if name not in _SEQUENCES:
        from analysis import sequence

        m = sequence.measure(name)
        drawn, how = sequence.arrows(m.messages)
        problems = sequence.transcript_problems(m.messages, m.run) + sequence.transcript_problems(drawn, m.run)
        if problems:
            raise RuntimeError(f"sequence diagram of {name} disagrees with its run: " + "; ".join(problems))
        _SEQUENCES[name] = (f"### `{name}`\n\n<div class=\"sequence\">\n"
                            f"{sequence.svg(drawn, f'{name}: who sends what, when')}\n</div>\n\n"
                            f"{sequence.caption(m, drawn, how)}\n")
    return _SEQUENCES[name]


def _sequences(markdown: str, page, config) -> str:
    """Append (or insert at ``<!-- sequence -->``) the diagrams of the entries documented on this page."""
    if not page.file.src_uri.startswith("protocols/"):
        return markdown
    from analysis import registry

    root = Path(config.config_file_path).resolve().parent
    here = (Path(config["docs_dir"]) / page.file.src_uri).resolve()
    names = [e.name for e in registry.all_entries() if not e.negative_control and (root / e.doc).resolve() == here]
    if not names:
        return markdown
    section = ("## Who sends what, when\n\nEach diagram is one real run at the entry's default (small) public "
               "parameters, drawn from the messages its Meter recorded while this page was built: client and "
               "server lifelines, time going down, each arrow labelled round · step · bytes. Set-up and the "
               "dealer's offline messages are not drawn.\n\n" + "\n".join(_diagram(n) for n in names))
    if SEQUENCE_MARKER.search(markdown):
        return SEQUENCE_MARKER.sub(lambda _: section, markdown, count=1)
    return markdown.rstrip("\n") + "\n\n" + section


def on_pre_build(config) -> None:
    _SEQUENCES.clear()


def on_page_markdown(markdown: str, page, config, files) -> str:
    markdown = EXPLAIN.sub(_explain, markdown)
    markdown = COSTS.sub(_costs, markdown)
    markdown = TABLE.sub(_table, markdown)
    markdown = REPRODUCE.sub(_reproduce, markdown)
    return _sequences(markdown, page, config)
