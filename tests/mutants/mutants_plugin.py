"""pytest plugin for mutant runs only (``run.py`` passes ``-p mutants_plugin``): Hypothesis stops at the
first failing example instead of shrinking it. Whether a mutant is killed does not depend on shrinking
(the failure is found while generating; shrinking only makes it smaller), but shrinking a failing
CrypTen example costs minutes. Everything else about the suite's profile (examples, seed) is kept."""
from __future__ import annotations

import pytest


@pytest.hookimpl(trylast=True)
def pytest_configure(config):
    from hypothesis import Phase, settings

    current = settings.default
    settings.register_profile("privmoe-mutants", parent=current,
                              phases=[p for p in current.phases if p not in (Phase.shrink, Phase.explain)])
    settings.load_profile("privmoe-mutants")
