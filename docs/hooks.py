"""MkDocs hook: expands ``<!-- privmoe:explain NAME [key=value ...] -->`` into the output of
``privmoe explain`` at build time, so the worked examples in the docs are never copied by hand."""
from __future__ import annotations

import re

PATTERN = re.compile(r"<!--\s*privmoe:explain\s+(\S+)((?:\s+\w+=\S+)*)\s*-->")


def _expand(match: re.Match) -> str:
    from analysis import explain
    from analysis.cli import parse_sets

    name, sets = match.group(1), parse_sets(match.group(2).split()) if match.group(2).strip() else {}
    text = explain.render(explain.walk(name, sets, seed=0))
    return f"```text\n$ privmoe explain {name}{match.group(2)}\n{text}\n```"


def on_page_markdown(markdown: str, page, config, files) -> str:
    return PATTERN.sub(_expand, markdown)
