"""Message sequence diagrams drawn from a real run's transcript: who sends what to whom, in which round.

The data is the Meter's own record (``protocols/runtime/meter.py``): :attr:`Meter.messages` holds every
message a party sent, with its step label, phase, sender, receiver, payload bytes and round (the Lamport
clock; the same list ``Meter.signature()`` is built from). :func:`transcript` runs an entry's REAL protocol
once and returns its online (party-to-party) messages; nothing is recomputed from a cost model. The
dealer's offline messages and the set-up seed exchange are not drawn (the caption gives the offline bytes).

An HE entry (kind ``he``) runs as two parties like every other entry: each ciphertext is one frame of its
serialized bytes (``protocols/he/channel.py``); the client's key material (phase ``keys``, once per run)
is not drawn, and the caption gives its bytes.

Drawing: :func:`arrows` merges consecutive messages of the same round, direction and step into one arrow
with a count; beyond :data:`MAX_ARROWS` arrows it summarises, one arrow per step and direction with its
round range (steps cut to fewer levels until the diagram fits). :func:`svg` draws them: two lifelines,
time going down. :func:`transcript_problems` compares a transcript (messages or arrows) with a run's
Meter totals; the docs hook (``docs/hooks.py``) fails the build on any disagreement.

``python -m analysis.sequence NAME [--set key=value ...] [--seed S]`` prints the arrows as a table.
"""
from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, Iterable, Sequence
from xml.sax.saxutils import escape, quoteattr

from protocols.runtime.meter import ONLINE, Message

#: a diagram with more merged arrows than this is summarised per step (and the caption says so)
MAX_ARROWS = 40
PARTIES = ("client", "server")
THIN = "\u2009"


@dataclass(frozen=True)
class Arrow:
    """One drawn arrow: ``count`` messages of ``nbytes`` in total from ``sender`` to ``receiver``, in rounds
    ``first``..``last`` (equal for a merged arrow), all of step ``step``."""

    sender: str
    receiver: str
    step: str
    first: int
    last: int
    count: int
    nbytes: int

    @property
    def direction(self) -> str:
        return f"{self.sender}->{self.receiver}"

    @property
    def rounds(self) -> str:
        return f"r{self.first}" if self.first == self.last else f"r{self.first}\u2013{self.last}"


@dataclass
class Measured:
    """One measured run of an entry: resolved parameters, backend, the RealRun and its online messages."""

    name: str
    params: dict
    seed: int
    backend: str
    run: Any
    messages: list[Message]


def backend_for(entry) -> str:
    """The backend a diagram is drawn from: HE entries the simulator where offered (SEAL otherwise); MPC
    and hybrid entries the two-party runtime (``crypten``)."""
    if entry.kind == "he":
        return "sim" if "sim" in entry.backends else "seal"
    return "crypten"


def messages_of(run) -> list[Message]:
    """The online party-to-party messages a run's Meter recorded, in its order (round, sender, seq)."""
    return [m for m in run.meter.messages if m.phase == ONLINE]


def measure(entry_name: str, params: dict | None = None, seed: int = 0) -> Measured:
    """Run the entry's real protocol once at its defaults (+ ``params``) on inputs drawn with ``seed``."""
    from analysis import harness, registry
    from analysis.strategies import draw_example_inputs

    entry = registry.get(entry_name)
    resolved = entry.resolve(params)
    inputs = draw_example_inputs(entry, resolved, seed)
    backend = backend_for(entry)
    run = harness.run_real(entry, resolved, inputs, seed=seed, backend=backend if entry.kind == "he" else None)
    return Measured(entry.name, resolved, seed, backend, run, messages_of(run))


def transcript(entry_name: str, params: dict | None = None, seed: int = 0) -> list[Message]:
    """The messages of one real run (sender, receiver, round, nbytes, step: ``protocols.runtime.Message``)."""
    return measure(entry_name, params, seed).messages


