"""privmoe's own Meter: every message of a two-party run, with its step, phase, direction, bytes and round.

Definitions (``docs/accounting.md``, the same everywhere in privmoe):

* **bytes** -- payload bytes of the tensors a party sends (8 per ring element; a pickled object counts its
  pickle length). Framing (headers, socket overhead) is not payload.
* **round** -- a Lamport clock. Each party keeps ``clock`` (the last round it has seen). A message it
  sends belongs to round ``clock + 1``; receiving a message of round ``r`` sets ``clock = max(clock, r)``.
  So a party that sends several messages without waiting sends them in one round, and two messages in
  opposite directions that do not wait on each other share a round. The run's rounds = the largest round
  number = the depth of the protocol's critical path in network latencies.
* **step rounds** -- for one execution of a step, ``max_p clock_p(exit) - max_p clock_p(enter)``: how much
  the step pushed the critical path. Steps that run one after the other add up exactly to the total.
* **phase** -- ``online`` (party to party), ``offline`` (the dealer's correlated randomness; never moves a
  clock), ``setup`` (seed exchange once per run, not part of a protocol's cost), ``keys`` (the client's
  HE public material -- parameters, public and Galois keys -- once per run, before the online rounds;
  costed as ``key_bytes``; never moves a clock).

Each party keeps a :class:`PartyMeter` of what *it* sends and of its step spans; :class:`Meter` merges the
two after the run (they may live in different processes).
"""
from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, field
from typing import Iterator

import pandas as pd

ONLINE, OFFLINE, SETUP, KEYS = "online", "offline", "setup", "keys"
PHASES = (ONLINE, OFFLINE, SETUP, KEYS)
NO_STEP = "(unlabelled)"


@dataclass(frozen=True)
class Message:
    """One message: ``nbytes`` of payload from ``sender`` to ``receiver`` in ``round`` (0 if not online)."""

    step: str
    phase: str
    sender: str
    receiver: str
    nbytes: int
    round: int
    seq: int

    @property
    def direction(self) -> str:
        return f"{self.sender}->{self.receiver}"


@dataclass(frozen=True)
class ViewItem:
    """One thing a party saw: its kind, step, who sent it, the values (flattened int64), the protection
    claimed for it (``protocols/runtime/ledger.py``; None = none claimed) and the round it arrived in.

    Kinds: ``opened`` (own share combined with the other's), ``received`` (a one-way payload),
    ``gathered`` (the other's tensor of an all-gather), ``dealer`` (correlated randomness sent to it),
    ``decrypted`` (a plaintext the party decrypted), ``ciphertext`` (values: the slots' count only), ``noise``
    (an HE answer's decryption noise: ``protocols/he/channel.observe``)."""

    kind: str
    step: str
    sender: str
    values: object
    protect: object = None
    round: int = 0
    #: for an opening: the index of the masks it consumed in the party's ``masks`` log (-1: none)
    mask_index: int = -1


@dataclass
class StepSpan:
    """One execution of a labelled step by one party: its path, the party's clock at entry/exit and the
    wall-clock seconds the party spent inside (waiting for the other party included)."""

    path: str
    index: int
    enter: int
    exit: int = -1
    seconds: float = 0.0


