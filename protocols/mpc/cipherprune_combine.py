"""Pi_combine, CipherPrune-style: undo the dispatch's swaps (spec ``functionalities/combine.py``).

Inputs [y] (E, t, d), the dispatch's kept scores [S'] (E, t) and its swap bits.
1. ``scale``   -- y'_e = S'_e * y_e (E t d products, one truncation);
2. ``uncompact`` -- rows (E, k m, d) = [y'_e; 0] go back through the swap network in reverse with the
   stored bits (one multiplexer of E p by E p d per time step): row c now holds candidate c's output;
3. each token sums its k candidate rows over the experts (local).
Cost: the same number of multiplexers as the dispatch on d-wide rows, no comparisons; rounds
1 + (k m - 2 + min(t, k m - 1)). Error: one truncation (< 2 ULP) per scaled row, and a token sums at most
E k rows: < 2 E k ULP. Leakage: m, d, E, k, t.
"""
from __future__ import annotations

import torch

from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .sharing import from_ring, ring
from .swap_network import reverse


def combine(y: MPCTensor, scores: MPCTensor, bits: list, tokens: int, top_k: int) -> MPCTensor:
    """-> (m, d) shared."""
    experts, capacity, hidden = y.shape
    n = tokens * top_k
    with step("scale"):
        ys = y * scores.unsqueeze(-1)
    with step("uncompact"):
        rows = torch.cat([ring(ys), torch.zeros(experts, n - capacity, hidden, dtype=torch.long)], dim=1)
        back = reverse(from_ring(rows), bits, n, capacity)
    out = ring(back).reshape(experts, tokens, top_k, hidden).sum(dim=(0, 2))
    return from_ring(out, precision=16)


def route_and_combine(x: MPCTensor, K: MPCTensor, W: MPCTensor, y: MPCTensor, experts: int, capacity: int) -> MPCTensor:
    """The dispatch (step ``dispatch``: it produces the swap bits) then the combine (step ``combine``)."""
    from .cipherprune_dispatch import dispatch_with_bits

    tokens, top_k = K.shape
    with step("dispatch"):
        _, _, scores, bits = dispatch_with_bits(x, K, W, experts, capacity)
    with step("combine"):
        return combine(y, scores, bits, tokens, top_k)