# -- merging and summarising ------------------------------------------------------------------------
def merge(messages: Iterable[Message]) -> list[Arrow]:
    """Consecutive messages of the same round, direction and step become one arrow with their count."""
    out: list[Arrow] = []
    for m in messages:
        last = out[-1] if out else None
        if last and (last.sender, last.receiver, last.step, last.first) == (m.sender, m.receiver, m.step, m.round):
            out[-1] = Arrow(m.sender, m.receiver, m.step, m.round, m.round, last.count + 1, last.nbytes + m.nbytes)
        else:
            out.append(Arrow(m.sender, m.receiver, m.step, m.round, m.round, 1, m.nbytes))
    return out


def _cut(step: str, depth: int | None) -> str:
    return step if depth is None else "/".join(step.split("/")[:depth])


def summarise(messages: Sequence[Message], depth: int | None = None) -> list[Arrow]:
    """One arrow per step (cut to ``depth`` levels; None = the full path) and direction, in the order the
    steps first send; each with its round range, message count and total bytes."""
    groups: dict[tuple[str, str, str], list[Message]] = {}
    for m in messages:
        groups.setdefault((_cut(m.step, depth), m.sender, m.receiver), []).append(m)
    steps = list(dict.fromkeys(key[0] for key in groups))
    out = []
    for step in steps:
        for sender, receiver in (PARTIES, PARTIES[::-1]):
            sel = groups.get((step, sender, receiver))
            if sel:
                out.append(Arrow(sender, receiver, step, min(m.round for m in sel), max(m.round for m in sel),
                                 len(sel), sum(m.nbytes for m in sel)))
    # directions not between the two parties (none today) keep their own arrows
    out += [Arrow(s, r, st, min(m.round for m in sel), max(m.round for m in sel), len(sel),
                  sum(m.nbytes for m in sel)) for (st, s, r), sel in groups.items() if (s, r) not in
            (PARTIES, PARTIES[::-1])]
    return out


def arrows(messages: Sequence[Message], limit: int = MAX_ARROWS) -> tuple[list[Arrow], str]:
    """The arrows to draw and how they were made: ``merged`` (each arrow one round), or ``per step`` /
    ``per step (N levels)`` when more than ``limit`` merged arrows had to be summarised."""
    merged = merge(messages)
    if len(merged) <= limit:
        return merged, "merged"
    depth = max((m.step.count("/") + 1 for m in messages), default=1)
    out = summarise(messages)
    how = "per step"
    while len(out) > limit and depth > 1:
        depth -= 1
        out, how = summarise(messages, depth), f"per step (first {depth} level{'s' * (depth > 1)})"
    return out, how


# -- checking a transcript against its run ----------------------------------------------------------
def _items(transcript: Iterable[Message | Arrow]) -> list[tuple[str, str, str, int, int, int]]:
    """(sender, receiver, step, last round, count, bytes) of messages or arrows alike."""
    return [(x.sender, x.receiver, x.step, x.last if isinstance(x, Arrow) else x.round,
             x.count if isinstance(x, Arrow) else 1, x.nbytes) for x in transcript]


def transcript_problems(transcript: Iterable[Message | Arrow], run) -> list[str]:
    """Where a transcript (messages or arrows) disagrees with a run's Meter: total rounds, bytes each way
    and messages (``harness.measured``), and bytes each way and messages of every top-level step."""
    from analysis.harness import measured

    items = _items(transcript)
    want = measured(run)
    problems = [f"message {s}->{r} in step {st!r} is not between the two parties"
                for s, r, st, *_ in items if {s, r} != set(PARTIES)]
    got = dict(rounds=max((i[3] for i in items), default=0), messages=sum(i[4] for i in items),
               bytes_client_to_server=sum(i[5] for i in items if i[:2] == PARTIES),
               bytes_server_to_client=sum(i[5] for i in items if i[:2] == PARTIES[::-1]))
    problems += [f"total {k}: transcript {v} != run {want[k]}" for k, v in got.items() if v != want[k]]
    meter = run.meter
    tops = [p for p in meter.step_paths() if "/" not in p and p != "setup"]
    for step in tops:
        sel = [i for i in items if i[2] == step or i[2].startswith(step + "/")]
        tot = meter.totals(step)
        mine = dict(messages=sum(i[4] for i in sel),
                    bytes_client_to_server=sum(i[5] for i in sel if i[:2] == PARTIES),
                    bytes_server_to_client=sum(i[5] for i in sel if i[:2] == PARTIES[::-1]))
        problems += [f"step {step!r} {k}: transcript {v} != run {tot[k]}" for k, v in mine.items() if v != tot[k]]
    known = set(tops)
    problems += [f"step {st!r} is not a step of the run" for st in dict.fromkeys(i[2] for i in items)
                 if st.split("/")[0] not in known and st != "setup"]
    return problems


