"""Oblivious compaction by compare-and-swap: the mechanism CipherPrune uses to move tokens.

``schedule(n, t)`` is a pipelined bubble network that brings the t largest of n keys to the front, in
descending order, stably (equal keys keep their order: ties -> lower index). Pass i (i < t) walks pairs
(c-1, c) for c = n-1 down to i+1 and swaps when key[c] > key[c-1]. Pass i runs two time steps behind pass
i-1, so the pairs handled at one time step are disjoint and run as ONE vectorised comparison and ONE
multiplexer; the result equals running the passes one after the other. Time steps: n - 2 + min(t, n-1);
compare-and-swaps: sum_{i < min(t, n-1)} (n - 1 - i), i.e. O(n t).

``forward`` runs the network on rows of (key, payload...) for every expert in parallel and returns the
swap bits; ``reverse`` replays those bits backwards on other rows (a swap undoes itself), which is how
CipherPrune's combine puts the expert outputs back in candidate order.
"""
from __future__ import annotations

import torch

from protocols.crypten_shim import MPCTensor
from .primitives import less_than
from .sharing import from_ring, ring


def schedule(n: int, t: int) -> list[list[int]]:
    """For each time step tau, the positions c of the pairs (c-1, c) compared then: pass i handles
    c = n - 1 - (tau - 2 i) when tau >= 2 i and c >= i + 1 (disjoint pairs, one per active pass)."""
    passes = min(t, n - 1)
    steps = [[n - 1 - (tau - 2 * i) for i in range(passes) if tau >= 2 * i and n - 1 - (tau - 2 * i) >= i + 1]
             for tau in range(max(0, n - 2 + passes))]
    return [s for s in steps if s]


def _swap(rows: torch.Tensor, cs: list[int], delta: torch.Tensor) -> torch.Tensor:
    idx = torch.tensor(cs, dtype=torch.long)
    out = rows.clone()
    out[:, idx - 1] += delta
    out[:, idx] -= delta
    return out


def forward(keys: MPCTensor, payload: MPCTensor, t: int) -> tuple[MPCTensor, MPCTensor, list[MPCTensor]]:
    """keys (E, n), payload (E, n, w) shared -> keys and payload with the top t in front, and the swap bits.

    Each time step with p pairs: one comparison of E p keys (8 rounds), one multiplexer of the E p bits by
    E p (1 + w) differences (1 round)."""
    n = keys.shape[1]
    k, p = ring(keys), ring(payload)
    bits = []
    for tau, cs in enumerate(schedule(n, t)):
        idx = torch.tensor(cs, dtype=torch.long)
        b = less_than(from_ring(k[:, idx - 1]), from_ring(k[:, idx]))                 # (E, p): swap?
        diff = torch.cat([(k[:, idx] - k[:, idx - 1]).unsqueeze(-1), p[:, idx] - p[:, idx - 1]], dim=-1)
        delta = ring(b.unsqueeze(-1) * from_ring(diff))                                  # (E, p, 1 + w)
        k = _swap(k, cs, delta[..., 0])
        p = _swap(p, cs, delta[..., 1:])
        bits.append(b)
    return from_ring(k), from_ring(p), bits


def reverse(rows: MPCTensor, bits: list[MPCTensor], n: int, t: int) -> MPCTensor:
    """Undo the network on rows (E, n, w): replay the swaps in reverse order with the stored bits
    (one multiplexer of E p by E p w per time step, 1 round)."""
    r = ring(rows)
    for tau, (cs, b) in reversed(list(enumerate(zip(schedule(n, t), bits)))):
        idx = torch.tensor(cs, dtype=torch.long)
        delta = ring(b.unsqueeze(-1) * from_ring(r[:, idx] - r[:, idx - 1]))
        r = _swap(r, cs, delta)
    return from_ring(r)
