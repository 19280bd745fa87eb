"""The false-claim test of the mask ledger and secrets that follow a tie broken by the redrawn randomness.

``cipherprune.moe`` at its default parameters (m=8, d=4, E=4, k=2, t=8) on the seed-0 example: two gate
logits of the last token are EXACTLY equal (0.241 * 0.5 for experts 0 and 3); each is truncated with its
own +-1, so one of the server's redraws routes the token to expert 3 instead of expert 0. Every later
secret follows that decision: the first step of the compaction compares one pair per expert (4 bits) and 2
of them change. The B2A masks do hide those openings (the server sees a uniform bit); the SECRET moved,
and the false-claim test used to report it as "50% of its bits change when the masks are redrawn"."""
import numpy as np
import torch

from analysis import registry
from analysis.security import ledger_problems
from analysis.strategies import draw_example_inputs
from functionalities.fixed_point import FRAC_BITS
from protocols.runtime.ledger import Protection
from protocols.runtime.meter import ViewItem
from simulators.ledger import mask_problems

B2A = Protection("mask", "B2A bit", bits=1)


def _bits(rng, n):
    return rng.integers(0, 2, n, dtype=np.int64)


def _opening(values, index):
    return ViewItem("opened", "s", "client", torch.from_numpy(values), B2A, 1, index)


def _runs(secrets, lie_at=None, seed=1):
    """The server's view of B2A openings (one list of secrets per run: base, redraw 1, redraw 2) and the mask
    logs: the server's parts are the same in every run (it keeps its knowledge), the client's redrawn.
    ``lie_at``: that opening never applies the client's part (its claim is false)."""
    rng = np.random.default_rng(seed)
    server = [_bits(rng, len(x)) for x in secrets[0]]
    views, logs = [], []
    for run in secrets:
        client = [_bits(rng, len(x)) for x in run]
        views.append([_opening(x ^ s ^ (0 if i == lie_at else c), i)
                      for i, (x, s, c) in enumerate(zip(run, server, client))])
        logs.append({"server": [torch.from_numpy(s) for s in server],
                     "client": [torch.from_numpy(c) for c in client]})
    return views, logs


def _check(views, logs):
    return mask_problems("server", views[0], views[1:], logs[0], logs[1:])


def test_a_secret_that_follows_a_tie_broken_the_other_way_is_not_a_false_claim():
    tie = np.array([1, 0, 1, 1, 0, 0, 1, 0])                   # redraw 2 breaks its element 1 the other way
    moved_tie = tie.copy()
    moved_tie[1] ^= 1
    step = np.array([1, 0, 0, 0])                               # ... and then 2 of the 4 compaction bits move
    views, logs = _runs([[tie, step], [tie, step], [moved_tie, np.array([0, 0, 0, 1])]])
    assert _check(views, logs) == []
    # a claim that IS false is still found: its value moves in the runs that made the same decisions
    views, logs = _runs([[tie, step], [tie, step], [moved_tie, np.array([0, 0, 0, 1])]], lie_at=1)
    assert [p.leak for p in _check(views, logs)] == ["false claim"]
    # ... and when every pair of runs took some decision differently, as if no tie had been broken
    other_tie = tie.copy()
    other_tie[6] ^= 1
    views, logs = _runs([[tie, step], [moved_tie, step], [other_tie, step]], lie_at=1, seed=3)
    found = _check(views, logs)
    assert [p.leak for p in found] == ["false claim"] and found[0].message == 1


def test_the_cipherprune_layer_passes_the_ledger_at_its_default_parameters():
    entry = registry.get("cipherprune.moe")
    params = entry.resolve({"linear": "shares"})
    assert (params["tokens"], params["experts"], params["top_k"], params["capacity"]) == (8, 4, 2, 8)
    inputs = draw_example_inputs(entry, params, 0)
    # the scenario: an exact tie between the top-k boundary logits of one token (fixed point, before truncation)
    scale = 2 ** FRAC_BITS
    x = torch.round(inputs["x"] * scale).long()
    w = torch.round(inputs["w_g"] * scale).long()
    logits = x @ w
    top = torch.sort(logits, dim=1, descending=True).values
    assert bool((top[:, params["top_k"] - 1] == top[:, params["top_k"]]).any())
    assert ledger_problems(entry, params, inputs, 0) == []