# -- drawing ----------------------------------------------------------------------------------------
def fmt_bytes(n: int, sep: str = THIN) -> str:
    """``3 072 B`` (thin-space thousands separators)."""
    return f"{n:,}".replace(",", sep) + " B"


def label(a: Arrow) -> str:
    """``r12 · level0 · 3 072 B``; ``×12, 3 072 B`` for merged messages; the step's last level."""
    size = fmt_bytes(a.nbytes) if a.count == 1 else f"\u00d7{a.count}, {fmt_bytes(a.nbytes)}"
    return f"{a.rounds} \u00b7 {a.step.split('/')[-1]} \u00b7 {size}"


def _short(text: str, chars: int) -> str:
    return text if len(text) <= chars else "\u2026" + text[-(chars - 1):]


WIDTH, ROW, TOP = 700, 24, 44
CLIENT_X, SERVER_X = 250, 640
COLOURS = {PARTIES: "#1f5fa8", PARTIES[::-1]: "#b0411e"}
FONT = "ui-monospace,SFMono-Regular,Menlo,Consolas,'DejaVu Sans Mono',monospace"


def svg(transcript: Sequence[Message | Arrow], title: str) -> str:
    """An inline SVG (no script, no external files): lifelines ``client`` and ``server``, time going down,
    one ``<g class="arrow">`` per arrow (messages are merged first), step bands in the left margin."""
    drawn = merge(transcript) if transcript and isinstance(transcript[0], Message) else list(transcript)
    height = TOP + ROW * len(drawn) + 14
    xs = {"client": CLIENT_X, "server": SERVER_X}
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="sequence-diagram" width="{WIDTH}" height="{height}" '
           f'viewBox="0 0 {WIDTH} {height}" role="img" aria-label={quoteattr(title)} '
           f'style="max-width:100%;height:auto" font-family="{FONT}" font-size="12">',
           f"<title>{escape(title)}</title>",
           f'<rect x="0" y="0" width="{WIDTH}" height="{height}" fill="#ffffff"/>']
    # step bands: consecutive arrows of the same step
    bands: list[tuple[str, int, int]] = []
    for i, a in enumerate(drawn):
        if bands and bands[-1][0] == a.step:
            bands[-1] = (a.step, bands[-1][1], i)
        else:
            bands.append((a.step, i, i))
    for k, (step, i, j) in enumerate(bands):
        y0, y1 = TOP + ROW * i, TOP + ROW * (j + 1)
        out.append(f'<g class="step"><rect x="0" y="{y0}" width="{WIDTH}" height="{y1 - y0}" '
                   f'fill="{"#eef2f8" if k % 2 == 0 else "#f8f9fb"}"/>'
                   f'<text x="8" y="{y0 + ROW // 2 + 4}" fill="#333" font-size="11">'
                   f"{escape(_short(step, 30))}</text></g>")
    # lifelines and their heads
    for party, x in xs.items():
        out.append(f'<line x1="{x}" y1="30" x2="{x}" y2="{height - 6}" stroke="#555" stroke-width="1.5" '
                   f'stroke-dasharray="4 3"/>')
        out.append(f'<rect x="{x - 40}" y="6" width="80" height="24" rx="4" fill="#fff" stroke="#555"/>'
                   f'<text x="{x}" y="22" text-anchor="middle" font-weight="bold" fill="#222">{party}</text>')
    out.append(f'<text x="8" y="22" fill="#666" font-size="11">step</text>')
    for i, a in enumerate(drawn):
        y = TOP + ROW * i + ROW - 7
        x1, x2 = xs.get(a.sender, CLIENT_X), xs.get(a.receiver, SERVER_X)
        sign = 1 if x2 > x1 else -1
        colour = COLOURS.get((a.sender, a.receiver), "#444")
        tip = f"{x2},{y} {x2 - 8 * sign},{y - 4} {x2 - 8 * sign},{y + 4}"
        out.append(f'<g class="arrow" data-direction="{escape(a.direction)}">'
                   f'<line x1="{x1}" y1="{y}" x2="{x2 - 7 * sign}" y2="{y}" stroke="{colour}" stroke-width="1.6"/>'
                   f'<polygon points="{tip}" fill="{colour}"/>'
                   f'<text x="{(x1 + x2) // 2}" y="{y - 4}" text-anchor="middle" fill="{colour}">'
                   f"{escape(label(a))}</text></g>")
    out.append("</svg>")
    return "\n".join(out)


