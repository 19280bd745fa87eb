"""privmoe's top-t networks, written once over a backend's vocabulary (``backend.CostBackend``):
``less_than_zero(n)`` (n comparisons) and ``mux_bits(n_bits, n_data, n_out)`` (shared bits times shared values).

``crypten`` costs them exactly as ``protocols/mpc/primitives.py`` runs them; ``cheetah`` costs the same
networks on SPU's unit costs (the ``protocol`` accounting: privmoe's method, not SPU's own sort, which is
``cheetah.topk_op`` and belongs to the ``paper`` accounting).
"""
from __future__ import annotations

import math

from .backend import CostBackend
from .cost import Cost


def pad_pow2(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(n))) if n > 1 else 1


def tournament(B: CostBackend, rows: int, width: int) -> Cost:
    """``primitives.tournament`` over a power-of-two ``width``: log2(width) levels; level l has
    p = rows * width / 2^(l+1) pairs: one comparison of p elements and one multiplexer multiplying the
    p bits by p x (2 + 2^(l+1)) elements (key and payload differences, both 2^l-wide one-hots).
    Each level is filed as step ``level{l}``."""
    total = Cost()
    for level in range(int(math.log2(width))):
        pairs = rows * width >> (level + 1)
        data = pairs * (2 + (2 << level))
        total = total + (B.less_than_zero(pairs) + B.mux_bits(pairs, data, data)).labelled(f"level{level}")
    return total


def bitonic(B: CostBackend, rows: int, width: int, payload: int) -> Cost:
    """``primitives.bitonic_sort``: s (s + 1)/2 stages (s = log2 width), each one comparison of
    rows * width/2 pairs and one multiplexer of those bits by rows * width/2 * (1 + payload) differences."""
    s = int(math.log2(width))
    pairs, data = rows * width // 2, rows * width // 2 * (1 + payload)
    return (B.less_than_zero(pairs) + B.mux_bits(pairs, data, data)) * (s * (s + 1) // 2)


def bitonic_top(B: CostBackend, rows: int, width: int, block: int, payload: int) -> Cost:
    """``primitives.bitonic_top``: ``blocks`` (``bitonic`` of rows w/b blocks of b), then per level l (step
    ``merge{l}``) with p = rows w / 2^(l+1) kept keys: one comparison of p and a multiplexer of those bits
    by p (1 + payload) differences (the select), and log2 b half-cleaner stages of p/2 pairs."""
    total = bitonic(B, rows * width // block, block, payload).labelled("blocks")
    sb = block.bit_length() - 1
    for level in range(int(math.log2(width // block))):
        kept = rows * width >> (level + 1)
        half = kept // 2
        select = B.less_than_zero(kept) + B.mux_bits(kept, kept * (1 + payload), kept * (1 + payload))
        stage = B.less_than_zero(half) + B.mux_bits(half, half * (1 + payload), half * (1 + payload))
        total = total + (select + stage * sb).labelled(f"merge{level}")
    return total


def rank_top(B: CostBackend, rows: int, length: int, t: int, sizes: tuple[int, ...], payload: int) -> Cost:
    """``primitives.rank_top``: per level l (step ``level{l}``) with G = ceil(n / g) groups of g = ``sizes[l]``
    per row: one comparison of rows G g (g - 1)/2 pairs, one equality of the rows G g t ranks against 0..t-1, and
    one multiplexer of those bits by the rows G g (1 + payload) keys and payload (rows G g t (1 + payload)
    products, summed locally); n becomes G t."""
    total, n = Cost(), length
    for level, g in enumerate(sizes):
        groups = rows * -(-n // g)
        bits, data = groups * g * t, groups * g * (1 + payload)
        total = total + (B.less_than_zero(groups * g * (g - 1) // 2) + B.equal_zero(bits)
                         + B.mux_bits(bits, data, bits * (1 + payload))).labelled(f"level{level}")
        n = -(-n // g) * t
    return total


def topk_core(B: CostBackend, rows: int, length: int, t: int, method: str = "tournament") -> Cost:
    """``tournament``: t tournaments over the padded width (steps ``iter{j}``; keys, indices and
    knock-outs are local). ``bitonic``: one sorting network (step ``sort``). ``merge``: the bitonic top-t
    merge (step ``top``). ``rank``: ``rank_top`` on ``topk.rank_plan``'s levels (step ``top``)."""
    if method == "rank":
        from protocols.mpc.topk import rank_plan

        return rank_top(B, rows, length, t, rank_plan(length, t), 2).labelled("top")
    if method == "bitonic":
        return bitonic(B, rows, pad_pow2(length), 2).labelled("sort")
    if method == "merge":
        width = pad_pow2(length)
        return bitonic_top(B, rows, width, min(pad_pow2(t), width), 2).labelled("top")
    one = tournament(B, rows, pad_pow2(length))
    return sum((one.labelled(f"iter{j}") for j in range(t)), Cost())


def topk_auto(B: CostBackend, rows: int, length: int, t: int, method: str = "auto") -> Cost:
    """``topk_labels``: the method ``protocols.mpc.topk.choose_method`` picks, ``topk_core`` of it."""
    from protocols.mpc.topk import choose_method

    return topk_core(B, rows, length, t, choose_method(length, t, method))


def pick_method(B: CostBackend, rows: int, length: int, t: int, network) -> str:
    """The network-aware public rule: the method whose cost on ``B`` (``topk_core``) has the least modelled
    latency (``simulators.network.latency``: rounds x RTT/2 + bytes / bandwidth) on ``network``; on a tie the
    order of ``topk.METHODS``. Public sizes and a public link only. On LAN the bytes decide (``merge`` at the
    models' sizes), on WAN the rounds (``rank``)."""
    from protocols.mpc.topk import METHODS
    from simulators.network import latency

    return min(METHODS[1:], key=lambda m: latency(topk_core(B, rows, length, t, m), network))


def topk_onehots(B: CostBackend, rows: int, length: int, t: int, method: str = "auto") -> Cost:
    """``topk.topk_onehots``: the method ``choose_onehot_method`` picks. ``tournament``: ``topk_core``'s t
    tournaments; ``rank`` (step ``rank``): one comparison of rows L (L - 1)/2 pairs, one equality of rows L t,
    one multiplexer of those bits by the rows L values (rows L t products)."""
    from protocols.mpc.topk import choose_onehot_method

    if choose_onehot_method(length, t, method) == "tournament":
        return topk_core(B, rows, length, t, "tournament")
    bits = rows * length * t
    return (B.less_than_zero(rows * length * (length - 1) // 2) + B.equal_zero(bits)
            + B.mux_bits(bits, rows * length, bits)).labelled("rank")


def pick_onehot_method(B: CostBackend, rows: int, length: int, t: int, network) -> str:
    """``pick_method`` for a top-t with one-hots (the gate's): the method of ``topk.ONEHOT_METHODS`` with the
    least modelled latency of ``topk_onehots`` on ``network``."""
    from protocols.mpc.topk import ONEHOT_METHODS
    from simulators.network import latency

    return min(ONEHOT_METHODS[1:], key=lambda m: latency(topk_onehots(B, rows, length, t, m), network))
