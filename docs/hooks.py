"""MkDocs hook: expands privmoe's placeholders at build time, so no number in the docs is copied by hand.

* ``<!-- privmoe:explain NAME [key=value ...] [--input NAME=JSON ...] -->``: the output of ``privmoe explain``
  (JSON without spaces);
* ``<!-- privmoe:costs NAME BACKEND [key=value ...] -->``: the analytic cost (``privmoe costs``) as a table
  of its total and top-level steps;
* ``<!-- privmoe:reproduce -->`` and ``<!-- privmoe:logged_runs -->``: the tables of ``privmoe reproduce``;
* ``<!-- privmoe:table MODULE:FUNCTION [arg ...] -->``: a DataFrame an ``analysis`` function returns.
"""
from __future__ import annotations

import re

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


def on_page_markdown(markdown: str, page, config, files) -> str:
    markdown = EXPLAIN.sub(_explain, markdown)
    markdown = COSTS.sub(_costs, markdown)
    markdown = TABLE.sub(_table, markdown)
    return REPRODUCE.sub(_reproduce, markdown)
