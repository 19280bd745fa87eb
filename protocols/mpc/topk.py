"""Pi_topk: top-t along the last axis, values + indices, ties -> lower index (spec: functionalities/topk.py).

Built for t << L: t knock-out tournaments instead of a sort.

1. Keys (local): each entry's ring value X (scale 2^16) becomes the distinct integer
   ``key = X * L' + (L' - 1 - i)`` where L' is L padded to a power of two; padding gets key -2^62.
   Equal values now differ, in favour of the lower index -- the tie rule costs nothing.
2. ``iter{j}`` for j < t: a tournament (``primitives.tournament``) over the keys returns the winner's
   value and one-hot (log2 L' levels, each: one comparison + one multiplexer). The index is
   ``sum_i onehot_i * i`` and the winner is knocked out with ``key -= onehot * 2^61`` -- both local.

Cost: t * log2(L') * 9 rounds; per party r * sum_l [216 p_l + 8 p_l (3 + 2^(l+1))] bytes per iteration,
with p_l = L'/2^(l+1) pairs at level l. Communication O(t r L' log L'), rounds O(t log L).
Range: |x| <= FIXED_POINT_RANGE = 2^10 (so |key| < 2^(26+20+1) for L' <= 2^20, far from the
2^61 knock-out and the 2^62 padding). Leakage: r, L, t.
"""
from __future__ import annotations

import torch

from functionalities.topk import validate
from protocols.crypten_shim import MPCTensor, current_party
from protocols.runtime import step

from .primitives import pad_pow2, tournament
from .sharing import from_ring, ring, scale_of

PAD_KEY = -(2**62)
KNOCKOUT = 2**61


def topk_with_onehots(x: MPCTensor, t: int) -> tuple[MPCTensor, MPCTensor, MPCTensor]:
    """Shared (r, L) -> values (r, t) [x's scale], indices (r, t) [int], one-hots (r, t, L) [bits]."""
    rows, length = x.shape
    validate(rows, length, t)
    width = pad_pow2(length)
    rank0 = current_party().rank == 0
    offsets = torch.arange(width - 1, -1, -1, dtype=torch.long)[:length]
    key = ring(x) * width + (offsets if rank0 else 0)
    val = ring(x)
    if width > length:
        pad = torch.full((rows, width - length), PAD_KEY if rank0 else 0, dtype=torch.long)
        key = torch.cat([key, pad], dim=-1)
        val = torch.cat([val, torch.zeros_like(pad)], dim=-1)
    keys, vals = from_ring(key), from_ring(val)
    positions = torch.arange(width, dtype=torch.long)
    values, indices, onehots = [], [], []
    for j in range(t):
        with step(f"iter{j}"):
            _, v, oh = tournament(keys, vals)
        values.append(ring(v))
        indices.append((ring(oh) * positions).sum(-1))
        onehots.append(ring(oh)[:, :length])
        keys = from_ring(ring(keys) - ring(oh) * KNOCKOUT)
    return (from_ring(torch.stack(values, -1), precision=_bits(scale_of(x))),
            from_ring(torch.stack(indices, -1)),
            from_ring(torch.stack(onehots, 1)))


def _bits(scale: int) -> int:
    return scale.bit_length() - 1


def topk(x: MPCTensor, t: int) -> tuple[MPCTensor, MPCTensor]:
    """Shared (r, L) -> values (r, t) descending, indices (r, t); ties -> lower index."""
    with step("topk"):
        values, indices, _ = topk_with_onehots(x, t)
    return values, indices
