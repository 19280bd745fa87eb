"""Message sequence diagrams (``analysis/sequence.py``): the transcript is the measurement, merging and
summarising keep every message, the SVG is well-formed XML with one arrow per merged message, and a
transcript that disagrees with its run is caught."""
from __future__ import annotations

import dataclasses
import xml.etree.ElementTree as ET

import pytest

from analysis import harness, registry, sequence
from analysis.sequence import Arrow, arrows, merge, summarise, svg, transcript_problems
from analysis.strategies import draw_example_inputs
from protocols.runtime.meter import ONLINE, Message

SVG_NS = "{http://www.w3.org/2000/svg}"


def msg(sender: str, rnd: int, nbytes: int, step: str = "s", seq: int = 0) -> Message:
    receiver = "server" if sender == "client" else "client"
    return Message(step, ONLINE, sender, receiver, nbytes, rnd, seq)


@pytest.fixture(scope="module")
def measured_runs():
    """equal and gate: the diagram's run and an independent harness run at the same params and seed."""
    out = {}
    for name in ("equal", "gate"):
        m = sequence.measure(name, seed=3)
        entry = registry.get(name)
        params = entry.resolve({})
        other = harness.run_real(entry, params, draw_example_inputs(entry, params, 3), seed=3)
        out[name] = (m, other)
    return out


# -- (a) the transcript is the measurement ---------------------------------------------------------
@pytest.mark.parametrize("name", ["equal", "gate"])
def test_transcript_totals_equal_an_independent_run(measured_runs, name):
    m, other = measured_runs[name]
    want = harness.measured(other)
    msgs = m.messages
    assert sequence.transcript(name, seed=3) == msgs                     # deterministic at one seed
    assert max(x.round for x in msgs) == want["rounds"]
    assert sum(x.nbytes for x in msgs if x.direction == "client->server") == want["bytes_client_to_server"]
    assert sum(x.nbytes for x in msgs if x.direction == "server->client") == want["bytes_server_to_client"]
    assert len(msgs) == want["messages"]
    assert all(x.step and x.step != "setup" for x in msgs)
    assert transcript_problems(msgs, other) == []
    drawn, _ = arrows(msgs)
    assert transcript_problems(drawn, other) == []


def test_he_transcript_is_the_runners_meter():
    entry = next(e for e in registry.all_entries() if e.kind == "he" and not e.negative_control and "sim" in e.backends)
    m = sequence.measure(entry.name)
    assert m.backend == "sim" and {x.round for x in m.messages} == {1, 2}
    assert m.messages[0].direction == "client->server" and m.messages[-1].direction == "server->client"
    assert transcript_problems(m.messages, m.run) == []


# -- (b) merging and summarising ---------------------------------------------------------------------
def test_merge_counts_consecutive_messages_of_one_round_direction_and_step():
    msgs = ([msg("client", 1, 256, "a", i) for i in range(12)] + [msg("server", 1, 8, "a")]
            + [msg("client", 2, 8, "a"), msg("client", 2, 16, "b"), msg("client", 3, 4, "b")])
    assert merge(msgs) == [Arrow("client", "server", "a", 1, 1, 12, 3072), Arrow("server", "client", "a", 1, 1, 1, 8),
                           Arrow("client", "server", "a", 2, 2, 1, 8), Arrow("client", "server", "b", 2, 2, 1, 16),
                           Arrow("client", "server", "b", 3, 3, 1, 4)]
    assert "\u00d712, 3\u2009072 B" in sequence.label(merge(msgs)[0])
    assert sequence.label(merge(msgs)[1]) == "r1 \u00b7 a \u00b7 8 B"


def test_few_arrows_are_drawn_merged():
    msgs = [msg(s, r, 8) for r in range(1, 11) for s in ("client", "server")]
    drawn, how = arrows(msgs)
    assert how == "merged" and len(drawn) == 20