@dataclass
class PartyMeter:
    """What one party records: the messages it sends (and the dealer's to it), its clock and step spans."""

    party: str
    messages: list[Message] = field(default_factory=list)
    received: list[Message] = field(default_factory=list)
    spans: list[StepSpan] = field(default_factory=list)
    clock: int = 0
    #: the party's VIEW (security checks): None = not recorded; else ViewItems in the order it saw them
    view: list | None = None
    #: named intermediates published by the protocol (``sharing.trace``) while the view is recorded
    traces: list = field(default_factory=list)
    #: the party's own shares (every share tensor it assigned, in order) while the view is recorded
    own: list | None = None
    #: the party's HE operation counts at the end of the run (``protocols/he/channel.counts_of``); None: no HE
    he: dict | None = None
    #: masks the party's tuple provider handed out for the next openings: [(Protection, elements, parts)]
    pending: list = field(default_factory=list)
    #: while the view is recorded: this party's part of the masks of each opening, in consumption order
    masks: list = field(default_factory=list)
    last_step: str = NO_STEP
    _stack: list[str] = field(default_factory=list)
    _protect: list = field(default_factory=list)
    _seq: int = 0
    _own_budget: int = 50_000_000

    def see(self, kind: str, values, sender: str, protect=None, rnd: int = 0, mask_index: int = -1) -> None:
        """Record what this party saw (kinds: ``ViewItem``), with the protection claimed for it."""
        if self.view is not None:
            self.view.append(ViewItem(kind, self.current_step, sender, values.detach().reshape(-1).clone(),
                                      protect, rnd, mask_index))

    # -- the ledger's claims (protocols/runtime/ledger.py) ----------------------------------------------
    def expect(self, protect, elements: int, parts=None) -> None:
        """The provider handed out masks of ``elements`` elements for the next opening (FIFO); ``parts``:
        this party's part of them, flattened in the order the opening lays out its values."""
        self.pending.append((protect, int(elements), parts if self.view is not None else None))

    def consume(self, elements: int):
        """The protection of an opening of ``elements`` elements and the index of its masks in ``masks``:
        the oldest pending masks, if their size matches; (None, -1) if there are none; a mismatch is
        returned as ``("mismatch", protect, expected)``."""
        if not self.pending:
            return None, -1
        protect, expected, parts = self.pending.pop(0)
        if self.view is not None:
            self.masks.append(parts)
        index = len(self.masks) - 1 if self.view is not None else -1
        return (protect if expected == elements else ("mismatch", protect, expected)), index

    @contextlib.contextmanager
    def protect(self, protection) -> Iterator[None]:
        """Claim ``protection`` for every one-way message this party sends inside the block."""
        self._protect.append(protection)
        try:
            yield
        finally:
            self._protect.pop()

    @property
    def outgoing(self):
        """The protection claimed for a one-way message sent now (None outside ``protect``)."""
        return self._protect[-1] if self._protect else None

    def record_own(self, values) -> None:
        """Keep a copy of one of the party's own shares (while the view is recorded, within a budget)."""
        if self.own is None or self._own_budget <= 0:
            return
        flat = values.detach().reshape(-1)
        self._own_budget -= flat.numel()
        self.own.append(flat.clone())

    @property
    def current_step(self) -> str:
        return "/".join(self._stack) if self._stack else NO_STEP

    @contextlib.contextmanager
    def step(self, name: str) -> Iterator[None]:
        """Label every message sent inside the block with ``name`` (nested labels join with ``/``)."""
        if not name or "/" in name:
            raise ValueError(f"step name must be non-empty and contain no '/': {name!r}")
        self._stack.append(name)
        span = StepSpan("/".join(self._stack), len(self.spans), self.clock)
        self.spans.append(span)
        start = time.perf_counter()
        try:
            yield
        finally:
            span.exit = self.clock
            span.seconds = time.perf_counter() - start
            self._stack.pop()
            self.last_step = span.path

    def on_send(self, receiver: str, nbytes: int, phase: str = ONLINE, sender: str | None = None) -> int:
        """Record a message and return its round (``clock + 1`` online, 0 otherwise)."""
        if phase not in PHASES:
            raise ValueError(f"unknown phase {phase!r}")
        rnd = self.clock + 1 if phase == ONLINE else 0
        self.messages.append(Message(self.current_step, phase, sender or self.party, receiver,
                                     int(nbytes), rnd, self._seq))
        self._seq += 1
        return rnd

    def on_recv(self, sender: str, nbytes: int, rnd: int, phase: str = ONLINE) -> None:
        """Advance the clock to the round of a received message (and keep it for the party's view)."""
        self.received.append(Message(self.current_step, phase, sender, self.party, int(nbytes), rnd,
                                     len(self.received)))
        if phase == ONLINE:
            self.clock = max(self.clock, rnd)


