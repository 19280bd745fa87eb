"""Run one SPMD function as the two parties: threads (fast, tests) or processes over gloo (sockets).

``fn(party, own_args)`` runs in both parties with the party bound to its thread; it returns what that
party holds at the end (its output shares). Both modes give the same shares, bit for bit, for the same
seed, and the same Meter counts.
"""
from __future__ import annotations

import multiprocessing as mp
import pickle
import queue as queue_mod
import socket
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Any, Callable

from functionalities.errors import PeerError, PrivMoEError
from protocols.crypten_shim import set_current_party

from .meter import Meter, PartyMeter
from .party import Party, setup_party
from .transport import GlooTransport, ThreadMailboxes, ThreadTransport, Transport

MODES = ("threads", "processes")


@dataclass
class RunResult:
    """Outputs of (client, server), the merged Meter, and the wall time of the protocol (set-up excluded)."""

    outputs: tuple[Any, Any]
    meter: Meter
    wall_time: float
    #: a hybrid run's HE operation counts, read off the backend that performed them (None: no HE)
    he_counts: dict | None = None


def _party_main(rank: int, transport: Transport, seed: int, fn: Callable, args: Any,
                shared: dict | None = None, mode: str = "threads", options: dict | None = None):
    party: Party | None = None
    try:
        party = setup_party(rank, transport, seed, **(options or {}))
        party.shared, party.mode = (shared if shared is not None else {}), mode
        set_current_party(party)
        start = time.perf_counter()
        out = fn(party, args)
        wall = time.perf_counter() - start
        if party.he is not None:                     # HE counts travel home with the party's Meter
            party.meter.he = party.he.counts()
        return out, party.meter, wall
    except BaseException:
        transport.abort()
        raise
    finally:
        set_current_party(None)


def _pick_error(errors: list[BaseException]) -> BaseException:
    """The root cause: a party's own error rather than the other's 'peer failed'."""
    own = [e for e in errors if not isinstance(e, PeerError)]
    return (own or errors)[0]


def run_two_party(fn: Callable[[Party, Any], Any], args: tuple[Any, Any], *, mode: str = "threads",
                  seed: int = 0, timeout: float = 30.0, record_views: bool = False,
                  dealer: str = "honest", link: tuple[float, float] | None = None,
                  private_seeds: tuple[int | None, int | None] = (None, None)) -> RunResult:
    """Run ``fn`` as client (rank 0, ``args[0]``) and server (rank 1, ``args[1]``).

    ``record_views``: each party's PartyMeter keeps its view and its own shares (security checks).
    ``private_seeds`` (client, server): the seeds of each party's private randomness (default: derived from
    ``seed``; the ledger's check redraws one). ``dealer="leaky"`` is the negative control of a dealer that
    also gives the client the server's triple halves.

    A party that fails or goes silent ends the run with its error (or :class:`PeerError`) within
    ``timeout`` seconds; nothing hangs."""
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    options = {"dealer_mode": dealer, "record_view": record_views, "private_seeds": tuple(private_seeds)}
    if mode == "processes":
        return _run_processes(fn, args, seed, timeout, options)
    boxes = ThreadMailboxes(link)
    shared: dict = {"lock": threading.Lock()}
    results: list[Any] = [None, None]
    errors: list[BaseException] = []

    def body(rank: int) -> None:
        try:
            results[rank] = _party_main(rank, ThreadTransport(rank, boxes, timeout), seed, fn, args[rank], shared,
                                        "threads", options)
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised in the caller
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(r,), name=f"privmoe-{r}", daemon=True) for r in (0, 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise _pick_error(errors)
    (o0, m0, w0), (o1, m1, w1) = results
    return RunResult((o0, o1), Meter([m0, m1]), max(w0, w1), he_counts(m0, m1))


def he_counts(client: PartyMeter, server: PartyMeter) -> dict | None:
    """The HE operations a run performed, read off each party's backend counters (``PartyMeter.he``) and
    summed, and the ciphertext frames both sent; the op sequence is the client's then the server's (the
    obliviousness signature). None when the run used no HE."""
    parts = [c for c in (client.he, server.he) if c is not None]
    if not parts:
        return None
    out = {k: sum(p[k] for p in parts) for k in parts[0] if k not in ("ops", "noise_budget")}
    out["ops"] = [op for p in parts for op in p["ops"]]
    budgets = [p["noise_budget"] for p in parts if p.get("noise_budget") is not None]
    out["noise_budget"] = min(budgets) if budgets else None
    return out


def free_port() -> int:
    """A TCP port on loopback that is free right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _process_entry(rank: int, init_method: str, seed: int, timeout: float, fn: Callable, args: Any, queue,
                   options: dict | None = None) -> None:
    transport = None
    try:
        transport = GlooTransport(rank, init_method, timeout)
        out, meter, wall = _party_main(rank, transport, seed, fn, args, None, "processes", options)
        # plain pickle bytes: torch's multiprocessing pickler would pass tensors as shared-memory file
        # descriptors, which vanish when this process exits before the parent reads them
        queue.put(pickle.dumps((rank, "ok", (out, meter, wall))))
    except BaseException as exc:  # noqa: BLE001 - shipped to the parent
        err = exc if isinstance(exc, PrivMoEError) else RuntimeError(
            f"party {rank}: {type(exc).__name__}: {exc}\n{traceback.format_exc()}")
        try:
            queue.put(pickle.dumps((rank, "error", err)))
        except Exception:  # noqa: BLE001 - unpicklable error
            queue.put(pickle.dumps((rank, "error", RuntimeError(repr(exc)))))
    finally:
        if transport is not None:
            transport.close()


def _run_processes(fn, args, seed: int, timeout: float, options: dict | None = None) -> RunResult:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    init_method = f"tcp://127.0.0.1:{free_port()}"
    procs = [ctx.Process(target=_process_entry, args=(r, init_method, seed, timeout, fn, args[r], queue, options),
                         daemon=True) for r in (0, 1)]
    for p in procs:
        p.start()
    results: dict[int, Any] = {}
    errors: list[BaseException] = []
    # start-up (spawn + imports) is not protocol time; allow it on top of the protocol timeout
    deadline = time.monotonic() + timeout + 60.0
    try:
        while len(results) + len(errors) < 2:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PeerError(f"the parties did not finish within {timeout:g} s (+60 s start-up)")
            try:
                rank, status, payload = pickle.loads(queue.get(timeout=min(remaining, 1.0)))
            except queue_mod.Empty:
                dead = [r for r, p in enumerate(procs) if not p.is_alive() and p.exitcode not in (0, None)
                        and r not in results]
                if dead and not errors:
                    errors.append(PeerError(f"party {dead[0]} died (exit code {procs[dead[0]].exitcode})"))
                    break
                continue
            if status == "ok":
                results[rank] = payload
            else:
                errors.append(payload)
                # give the peer a moment to report its own view, then stop waiting
                deadline = min(deadline, time.monotonic() + 5.0)
    finally:
        for p in procs:
            p.join(timeout=5.0)
            if p.is_alive():
                p.terminate()
                p.join(timeout=5.0)
    if errors:
        raise _pick_error(errors)
    (o0, m0, w0), (o1, m1, w1) = results[0], results[1]
    meters: list[PartyMeter] = [m0, m1]
    return RunResult((o0, o1), Meter(meters), max(w0, w1), he_counts(m0, m1))
