"""Pi_topk: top-t along the last axis, values + indices, ties -> lower index (spec: functionalities/topk.py).

Three methods, chosen by a public rule (``choose_method``: the fewest comparisons, ``network_size``):
``tournament`` (t knock-out tournaments, for t << L), ``bitonic`` (one bitonic sorting network:
log2 L' (log2 L' + 1) / 2 stages instead of t log2 L' levels) and ``merge`` (the bitonic top-t merge,
``primitives.bitonic_top``: blocks of b = 2^ceil(log2 t) sorted, then log2(L'/b) levels that keep the top b
of each pair of blocks -- depth grows with log L' log b, not log^2 L').

1. Keys (local): each entry's ring value X (scale 2^16) becomes the distinct integer
   ``key = X * L' + (L' - 1 - i)`` where L' is L padded to a power of two; padding gets key -2^62.
   Equal values now differ, in favour of the lower index -- the tie rule costs nothing.
2. ``iter{j}`` for j < t: a tournament (``primitives.tournament``) over the keys returns the winner's
   value and one-hot (log2 L' levels, each: one comparison + one multiplexer). The index is
   ``sum_i onehot_i * i`` and the winner is knocked out with ``key -= onehot * 2^61`` -- both local.

Tournament cost: t * log2(L') * 9 rounds; per party r * sum_l [216 p_l + 8 p_l (3 + 2^(l+1))] bytes per
iteration, with p_l = L'/2^(l+1) pairs at level l. Communication O(t r L' log L'), rounds O(t log L).
Bitonic: the same keys, carrying (value, label) through s(s+1)/2 stages of L'/2 compare-exchanges
(s = log2 L'): 9 s (s+1)/2 rounds, O(r L' log^2 L') communication, independent of t.
Range: |x| <= FIXED_POINT_RANGE = 2^10 (so |key| < 2^(26+20+1) for L' <= 2^20, far from the
2^61 knock-out and the 2^62 padding). Leakage: r, L, t.
"""
from __future__ import annotations

import torch

from functionalities.topk import validate
from protocols.crypten_shim import MPCTensor, current_party
from protocols.runtime import step

from .primitives import bitonic_sort, bitonic_top, pad_pow2, tournament
from .sharing import from_ring, ring, scale_of

PAD_KEY = -(2**62)
KNOCKOUT = 2**61


METHODS = ("auto", "tournament", "bitonic", "merge")


def network_size(length: int, t: int, method: str) -> tuple[int, int]:
    """(comparisons per row, stages) of a method on a row of ``length`` (padded to L' = 2^s): ``tournament``
    t (L' - 1) in t s levels; ``bitonic`` L'/2 s (s + 1)/2 in s (s + 1)/2 stages; ``merge`` (b = 2^ceil(log2 t),
    s_b = log2 b) L'/2 s_b (s_b + 1)/2 + sum_l (L'/2^(l+1) + s_b L'/2^(l+2)) in s_b (s_b + 1)/2 + (s - s_b)
    (1 + s_b) stages (``primitives.bitonic_top``)."""
    width = pad_pow2(length)
    s = width.bit_length() - 1
    if method == "tournament":
        return t * (width - 1), t * s
    if method == "bitonic":
        return width // 2 * s * (s + 1) // 2, s * (s + 1) // 2
    if method == "merge":
        b = min(pad_pow2(t), width)
        sb = b.bit_length() - 1
        levels = s - sb
        merges = sum((width >> (l + 1)) + sb * (width >> (l + 2)) for l in range(levels))
        return width // 2 * sb * (sb + 1) // 2 + merges, sb * (sb + 1) // 2 + levels * (1 + sb)
    raise ValueError(method)


def choose_method(length: int, t: int, method: str = "auto") -> str:
    """``auto``: the method with the fewest comparisons (``network_size``; on a tie the fewer stages, then
    the order of ``METHODS``) -- public sizes only."""
    if method not in METHODS:
        from functionalities.errors import PublicParameterError

        raise PublicParameterError(f"method must be one of {METHODS}, got {method!r}")
    if method != "auto":
        return method
    return min(METHODS[1:], key=lambda m: network_size(length, t, m))


def _keys(x: MPCTensor) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Distinct integer keys (ties -> lower index wins) and values, padded to a power of two."""
    rows, length = x.shape
    width = pad_pow2(length)
    rank0 = current_party().rank == 0
    offsets = torch.arange(width - 1, -1, -1, dtype=torch.long)[:length]
    key = ring(x) * width + (offsets if rank0 else 0)
    val = ring(x)
    if width > length:
        pad = torch.full((rows, width - length), PAD_KEY if rank0 else 0, dtype=torch.long)
        key = torch.cat([key, pad], dim=-1)
        val = torch.cat([val, torch.zeros_like(pad)], dim=-1)
    return key, val, width


def topk_labels(x: MPCTensor, t: int, labels: torch.Tensor | None = None, method: str = "auto"):
    """Top-t of each row, returning for each winner its value and its PUBLIC label (``labels[i]`` of its
    position i; default the index i). Shared (r, L) -> values (r, t), labels (r, t) [int].

    Tournament: label = sum_i onehot_i labels_i (local). Bitonic: the label rides along as payload."""
    rows, length = x.shape
    validate(rows, length, t)
    labels = torch.arange(length, dtype=torch.long) if labels is None else labels.long()
    chosen = choose_method(length, t, method)
    if chosen == "tournament":
        values, _, onehots = topk_with_onehots(x, t)
        return values, from_ring((ring(onehots) * labels).sum(-1))
    key, val, width = _keys(x)
    lab = torch.zeros(width, dtype=torch.long)
    lab[:length] = labels
    lab_share = lab if current_party().rank == 0 else torch.zeros_like(lab)
    payload = torch.stack([val, lab_share.expand(rows, width)], dim=-1)
    if chosen == "merge":
        with step("top"):
            _, moved = bitonic_top(from_ring(key), from_ring(payload), min(pad_pow2(t), width))
    else:
        with step("sort"):
            _, moved = bitonic_sort(from_ring(key), from_ring(payload))
    out = ring(moved)[:, :t]
    return from_ring(out[..., 0], precision=_bits(scale_of(x))), from_ring(out[..., 1])


def topk_with_onehots(x: MPCTensor, t: int) -> tuple[MPCTensor, MPCTensor, MPCTensor]:
    """Tournament top-t. Shared (r, L) -> values (r, t) [x's scale], indices (r, t) [int], one-hots
    (r, t, L) [bits] (the gate needs the one-hots)."""
    rows, length = x.shape
    validate(rows, length, t)
    key, val, width = _keys(x)
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


def topk(x: MPCTensor, t: int, method: str = "auto") -> tuple[MPCTensor, MPCTensor]:
    """Shared (r, L) -> values (r, t) descending, indices (r, t); ties -> lower index."""
    with step("topk"):
        return topk_labels(x, t, None, method)
