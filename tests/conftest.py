"""The suite's Hypothesis set-up: how many examples, and which.

* ``PRIVMOE_EXAMPLES`` examples per property test (default 25; ``make test-deep`` runs 200).
* The seed comes from the commit under test (the first 8 hex digits of ``git rev-parse HEAD`` as an
  integer): a run is reproducible, and every commit explores different inputs. ``PRIVMOE_SEED`` or
  pytest's own ``--hypothesis-seed`` override it. The seed is printed at the end of every run; a
  failure replays with ``pytest --hypothesis-seed=SEED`` and the same ``PRIVMOE_EXAMPLES``.
* No example database: a run depends on the seed alone, not on what earlier runs found.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

EXAMPLES = int(os.environ.get("PRIVMOE_EXAMPLES", "25"))

# CrypTen runs are ~0.1-1 s each: no deadline; the example count is the budget.
settings.register_profile("privmoe", max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
settings.load_profile("privmoe")


def commit_seed() -> tuple[int, str]:
    """(seed, where it came from): ``PRIVMOE_SEED``, else the commit's first 8 hex digits, else 0."""
    if os.environ.get("PRIVMOE_SEED"):
        return int(os.environ["PRIVMOE_SEED"]), "PRIVMOE_SEED"
    try:
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=10, check=True).stdout.strip()
        return int(head[:8], 16), f"commit {head[:8]}"
    except (OSError, subprocess.SubprocessError, ValueError):
        return 0, "no git checkout"


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """Force the seed for every Hypothesis test (before the Hypothesis plugin reads the option)."""
    seed, source = (config.getoption("hypothesis_seed"), "--hypothesis-seed")
    if seed is None:
        seed, source = commit_seed()
        config.option.hypothesis_seed = seed
    from hypothesis import core

    core.global_force_seed = int(seed)
    config._privmoe_seed = (int(seed), source)


def _seed_line(config) -> str:
    seed, source = config._privmoe_seed
    return (f"hypothesis seed {seed} ({source}), {EXAMPLES} examples per property; "
            f"replay: PRIVMOE_EXAMPLES={EXAMPLES} pytest --hypothesis-seed={seed}")


def pytest_report_header(config):
    return _seed_line(config)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    terminalreporter.write_line(_seed_line(config))
