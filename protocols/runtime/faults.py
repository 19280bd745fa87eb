"""Planted faults: how a negative control breaks a real protocol without a flag in the protocol's code.

A negative control (``analysis/entries/negative_controls.py``) is a secure protocol with one leak added
on purpose, to show that a check fails when something is wrong. The leak is *planted* from outside:

* a **tap** runs when the protocol publishes a named intermediate (``protocols.mpc.sharing.trace``): the
  leak in ``protocols/mpc/leaks.py`` gets the party's share of, e.g., the routing ``K`` and misuses it;
* a **fault** is a named switch a protocol consults at one honest point where a bug could sit (e.g.
  ``"secmoe: no answer masks"``): ``active(name)`` is False in every ordinary run.

Both live on the current party (one per thread or process), so two runs never see each other's faults.

>>> with planted(taps={"K": leak_fn}): protocol(...)        # inside a party, around the protocol
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from protocols.crypten_shim import current_party

#: the faults a protocol may consult (a typo in a control must not silently plant nothing)
FAULTS = ("secmoe: no answer masks",)


@contextlib.contextmanager
def planted(*faults: str, taps: dict[str, Callable] | None = None) -> Iterator[None]:
    """Plant ``faults`` (names from ``FAULTS``) and ``taps`` (intermediate name -> fn(share)) in the
    current party for the duration of the block."""
    unknown = [f for f in faults if f not in FAULTS]
    if unknown:
        raise ValueError(f"unknown fault(s) {unknown}; known: {FAULTS}")
    state = current_party().planted
    before = (set(state["faults"]), dict(state["taps"]))
    state["faults"] |= set(faults)
    for name, fn in (taps or {}).items():
        state["taps"][name] = state["taps"].get(name, ()) + (fn,)
    try:
        yield
    finally:
        state["faults"], state["taps"] = before


def active(name: str) -> bool:
    """Is the fault ``name`` planted in the current party? (False in every ordinary run.)"""
    if name not in FAULTS:
        raise ValueError(f"unknown fault {name!r}; known: {FAULTS}")
    try:
        party = current_party()
    except RuntimeError:
        return False
    return name in party.planted["faults"]


def fire(name: str, value) -> None:
    """Run the taps planted on the intermediate ``name`` (called by ``trace``)."""
    for fn in current_party().planted["taps"].get(name, ()):
        fn(value)
