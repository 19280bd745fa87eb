"""Secure primitives every MPC protocol of privmoe is built from (shared in, shared out).

All run on CrypTen's arithmetic/binary sharing over Z_2^64 with the dealer's tuples. Costs (rounds, bytes
per party, offline bytes) are derived in ``analysis/cost_models/crypten.py`` from these very schedules:

* ``mul`` / ``matmul`` -- Beaver: one round, each party opens its share of (x-a) and (y-b); the two-party
  truncation of a fixed-point product is local (no message).
* ``less_than_zero`` -- A2B of the two shares (free, via PRZS) + a 64-bit parallel-prefix adder (1 AND
  round + 6 Set-Propagate-Kill rounds) + B2A of the sign bit (1 round): 8 rounds.
* ``equal_zero`` -- bitwise XNOR, a 6-level AND tree, B2A of the bit: 7 rounds.
* ``mux(b, x, y) = y + b * (x - y)`` -- one Beaver mul.
* ``tournament`` -- argmax along the last axis by a knock-out tree on unique integer keys; every level is
  one comparison and one multiplexer, both vectorised over the level.
"""
from __future__ import annotations

import math

import torch

from functionalities.fixed_point import FRAC_BITS
from protocols.crypten_shim import FixedPointEncoder, MPCTensor, current_party
from protocols.runtime import step

from .sharing import from_ring, ring, scale_of


def less_than_zero(x: MPCTensor) -> MPCTensor:
    """[x < 0] as an arithmetic bit (scale 1). 8 rounds."""
    return x._ltz()


def less_than(x: MPCTensor, y: MPCTensor) -> MPCTensor:
    """[x < y] as an arithmetic bit (scale 1). 8 rounds."""
    return less_than_zero(x - y)


def equal_zero(x: MPCTensor) -> MPCTensor:
    """[x == 0] as an arithmetic bit (scale 1). 7 rounds.

    CrypTen's ``_eqz_2PC`` multiplies the bit by (default scale / x's scale) on the way back, so a
    scale-1 (integer) input would come back as 2^16; zero-ness does not depend on the scale, so the
    comparison runs on a view of the same shares tagged with the default fixed-point scale."""
    if scale_of(x) != FixedPointEncoder().scale:
        x = from_ring(ring(x), precision=FRAC_BITS)
    return x._eqz_2PC()


def equal(x: MPCTensor, y) -> MPCTensor:
    """[x == y] elementwise; ``y`` shared or public. 7 rounds."""
    return equal_zero(x - y)


def mux(b: MPCTensor, x: MPCTensor, y: MPCTensor) -> MPCTensor:
    """``b ? x : y`` for an arithmetic bit ``b`` (broadcasts). One Beaver multiplication."""
    return y + b * (x - y)


def pad_pow2(n: int) -> int:
    """The smallest power of two >= n."""
    return 1 << max(0, math.ceil(math.log2(n))) if n > 1 else 1


def public_const(value: int, shape) -> MPCTensor:
    """A public integer constant as a (trivial) sharing: party 0 holds it, party 1 holds 0."""
    t = torch.full(tuple(shape), int(value), dtype=torch.long)
    return from_ring(t if current_party().rank == 0 else torch.zeros_like(t), precision=0)


