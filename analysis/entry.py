"""What a registry entry is: one :class:`Entry` ties a protocol's spec, real protocol, costs and tests.

Entries live one per file in ``analysis/entries/`` and call :func:`register`; ``analysis/registry.py``
loads them and looks them up by name. :class:`RealRun` is what a real run returns (the harness's runs and
an HE entry's own ``runner``).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import torch

from functionalities.errors import PublicParameterError
from protocols.runtime.meter import Meter

Params = dict[str, Any]
Inputs = dict[str, torch.Tensor]


@dataclass(frozen=True)
class InputSpec:
    """One secret input: its name, owner (0 client, 1 server), shape, and whether it is an integer."""

    name: str
    owner: int
    shape: tuple[int, ...]
    integer: bool = False


@dataclass(frozen=True)
class BadCase:
    """A bad input for test (d): ``mutate(params, inputs) -> (params, inputs)`` must raise ``error``."""

    label: str
    mutate: Callable[[Params, Inputs], tuple[Params, Inputs]]
    error: type[Exception]


@dataclass
class Entry:
    """Everything privmoe knows about one protocol.

    ideal(params, inputs) -> outputs       the functionality (plaintext torch); validates everything
    real(params, shared) -> outputs        the protocol, run by both parties on shared inputs (dict of
                                           MPCTensors), returns shared outputs
    validate(params, inputs)               refuses bad public parameters and, for the inputs given
                                           (a party passes only its own), bad inputs -- named errors
    input_specs(params) -> [InputSpec]     who owns which input, and its shape
    costs: backend -> (params -> Cost)     analytic models; ``crypten`` must equal the Meter exactly
    params_strategy() / inputs_strategy(params)   Hypothesis strategies (edge cases included)
    check(ideal, real, params, inputs) -> [problems]   equivalence within the declared error bound
    error_bound(params) -> float           the domain-wide a-priori bound (a formula; documented). An
                                           approximate entry's ``check`` uses the per-example bound of
                                           ``errors`` instead, which is far tighter
    errors(ideal, real, params, inputs) -> (err, bound) | None   for an approximate entry: elementwise
                                           |real - ideal| and its bound derived at the example's actual
                                           values (``analysis/error_bounds.py``), flattened over the
                                           approximate outputs; None when a structural check already
                                           fails. ``check`` reports every element with err > bound.
    """

    name: str
    functionality: str
    kind: str
    summary: str
    ideal: Callable[[Params, Inputs], Any]
    real: Callable[[Params, dict], Any]
    validate: Callable[[Params, Inputs], None]
    input_specs: Callable[[Params], list[InputSpec]]
    defaults: Params
    costs: dict[str, Callable[[Params], Any]]
    params_strategy: Callable[[], Any]
    inputs_strategy: Callable[[Params], Any]
    check: Callable[[Any, Any, Params, Inputs], list[str]]
    error_bound: Callable[[Params], float]
    leakage: tuple[str, ...]
    doc: str
    bad_cases: list[BadCase] = field(default_factory=list)
    aliases: dict[str, str] = field(default_factory=dict)
    negative_control: bool = False
    #: derives resolved public parameters (e.g. capacity t from capacity_factor) before validation
    derive: Callable[[Params], Params] | None = None
    #: runs the real protocol itself: (params, inputs, backend, seed) -> RealRun; None (every entry today)
    #: = the two-party runtime. An HE entry (kind ``he``) runs there too: its ``real(params, own, backend)``
    #: gets the party's own plaintext inputs and the HE backend's name (``seal``, ``sim``, or ``sim-count``:
    #: the simulator without values, for measured runs at sizes where values would be too slow)
    runner: Callable[..., Any] | None = None
    #: the real protocol also needs the party's own PLAINTEXT inputs (e.g. SecMoE's server computes on
    #: its weights under HE): called as real(params, shared, own_inputs)
    plain_inputs: bool = False
    #: the runtime's dealer ("leaky" only for the negative control of a dealer that breaks isolation)
    dealer: str = "honest"
    #: a fixed (params, inputs_a, inputs_b) whose secrets differ as much as they can (e.g. all tokens to
    #: one expert vs spread out), one of the security checks' contrast pairs (``analysis/security.py``)
    contrast: Callable[[], tuple] | None = None
    #: the spec's intermediates by the names the protocol ``trace``s (privmoe explain shows them side by side)
    intermediates: Callable[[Params, Inputs], dict] | None = None
    #: approximate entries: (ideal, real, params, inputs) -> (err, bound) elementwise, or None when a
    #: structural check fails (docstring above); exact entries leave it None
    errors: Callable[[Any, Any, Params, Inputs], tuple[torch.Tensor, torch.Tensor] | None] | None = None

    @property
    def backends(self) -> list[str]:
        return list(self.costs)

    def resolve(self, overrides: Params | None = None) -> Params:
        """Defaults + overrides (aliases translated), validated; unknown keys are refused."""
        params = dict(self.defaults)
        for given, value in (overrides or {}).items():
            key = self.aliases.get(given, given)
            if key not in params:
                named = repr(given) if key == given else f"{given!r} (alias of {key!r})"
                raise PublicParameterError(
                    f"{self.name}: unknown parameter {named} (known: {', '.join(sorted(params))})")
            params[key] = value
        if self.derive is not None:
            params = self.derive(params)
        self.validate(params, {})
        return params

    def cost(self, backend: str, params: Params):
        if backend not in self.costs:
            raise PublicParameterError(f"{self.name}: no {backend!r} cost model (have: {', '.join(self.costs)})")
        return self.costs[backend](params)


_REGISTRY: dict[str, Entry] = {}


def register(entry: Entry) -> Entry:
    if entry.name in _REGISTRY:
        raise ValueError(f"protocol {entry.name!r} registered twice")
    _REGISTRY[entry.name] = entry
    return entry


def registered(name: str) -> Entry:
    """An entry already registered (an entry module that builds on another imports that module first);
    ``analysis.registry.get`` is the lookup that also loads entry modules."""
    if name not in _REGISTRY:
        raise KeyError(f"protocol {name!r} is not registered (yet): import its entry module first")
    return _REGISTRY[name]


def exact_check(ideal: Any, real: Any, params: Params, inputs: Inputs, bound: float = 0.0) -> list[str]:
    """Compare (nested tuples of) tensors: integers exactly, floats within ``bound``."""
    problems: list[str] = []

    def walk(a, b, path):
        if isinstance(a, (tuple, list)):
            if len(a) != len(b):
                problems.append(f"{path}: {len(a)} vs {len(b)} outputs")
            for i, (x, y) in enumerate(zip(a, b)):
                walk(x, y, f"{path}[{i}]")
            return
        if tuple(a.shape) != tuple(b.shape):
            problems.append(f"{path}: shape {tuple(b.shape)} != ideal {tuple(a.shape)}")
            return
        err = float((a.double() - b.double()).abs().max()) if a.numel() else 0.0
        if err > bound:
            problems.append(f"{path}: max |real - ideal| = {err:.3g} > bound {bound:.3g}")

    walk(ideal, real, "out")
    return problems


@dataclass
class RealRun:
    outputs: Any
    meter: Meter
    wall_time: float
    counts: dict | None = None          # HE operation counts (SEAL / simulator)
    noise_budget: int | None = None     # remaining noise budget in bits (SEAL)
    views: dict | None = None           # party -> list of ViewItem (when recorded)
    own: dict | None = None             # party -> list of its own share tensors (when recorded)
    masks: dict | None = None           # party -> its parts of each opening's masks (when recorded)

    def signature(self) -> tuple:
        """The transcript signature, plus the HE operation sequence where there is one."""
        ops = tuple(self.counts.get("ops", ())) if self.counts else ()
        return self.meter.signature() + ops
