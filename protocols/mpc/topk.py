"""Pi_topk: top-t along the last axis, values + indices, ties -> lower index (spec: functionalities/topk.py).

Four methods, chosen by a public rule (``choose_method``: the fewest comparisons, ``network_size``; the
analysis layer's ``sorting.pick_method`` picks by modelled latency on a given network instead):
``tournament`` (t knock-out tournaments, for t << L), ``bitonic`` (one bitonic sorting network:
log2 L' (log2 L' + 1) / 2 stages instead of t log2 L' levels), ``merge`` (the bitonic top-t merge,
``primitives.bitonic_top``: blocks of b = 2^ceil(log2 t) sorted, then log2(L'/b) levels that keep the top b
of each pair of blocks -- depth grows with log L' log b, not log^2 L') and ``rank`` (``primitives.rank_top``:
at most ``RANK_LEVELS`` levels, each ranking groups by comparing all their pairs at once and keeping each
group's top t -- 16 rounds a level whatever L and t, paid for with about g/2 comparisons per candidate).

1. Keys (local): each entry's ring value X (scale 2^16) becomes the distinct integer
   ``key = X * L' + (L' - 1 - i)`` where L' is L padded to a power of two; padding gets key -2^62 (the
   rank method's padding: distinct keys from -2^62 down).
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

import functools

import torch

from functionalities.topk import validate
from protocols.crypten_shim import MPCTensor, current_party
from protocols.runtime import step

from .primitives import bitonic_sort, bitonic_top, pad_pow2, pairwise_ranks, rank_onehots, rank_top, tournament
from .sharing import from_ring, ring, scale_of

PAD_KEY = -(2**62)
KNOCKOUT = 2**61


METHODS = ("auto", "tournament", "bitonic", "merge", "rank")

#: the most levels ``rank_plan`` uses (16 rounds each): the rank method's point is its depth
RANK_LEVELS = 3


@functools.lru_cache(maxsize=256)
def rank_plan(length: int, t: int) -> tuple[int, ...]:
    """The group sizes, level by level, of the ``rank`` method on a row of ``length`` (``primitives.rank_top``):
    groups of g at every level but the last, which ranks the n survivors in one group of n. Public rule: among
    the plans of at most ``RANK_LEVELS`` levels (one g > t for every level), the fewest comparisons and
    equalities (``rank_work``); on a tie the fewer levels, then the smaller g."""
    best: tuple[tuple[int, int, int], tuple[int, ...]] | None = None
    for g in range(t + 1, length + 1):
        sizes, n = [], length
        while n > g and len(sizes) < RANK_LEVELS - 1:
            sizes.append(g)
            n = -(-n // g) * t
        if n > g:
            continue                            # would need more levels
        sizes.append(n)
        key = (rank_work(length, t, tuple(sizes)), len(sizes), g)
        if best is None or key < best[0]:
            best = (key, tuple(sizes))
    return best[1] if best is not None else (length,)


def rank_work(length: int, t: int, sizes: tuple[int, ...]) -> int:
    """Comparisons + equalities of ``primitives.rank_top`` on one row: per level with G groups of g,
    G g (g - 1)/2 pair comparisons and G g t rank equalities."""
    work, n = 0, length
    for g in sizes:
        groups = -(-n // g)
        work += groups * (g * (g - 1) // 2 + g * t)
        n = groups * t
    return work


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
    if method == "rank":
        sizes = rank_plan(length, t)
        return rank_work(length, t, sizes), 2 * len(sizes)
    raise ValueError(method)


def choose_method(length: int, t: int, method: str = "auto") -> str:
    """``auto``: the method with the fewest comparisons (``network_size``; on a tie the fewer stages, then
    the order of ``METHODS``) -- public sizes only."""
    return _fewest(length, t, method, METHODS, network_size)


def _fewest(length: int, t: int, method: str, methods: tuple[str, ...], work) -> str:
    """``method`` if it is one of ``methods`` (refused by name otherwise); ``auto``: the method of ``methods``
    with the least ``work(length, t, m)`` (a (count, depth) pair: ties go to the shallower, then the earlier)."""
    if method not in methods:
        from functionalities.errors import PublicParameterError

        raise PublicParameterError(f"method must be one of {methods}, got {method!r}")
    if method != "auto":
        return method
    validate(1, length, t)
    return min(methods[1:], key=lambda m: work(length, t, m))


def _keys(x: MPCTensor, width: int | None = None) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Distinct integer keys (ties -> lower index wins) and values, padded to ``width`` (default: a power of
    two). The key is X L' + (L' - 1 - i), L' = L padded to a power of two, whatever the width."""
    rows, length = x.shape
    scale = pad_pow2(length)
    width = scale if width is None else width
    rank0 = current_party().rank == 0
    offsets = torch.arange(scale - 1, -1, -1, dtype=torch.long)[:length]
    key = ring(x) * scale + (offsets if rank0 else 0)
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
    key, val, width = _keys(x, length if chosen == "rank" else None)
    lab = torch.zeros(width, dtype=torch.long)
    lab[:length] = labels
    lab_share = lab if current_party().rank == 0 else torch.zeros_like(lab)
    payload = torch.stack([val, lab_share.expand(rows, width)], dim=-1)
    if chosen == "merge":
        with step("top"):
            _, moved = bitonic_top(from_ring(key), from_ring(payload), min(pad_pow2(t), width))
    elif chosen == "rank":
        with step("top"):
            _, moved = rank_top(from_ring(key), from_ring(payload), t, list(rank_plan(length, t)))
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