def tournament(keys: MPCTensor, payload: MPCTensor) -> tuple[MPCTensor, MPCTensor, MPCTensor]:
    """Argmax along the last axis of integer ``keys`` (P x L', L' a power of two, all keys distinct).

    Carries along the winner's ``payload`` (P x L') and its one-hot over L'. Level l (l = 0..log2 L' - 1)
    compares P*L'/2^(l+1) pairs (one ``less_than``) and multiplexes, in ONE Beaver multiplication, the
    pair's key and payload differences and the two candidates' one-hots (2^l wide each).

    Returns (key, payload, onehot) of the winners: shapes P, P, P x L'.
    Rounds: 9 per level. Real keys must be distinct (callers make them so); equal keys would go to the left
    candidate, which is how padding (all equal, below every real key) behaves."""
    rows, width = keys.shape
    if width & (width - 1):
        raise ValueError(f"tournament needs a power-of-two width, got {width}")
    # each candidate starts as the one-hot [1] of its own subtree; subtrees are contiguous, so the
    # winner's one-hot over its 2w-wide subtree is [left one-hot, right one-hot] muxed by the comparison.
    k, v, oh = keys.unsqueeze(-1), payload.unsqueeze(-1), public_const(1, (rows, width, 1))
    level = 0
    while k.shape[1] > 1:
        with step(f"level{level}"):
            kl, kr = k[:, 0::2], k[:, 1::2]
            vl, vr = v[:, 0::2], v[:, 1::2]
            ol, orr = oh[:, 0::2], oh[:, 1::2]
            right_wins = less_than(kl, kr)                              # P x n/2 x 1
            stacked = from_ring(torch.cat([ring(kr - kl), ring(vr - vl), ring(ol), ring(orr)], dim=-1))
            sel = right_wins * stacked                                  # one mul: P x n/2 x (2 + 2w)
            w = ol.shape[-1]
            sel_k, sel_v = sel[..., 0:1], sel[..., 1:2]
            sel_l, sel_r = sel[..., 2:2 + w], sel[..., 2 + w:]
            k = kl + sel_k
            v = vl + sel_v
            oh = from_ring(torch.cat([ring(ol - sel_l), ring(sel_r)], dim=-1))
        level += 1
    return k.reshape(rows), v.reshape(rows), oh.reshape(rows, width)


def bitonic_stages(width: int) -> list[tuple[list[int], list[int], list[bool]]]:
    """The compare-exchange stages of a bitonic network sorting ``width`` (a power of two) keys in
    DESCENDING order: per stage, the positions (lo, hi = lo ^ j) and whether the pair orders descending.
    log2(w) (log2(w) + 1) / 2 stages of w / 2 disjoint pairs."""
    stages = []
    k = 2
    while k <= width:
        j = k // 2
        while j >= 1:
            lo = [i for i in range(width) if (i ^ j) > i]
            stages.append((lo, [i ^ j for i in lo], [(i & k) == 0 for i in lo]))
            j //= 2
        k *= 2
    return stages


def _compare_exchange(k: torch.Tensor, p: torch.Tensor, lo: list[int], hi: list[int], desc: list[bool]):
    """One stage on ring tensors k (P x w), p (P x w x c): each pair (lo, hi) ordered descending (``desc``)
    or ascending. One comparison of P |lo| pairs, one multiplexer of those bits by P |lo| (1 + c)
    differences: 9 rounds."""
    lo_t, hi_t = torch.tensor(lo), torch.tensor(hi)
    d = torch.tensor(desc)
    # swap when the pair is out of order: descending pairs want key[lo] > key[hi]
    first = torch.where(d, k[:, lo_t], k[:, hi_t])
    second = torch.where(d, k[:, hi_t], k[:, lo_t])
    swap = less_than(from_ring(first), from_ring(second))                         # P x |lo|
    diff = torch.cat([(k[:, hi_t] - k[:, lo_t]).unsqueeze(-1), p[:, hi_t] - p[:, lo_t]], dim=-1)
    delta = ring(swap.unsqueeze(-1) * from_ring(diff))
    k = k.clone()
    p = p.clone()
    k[:, lo_t] += delta[..., 0]
    k[:, hi_t] -= delta[..., 0]
    p[:, lo_t] += delta[..., 1:]
    p[:, hi_t] -= delta[..., 1:]
    return k, p


