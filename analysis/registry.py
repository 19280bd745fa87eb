"""The protocol registry: every :class:`~analysis.entry.Entry` by name.

Entries live one per file in ``analysis/entries/`` and call :func:`analysis.entry.register`; everything
generic (the harness, ``privmoe verify/costs/list/report``, the parametrised tests) iterates the registry,
so adding a protocol adds no test or CLI code. Several entries may realise the same functionality.
This module loads the entry modules on first use; the types live in ``analysis/entry.py``, so an entry
module imports that and never this (no import cycle).
"""
from __future__ import annotations

import importlib
import pkgutil

from analysis import entries
from analysis.entry import (_REGISTRY, BadCase, Entry, Inputs, InputSpec, Params, RealRun,  # noqa: F401
                            exact_check, register)

#: entries renamed so that every name is realisation.functionality; looking up an old name says the new one
RENAMED = {"cryptomoe.batch_matmul": "cryptomoe.matmul"}

#: entry modules not imported yet (None: loading has not started)
_pending: list[str] | None = None


def _module_names() -> list[str]:
    """The entry modules (files of ``analysis/entries``; ``_``-prefixed ones are helpers, not entries)."""
    return [m.name for m in pkgutil.iter_modules(entries.__path__) if not m.name.startswith("_")]


def _drain(until: str | None = None) -> None:
    """Import pending entry modules: all of them, or until ``until`` is registered. An entry that builds
    on another (``get`` while loading) so finds it whatever the two files are called."""
    while _pending and (until is None or until not in _REGISTRY):
        importlib.import_module(f"analysis.entries.{_pending.pop(0)}")


def _load() -> None:
    global _pending
    if _pending is None:
        _pending = _module_names()
        _drain()


def get(name: str) -> Entry:
    _load()
    if name not in _REGISTRY:
        _drain(until=name)
    if name not in _REGISTRY:
        if name in RENAMED:
            raise KeyError(f"protocol {name!r} is now called {RENAMED[name]!r}")
        raise KeyError(f"unknown protocol {name!r}; registered: {', '.join(sorted(_REGISTRY))}")
    return _REGISTRY[name]


def all_entries() -> list[Entry]:
    _load()
    return [_REGISTRY[k] for k in sorted(_REGISTRY)]