class Meter:
    """The merged record of a run. ``table()`` is tidy, ``summary()`` is one row a step."""

    def __init__(self, parties: list[PartyMeter]):
        self.parties = {p.party: p for p in parties}
        self.views = {p.party: p.view for p in parties}
        self.traces = {p.party: p.traces for p in parties}
        self.own = {p.party: p.own for p in parties}
        self.masks = {p.party: p.masks for p in parties}
        order = {SETUP: 0, KEYS: 1, OFFLINE: 2, ONLINE: 3}
        msgs = [m for p in parties for m in p.messages]
        self.messages: list[Message] = sorted(msgs, key=lambda m: (order[m.phase], m.round, m.sender, m.seq))
        spans = [p.spans for p in parties]
        if len(spans) == 2 and (len(spans[0]) != len(spans[1])
                                or any(a.path != b.path for a, b in zip(*spans))):
            raise RuntimeError("the two parties labelled different step sequences: the protocol is not SPMD")
        self._spans = spans

    # -- totals ---------------------------------------------------------------------------------------
    @property
    def rounds(self) -> int:
        """Online rounds of the whole run (the critical path)."""
        return max((p.clock for p in self.parties.values()), default=0)

    def bytes(self, phase: str = ONLINE, direction: str | None = None, step: str | None = None) -> int:
        return sum(m.nbytes for m in self._select(phase, step) if direction is None or m.direction == direction)

    def _select(self, phase: str | None, step: str | None) -> list[Message]:
        return [m for m in self.messages if (phase is None or m.phase == phase)
                and (step is None or m.step == step or m.step.startswith(step + "/"))]

    def step_rounds(self, path: str) -> int:
        """Sum over executions of ``path`` of ``max exit clock - max enter clock`` (see module doc)."""
        total = 0
        if not self._spans:
            return 0
        if path == NO_STEP:   # what labelled top-level steps do not account for
            top = {s.path for s in self._spans[0] if "/" not in s.path}
            return self.rounds - sum(self.step_rounds(p) for p in top)
        for i, span in enumerate(self._spans[0]):
            if span.path != path:
                continue
            enters = [s[i].enter for s in self._spans]
            exits = [s[i].exit for s in self._spans]
            total += max(exits) - max(enters)
        return total

    def step_seconds(self, path: str) -> float:
        """Wall-clock seconds of ``path``: summed over its executions, the slower party's per execution
        (a benchmark's number: this machine's, noisy; never part of a cost comparison)."""
        return sum(max(s[i].seconds for s in self._spans) for i, span in enumerate(self._spans[0] if self._spans else [])
                   if span.path == path)

    def step_paths(self) -> list[str]:
        """Every labelled step path (first-execution order), plus the unlabelled bucket if used."""
        seen: dict[str, None] = {}
        for span in self._spans[0] if self._spans else []:
            seen.setdefault(span.path, None)
        if any(m.step == NO_STEP for m in self.messages):
            seen.setdefault(NO_STEP, None)
        return list(seen)

    # -- tables ---------------------------------------------------------------------------------------
    def table(self) -> pd.DataFrame:
        """Tidy: one row per (step, phase, direction) with rounds (online rows), bytes and messages.

        Parent steps include their children (``gate`` includes ``gate/topk``)."""
        rows = []
        for path in self.step_paths():
            for phase in PHASES:
                msgs = self._select(phase, path)
                for direction in sorted({m.direction for m in msgs}):
                    sel = [m for m in msgs if m.direction == direction]
                    rows.append(dict(step=path, phase=phase, direction=direction,
                                     rounds=self.step_rounds(path) if phase == ONLINE else 0,
                                     bytes=sum(m.nbytes for m in sel), messages=len(sel)))
        return pd.DataFrame(rows, columns=["step", "phase", "direction", "rounds", "bytes", "messages"])

    def totals(self, step: str | None = None) -> dict[str, int]:
        """Online rounds and bytes per direction, offline bytes, messages -- for the run or one step."""
        rounds = self.rounds if step is None else self.step_rounds(step)
        online = self._select(ONLINE, step)
        return dict(
            rounds=rounds,
            bytes_client_to_server=sum(m.nbytes for m in online if m.direction == "client->server"),
            bytes_server_to_client=sum(m.nbytes for m in online if m.direction == "server->client"),
            bytes=sum(m.nbytes for m in online),
            offline_bytes=sum(m.nbytes for m in self._select(OFFLINE, step)),
            key_bytes=sum(m.nbytes for m in self._select(KEYS, step)),
            messages=len(online),
        )

    def summary(self) -> pd.DataFrame:
        """One row per step path (and a ``total`` row): rounds, bytes each way, offline bytes, messages."""
        rows = [dict(step=p, **self.totals(p)) for p in self.step_paths()]
        rows.append(dict(step="total", **self.totals()))
        return pd.DataFrame(rows)

    def signature(self, phases: tuple[str, ...] = (ONLINE, OFFLINE)) -> tuple[tuple[str, str, int, int], ...]:
        """The transcript signature: ordered ``(step, sender, bytes, round)`` of every message.

        Order is (phase, round, sender, sender's sequence number) -- deterministic whatever the thread
        scheduling. A data-oblivious protocol has the same signature for every secret input: the same
        messages, of the same sizes, in the same order and the same rounds (a message that waits one
        round longer for some secrets is a timing channel)."""
        return tuple((m.step, m.sender, m.nbytes, m.round) for m in self.messages if m.phase in phases)