def test_many_arrows_are_summarised_per_step_with_round_ranges():
    msgs = [msg(s, r, 8, f"top/s{r // 10}") for r in range(1, 60) for s in ("client", "server")]
    assert len(merge(msgs)) == 118 > sequence.MAX_ARROWS
    drawn, how = arrows(msgs)
    assert how == "per step" and len(drawn) == 12
    assert drawn[0] == Arrow("client", "server", "top/s0", 1, 9, 9, 72)
    assert drawn[1] == Arrow("server", "client", "top/s0", 1, 9, 9, 72)
    assert drawn[-1] == Arrow("server", "client", "top/s5", 50, 59, 10, 80)
    assert sequence.label(drawn[0]) == "r1\u20139 \u00b7 s0 \u00b7 \u00d79, 72 B"
    assert sum(a.count for a in drawn) == len(msgs) and sum(a.nbytes for a in drawn) == 8 * len(msgs)


def test_too_many_steps_are_cut_to_fewer_levels():
    msgs = [msg(s, r, 8, f"p{r % 3}/q{r}") for r in range(1, 50) for s in ("client", "server")]
    assert len(summarise(msgs)) > sequence.MAX_ARROWS
    drawn, how = arrows(msgs)
    assert how == "per step (first 1 level)" and {a.step for a in drawn} == {"p0", "p1", "p2"} and len(drawn) == 6
    assert summarise(msgs, 1) == drawn


# -- (c) the SVG ----------------------------------------------------------------------------------------
def test_svg_parses_and_has_one_arrow_per_merged_message():
    msgs = [msg("client", 1, 256, "a", i) for i in range(3)] + [msg("server", 1, 8, "a"), msg("client", 2, 1024, "b")]
    root = ET.fromstring(svg(msgs, "x"))
    groups = [g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "arrow"]
    assert len(groups) == len(merge(msgs)) == 3
    texts = ["".join(g.itertext()) for g in groups]
    assert texts[0] == "r1 \u00b7 a \u00b7 \u00d73, 768 B" and texts[2] == "r2 \u00b7 b \u00b7 1\u2009024 B"
    assert root.get("width") == "700" and not list(root.iter(f"{SVG_NS}script"))


def test_svg_escapes_text():
    evil = "<&>\"'"
    out = svg([msg("client", 1, 8, evil)], f"title {evil}")
    root = ET.fromstring(out)
    assert evil in "".join(root.itertext())
    assert "<&>" not in out


def test_svg_of_a_real_run(measured_runs):
    m, _ = measured_runs["gate"]
    drawn, how = arrows(m.messages)
    root = ET.fromstring(svg(drawn, "gate"))
    assert how == "per step" and len([g for g in root.iter(f"{SVG_NS}g") if g.get("class") == "arrow"]) == len(drawn)
    text = sequence.caption(m, drawn, how)
    assert f"{harness.measured(m.run)['rounds']:,} rounds" in text and "tokens=4" in text
    assert f"exceed {sequence.MAX_ARROWS}" in text


# -- (d) negative control: a transcript that is not the run's ------------------------------------------
@pytest.mark.parametrize("name", ["equal", "gate"])
def test_a_dropped_or_altered_message_is_detected(measured_runs, name):
    m, run = measured_runs[name]
    msgs = list(m.messages)
    dropped = msgs[:5] + msgs[6:]
    altered = msgs[:3] + [dataclasses.replace(msgs[3], nbytes=msgs[3].nbytes + 8)] + msgs[4:]
    moved = msgs[:-1] + [dataclasses.replace(msgs[-1], round=msgs[-1].round + 1)]
    relabelled = [dataclasses.replace(x, step="elsewhere") for x in msgs]
    for bad in (dropped, altered, moved, relabelled, msgs[:-1]):
        assert transcript_problems(bad, run), "a wrong transcript passed"
    assert any("messages" in p for p in transcript_problems(dropped, run))
    assert any("bytes" in p for p in transcript_problems(altered, run))
    assert any("rounds" in p for p in transcript_problems(moved, run))
    drawn, _ = arrows(msgs)
    shrunk = drawn[:1] + [dataclasses.replace(drawn[1], count=drawn[1].count - 1)] + drawn[2:]
    assert transcript_problems(shrunk, run)
    assert transcript_problems(msgs, run) == []