#: the methods that also return the winners' one-hots over the row (what the gate needs): t tournaments, or
#: ONE level of ranking over the whole row (its equality bits are the one-hots)
ONEHOT_METHODS = ("auto", "tournament", "rank")


def onehot_work(length: int, t: int, method: str) -> tuple[int, int]:
    """(comparisons and equalities per row, levels of 8- or 9-round steps) of ``topk_with_onehots`` by
    ``method``: tournament t (L' - 1) comparisons in t log2 L' levels; rank L (L - 1)/2 comparisons + L t
    equalities in 2."""
    if method == "tournament":
        return network_size(length, t, "tournament")
    if method == "rank":
        return length * (length - 1) // 2 + length * t, 2
    raise ValueError(method)


def choose_onehot_method(length: int, t: int, method: str = "auto") -> str:
    """``auto``: the method of ``ONEHOT_METHODS`` with the fewest comparisons and equalities (``onehot_work``;
    on a tie the fewer levels, then the order of ``ONEHOT_METHODS``) -- public sizes only."""
    return _fewest(length, t, method, ONEHOT_METHODS, onehot_work)


def rank_with_onehots(x: MPCTensor, t: int) -> tuple[MPCTensor, MPCTensor, MPCTensor]:
    """Top-t by one level of ranking over the whole row (``primitives.pairwise_ranks``, ``rank_onehots``).
    Shared (r, L) -> values (r, t) [x's scale], indices (r, t) [int], one-hots (r, t, L) [bits]: the equality
    bits ARE the one-hots; the values are one multiplication of the bits by the row, the indices
    sum_i onehot_i i (local). 16 rounds whatever L and t."""
    rows, length = x.shape
    key, val, _ = _keys(x, length)
    with step("rank"):
        h = rank_onehots(pairwise_ranks(key), t)                                    # (r, L, t)
        values = ring((h * from_ring(val).unsqueeze(-1)).sum(1))                   # (r, t)
    onehots = ring(h).transpose(1, 2)
    indices = (onehots * torch.arange(length, dtype=torch.long)).sum(-1)
    return (from_ring(values, precision=_bits(scale_of(x))), from_ring(indices), from_ring(onehots.contiguous()))


def topk_onehots(x: MPCTensor, t: int, method: str = "auto") -> tuple[MPCTensor, MPCTensor, MPCTensor]:
    """Top-t with the one-hots, by the method ``choose_onehot_method`` picks: values (r, t), indices (r, t),
    one-hots (r, t, L)."""
    rows, length = x.shape
    validate(rows, length, t)
    if choose_onehot_method(length, t, method) == "rank":
        return rank_with_onehots(x, t)
    return topk_with_onehots(x, t)


def _bits(scale: int) -> int:
    return scale.bit_length() - 1


def topk(x: MPCTensor, t: int, method: str = "auto") -> tuple[MPCTensor, MPCTensor]:
    """Shared (r, L) -> values (r, t) descending, indices (r, t); ties -> lower index."""
    with step("topk"):
        return topk_labels(x, t, None, method)