def bitonic_sort(keys: MPCTensor, payload: MPCTensor) -> tuple[MPCTensor, MPCTensor]:
    """Sort rows of distinct integer ``keys`` (P x w, w a power of two) descending, carrying ``payload``
    (P x w x c). Each stage: one comparison of P w/2 pairs and one multiplexer of the P w/2 bits by
    P w/2 (1 + c) differences -- 9 rounds a stage."""
    k, p = ring(keys), ring(payload)
    for lo, hi, desc in bitonic_stages(keys.shape[1]):
        k, p = _compare_exchange(k, p, lo, hi, desc)
    return from_ring(k), from_ring(p)


def bitonic_top(keys: MPCTensor, payload: MPCTensor, block: int) -> tuple[MPCTensor, MPCTensor]:
    """The top ``block`` of each row of distinct integer ``keys`` (P x w; ``block`` <= w, both powers of two)
    sorted descending, carrying ``payload`` (P x w x c): the bitonic top-k merge (Shanbhag, Pirk and Madden,
    SIGMOD'18). Step ``blocks``: ``bitonic_sort`` of the w / b blocks of b = ``block`` keys (s_b (s_b + 1)/2
    stages, s_b = log2 b). Then per level l < log2(w / b) (step ``merge{l}``): the blocks pair up, one stage
    keeps the larger of A[i] and B[b - 1 - i] (one comparison and one multiplexer: a bitonic sequence holding
    the top b of A and B) and s_b half-cleaner stages sort it. Depth s_b (s_b + 1)/2 + log2(w / b) (1 + s_b)
    stages of 9 rounds instead of the full sort's log2 w (log2 w + 1)/2; comparisons about w (s_b (s_b + 1)/4
    + 1 + s_b / 2) instead of w/2 log2 w (log2 w + 1)/2."""
    rows, width = keys.shape
    c = payload.shape[-1]
    with step("blocks"):
        k, p = bitonic_sort(from_ring(ring(keys).reshape(-1, block)), from_ring(ring(payload).reshape(-1, block, c)))
    k, p = ring(k).reshape(rows, width), ring(p).reshape(rows, width, c)
    level = 0
    while k.shape[1] > block:
        n = k.shape[1] // (2 * block)                       # pairs of blocks per row
        with step(f"merge{level}"):
            kb, pb = k.reshape(rows, n, 2, block), p.reshape(rows, n, 2, block, c)
            a_k, b_k = kb[:, :, 0], kb[:, :, 1].flip(-1)
            a_p, b_p = pb[:, :, 0], pb[:, :, 1].flip(-2)
            take_b = less_than(from_ring(a_k), from_ring(b_k))
            diff = torch.cat([(b_k - a_k).unsqueeze(-1), b_p - a_p], dim=-1)
            delta = ring(take_b.unsqueeze(-1) * from_ring(diff))
            k, p = (a_k + delta[..., 0]).reshape(rows * n, block), (a_p + delta[..., 1:]).reshape(rows * n, block, c)
            for lo, hi, desc in bitonic_merge_stages(block):
                k, p = _compare_exchange(k, p, lo, hi, desc)
        k, p = k.reshape(rows, n * block), p.reshape(rows, n * block, c)
        level += 1
    return from_ring(k), from_ring(p)


def bitonic_merge_stages(width: int) -> list[tuple[list[int], list[int], list[bool]]]:
    """The log2(width) half-cleaner stages that sort a BITONIC sequence of ``width`` keys descending: the last
    phase of ``bitonic_stages(width)``."""
    return bitonic_stages(width)[len(bitonic_stages(width)) - (width.bit_length() - 1):]


def bits_times_public(bits: MPCTensor, matrix: torch.Tensor) -> MPCTensor:
    """Shared integers (scale 1, e.g. a one-hot) times a PUBLIC real matrix: local, exact up to the
    fixed-point encoding of the matrix (CrypTen would encode the matrix at the bits' scale, 1)."""
    from functionalities.fixed_point import FRAC_BITS, encode

    return from_ring(ring(bits).matmul(encode(matrix)), precision=FRAC_BITS)


