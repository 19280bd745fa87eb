"""Running an entry's real protocol: each party gets only the inputs it owns; the outputs are reconstructed.
``analysis/harness.py`` (the checks) and ``analysis/security.py`` (the security checks) both build on it.
"""
from __future__ import annotations

from typing import Any

from analysis.entry import RealRun
from analysis.registry import Entry, Inputs, Params, get
from protocols.mpc.sharing import held, reconstruct, share_input
from protocols.runtime import Meter, Party, run_two_party


def party_fn(party: Party, payload: tuple) -> Any:
    """What each party runs: validate (public parameters, own inputs), share inputs, run the protocol.
    ``payload`` = (name, params, own inputs[, HE backend name]); an HE entry gets its plaintext inputs and
    the backend (default: the entry's first), no shares."""
    name, params, own = payload[:3]
    entry = get(name)
    entry.validate(params, own)
    if entry.kind == "he":
        return entry.real(params, own, payload[3] if len(payload) > 3 else default_backend(entry))
    shared = {s.name: share_input(own.get(s.name) if s.owner == party.rank else None, s.owner, s.shape, s.integer)
              for s in entry.input_specs(params)}
    return held(entry.real(params, shared, own) if entry.plain_inputs else entry.real(params, shared))


def default_backend(entry: Entry) -> str:
    """What a run is measured against: ``crypten`` for MPC and hybrid entries, an HE entry's first backend."""
    if entry.kind == "he":           # an HE control without cost models still runs on SEAL
        return entry.backends[0] if entry.backends else "seal"
    return "crypten"


def run_real(entry: Entry, params: Params, inputs: Inputs, *, mode: str = "threads", seed: int = 0,
             timeout: float = 30.0, backend: str | None = None, record_views: bool = False,
             dealer: str | None = None, private_seeds: tuple[int | None, int | None] = (None, None)) -> RealRun:
    """Run the real protocol; each party gets only the inputs it owns. Outputs are reconstructed.
    ``private_seeds`` (client, server) fix each party's private randomness apart from ``seed`` (the
    ledger's check, ``simulators/ledger.py``)."""
    if entry.runner is not None:
        return entry.runner(params, inputs, backend or default_backend(entry), seed, private_seeds=private_seeds)
    owners = {s.name: s.owner for s in entry.input_specs(params)}
    own = [{k: v for k, v in inputs.items() if owners.get(k) == r} for r in (0, 1)]
    he = (backend or default_backend(entry),) if entry.kind == "he" else ()
    res = run_two_party(party_fn, ((entry.name, params, own[0]) + he, (entry.name, params, own[1]) + he),
                        mode=mode, seed=seed, timeout=timeout, record_views=record_views,
                        dealer=dealer or entry.dealer, private_seeds=private_seeds)
    return RealRun(reconstruct(*res.outputs), res.meter, res.wall_time, counts=res.he_counts,
                   noise_budget=(res.he_counts or {}).get("noise_budget"),
                   views=res.meter.views if record_views else None,
                   own=res.meter.own if record_views else None,
                   masks=res.meter.masks if record_views else None)


def signature_difference(a: Meter | RealRun, b: Meter | RealRun) -> str | None:
    """None if the transcripts have the same signature, else the first differing message."""
    sa, sb = a.signature(), b.signature()
    if sa == sb:
        return None
    for i, (x, y) in enumerate(zip(sa, sb)):
        if x != y:
            return f"message {i}: {x} vs {y}"
    return f"{len(sa)} vs {len(sb)} messages"
