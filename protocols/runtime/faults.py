"""Planted faults: how a negative control breaks a real protocol without a flag in the protocol's code.

A negative control (``analysis/entries/negative_controls.py``) is a secure protocol composed with one
leak, to show that a check fails when something is wrong. The leak is *planted* from outside:

* a **tap** runs when the protocol publishes a named intermediate (``protocols.mpc.sharing.trace``): the
  leak in ``protocols/mpc/leaks.py`` gets the party's share of, e.g., the routing ``K`` and misuses it;
* a **generator** replaces one of the party's private random sources (``Party.numpy_generator(label)``)
  with a broken one (e.g. ``protocols/he/leaks.ZeroGenerator``: answer masks that are all zero), the bug
  of a party whose PRNG fails.

Both live on the current party (one per thread or process), so two runs never see each other's faults.
Protocol code has no switch: it publishes intermediates and draws from its generators as in every run.

>>> with planted(taps={"K": leak_fn}): protocol(...)        # inside a party, around the protocol
"""
from __future__ import annotations

import contextlib
from typing import Callable, Iterator

from protocols.crypten_shim import current_party


@contextlib.contextmanager
def planted(*, taps: dict[str, Callable] | None = None,
            generators: dict[tuple, Callable[[], object]] | None = None,
            parties: tuple[str, ...] = ("client", "server")) -> Iterator[None]:
    """Plant ``taps`` (intermediate name -> fn(share)) and ``generators`` (the labels a protocol passes to
    ``Party.numpy_generator`` -> a factory of the substitute) in the current party for the block.

    Only the ``parties`` named plant anything (a broken generator is one party's: e.g. the server's). A
    planted fault the protocol never reached in that party (a misspelt intermediate or generator label)
    is an error when the block ends: a control must not silently plant nothing."""
    party = current_party()
    if party.name not in parties:
        yield
        return
    state = party.planted
    before = (dict(state["taps"]), dict(state["generators"]), set(state["reached"]))
    for name, fn in (taps or {}).items():
        state["taps"][name] = state["taps"].get(name, ()) + (fn,)
    wanted = {("tap", name) for name in taps or {}} | {("generator", tuple(k)) for k in generators or {}}
    state["generators"].update({tuple(k): f for k, f in (generators or {}).items()})
    state["reached"] -= wanted
    try:
        yield
        missed = sorted(str(w[1]) for w in wanted - state["reached"])
        if missed:
            raise ValueError(f"planted fault(s) never reached by the protocol (misspelt?): {missed}")
    finally:
        state["taps"], state["generators"], state["reached"] = before


def fire(name: str, value) -> None:
    """Run the taps planted on the intermediate ``name`` (called by ``trace``)."""
    state = current_party().planted
    if name in state["taps"]:
        state["reached"].add(("tap", name))
    for fn in state["taps"].get(name, ()):
        fn(value)