def rank_top(keys: MPCTensor, payload: MPCTensor, t: int, sizes: list[int]) -> tuple[MPCTensor, MPCTensor]:
    """The top ``t`` of each row of distinct integer ``keys`` (P x n) sorted descending, carrying ``payload``
    (P x n x c), by ranking: constant rounds per level, no sorting network.

    Level l (step ``level{l}``) cuts each row into groups of g = ``sizes[l]`` (the last group padded with
    distinct keys below every real one) and, in each group,
    1. compares every pair at once: ONE comparison of P G g (g - 1)/2 pairs (8 rounds);
    2. ranks locally: r_i = #{j : key_j > key_i} = sum_{j > i} [key_i < key_j] + sum_{j < i} (1 - [key_j < key_i])
       (the keys are distinct, so the ranks are 0 .. g - 1, each once);
    3. selects the group's top t in order: the one-hot h_ij = [r_i == j] for j < t (ONE equality of P G g t,
       7 rounds) times the keys and payload, summed over i (ONE multiplication, no truncation, 1 round).
    The G t survivors of a row go to the next level; the last level has one group, so its output is the row's
    top t, sorted. 16 rounds a level; nothing is opened. ``sizes`` is a public plan (``topk.rank_plan``)."""
    k, p = ring(keys), ring(payload)
    rows, c = k.shape[0], p.shape[-1]
    rank0 = current_party().rank == 0
    for level, g in enumerate(sizes):
        n = k.shape[1]
        groups = -(-n // g)
        with step(f"level{level}"):
            if groups * g > n:
                # pads: distinct (one range per level) and far below every real key
                extra = groups * g - n
                pad = -(2**62) - (level << 32) - torch.arange(extra, dtype=torch.long)
                k = torch.cat([k, (pad if rank0 else torch.zeros_like(pad)).expand(rows, extra)], dim=1)
                p = torch.cat([p, torch.zeros(rows, extra, c, dtype=torch.long)], dim=1)
            kg = k.reshape(rows * groups, g)
            h = rank_onehots(pairwise_ranks(kg), t)                                   # (P G, g, t)
            both = from_ring(torch.cat([kg.unsqueeze(-1), p.reshape(rows * groups, g, c)], dim=-1))
            picked = ring((h.unsqueeze(-1) * both.unsqueeze(-2)).sum(1))             # (P G, t, 1 + c)
        k = picked[..., 0].reshape(rows, groups * t)
        p = picked[..., 1:].reshape(rows, groups * t, c)
    return from_ring(k), from_ring(p)


def pairwise_ranks(keys: torch.Tensor) -> torch.Tensor:
    """This party's share of the rank of each of the distinct integer keys in each row of ``keys`` (a ring
    share, R x g): r_i = #{j : key_j > key_i} = sum_{j > i} [key_i < key_j] + sum_{j < i} (1 - [key_j < key_i]).
    ONE comparison of the R g (g - 1)/2 pairs (8 rounds); the sums are local. Distinct keys give each row the
    ranks 0 .. g - 1, each once."""
    g = keys.shape[1]
    left, right = torch.triu_indices(g, g, 1)
    below = ring(less_than(from_ring(keys[:, left]), from_ring(keys[:, right])))     # [key_i < key_j], i < j
    one = torch.ones_like(below) if current_party().rank == 0 else torch.zeros_like(below)
    r = torch.zeros_like(keys)
    r.index_add_(1, left, below)
    r.index_add_(1, right, one - below)
    return r


def rank_onehots(ranks: torch.Tensor, t: int) -> MPCTensor:
    """The bits h_ij = [r_i == j] for j < t of ranks shared as ring shares (R x g): ONE equality of R g t
    (7 rounds). Row-wise, column j is the one-hot of the key ranked j (over the row's g positions)."""
    return equal(from_ring(ranks.unsqueeze(-1).expand(-1, -1, t).contiguous()), torch.arange(t))