# -- captions and the CLI ---------------------------------------------------------------------------
def caption(m: Measured, drawn: Sequence[Arrow], how: str) -> str:
    """One line: the parameters, seed and backend of the run, its measured totals, and how it is drawn."""
    from analysis.harness import measured

    tot = measured(m.run)
    params = ", ".join(f"{k}={v}" for k, v in m.params.items())
    where = "HE simulator" if m.backend == "sim" else "SEAL" if m.backend == "seal" else "two-party runtime"
    text = (f"Measured: one real run of `{m.name}` ({where}, seed {m.seed}) at {params}: "
            f"{tot['rounds']:,} rounds, {fmt_bytes(tot['bytes_client_to_server'])} client → server and "
            f"{fmt_bytes(tot['bytes_server_to_client'])} server → client in {tot['messages']:,} messages"
            + (f" (dealer's offline {fmt_bytes(tot['offline_bytes'])} not drawn)" if tot.get("offline_bytes") else "")
            + (f"; the client's HE key material ({fmt_bytes(tot['key_bytes'])}: parameters, public and Galois "
               "keys, once per run) not drawn" if tot.get("key_bytes") else "")
            + ". " + ("Each HE arrow is one serialized ciphertext. " if m.backend in ("sim", "seal") else ""))
    if how == "merged":
        text += "One arrow per round, direction and step (×n: n messages merged)."
    else:
        cut = how.removeprefix("per step").strip(" ()")
        text += (f"{len(merge(m.messages))} merged arrows would exceed {MAX_ARROWS}, so each arrow sums one step's "
                 f"messages in one direction{' (steps cut to their ' + cut + ')' if cut else ''}: "
                 f"round range, ×messages, total bytes.")
    return text


def table(drawn: Sequence[Arrow]) -> str:
    rows = [f"{'rounds':>10}  {'direction':<16} {'count':>6} {'bytes':>12}  step"]
    rows += [f"{a.rounds:>10}  {a.direction:<16} {a.count:>6} {a.nbytes:>12,}  {a.step}" for a in drawn]
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    from analysis.cli import parse_sets

    ap = argparse.ArgumentParser(prog="python -m analysis.sequence", description=__doc__.split("\n")[0])
    ap.add_argument("name")
    ap.add_argument("--set", nargs="*", default=[], help="public parameters key=value")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--svg", help="also write the SVG to this file")
    args = ap.parse_args(argv)
    m = measure(args.name, parse_sets(args.set), args.seed)
    drawn, how = arrows(m.messages)
    problems = transcript_problems(m.messages, m.run) + transcript_problems(drawn, m.run)
    print(table(drawn))
    print(caption(m, drawn, how))
    if args.svg:
        with open(args.svg, "w", encoding="utf-8") as fh:
            fh.write(svg(drawn, f"{m.name}: who sends what, when"))
    for p in problems:
        print("PROBLEM:", p)
    return 1 if problems else 0


if __name__ == "__main__":
    raise SystemExit(main())
