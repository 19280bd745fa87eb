"""Pi_dispatch, CipherPrune-style (the baseline CryptoMoE beats); spec ``functionalities/dispatch.py``.

CipherPrune (ICLR'25) removes tokens by oblivious swaps: a comparison decides and a multiplexer swaps
whole embeddings, so the kept tokens float to the front. Adapted to MoE with *score binding* (each
score travels with its token):
1. ``equal``, ``mux``  -- the same priorities S (E, k m) as CryptoMoE (``routing.priorities``);
2. ``compact``         -- per expert, the k m candidate rows ``(score, token index, x_token)`` (the token
   index c // k and x's row are public positions: gathered locally) go through the pipelined
   compare-and-swap network of ``swap_network`` that brings the top t to the front, stably;
3. ``onehot``          -- O_e = onehot(T_e, m) from the carried token indices (to realise the same
   functionality as CryptoMoE: X, O, S').
Outputs X (E, t, d), O (E, t, m), S' (E, t) and the swap bits (for the combine). Exact (no truncation).
Cost: sum_{i < P} (k m - 1 - i) ~ t k m compare-and-swaps per expert (P = min(t, k m - 1) passes), each
moving d + 2 elements: O(E k m t d) communication, 9 (k m - 2 + P) rounds for the network.
Leakage: m, d, E, k, t.
"""
from __future__ import annotations

import torch

from functionalities.dispatch import validate
from protocols.crypten_shim import MPCTensor, current_party
from protocols.runtime import step

from .routing import priorities, token_onehot
from .sharing import from_ring, ring
from .swap_network import forward


def dispatch_with_bits(x: MPCTensor, K: MPCTensor, W: MPCTensor, experts: int, capacity: int,
                       with_onehot: bool = True):
    """-> X (E, t, d), O (E, t, m), S' (E, t), swap bits (list, one (E, p) bit tensor per time step).
    ``with_onehot=False``: O is not computed (None): a layer whose combine replays the swaps needs none."""
    tokens, hidden = x.shape
    top_k = K.shape[1]
    validate(tokens, hidden, experts, top_k, capacity)
    S = priorities(K, W, experts)
    n = tokens * top_k
    token_of = torch.arange(n, dtype=torch.long) // top_k
    with step("compact"):
        index_col = token_of if current_party().rank == 0 else torch.zeros_like(token_of)
        rows = torch.cat([index_col.unsqueeze(-1), ring(x)[token_of]], dim=-1)       # (n, 1 + d)
        payload = from_ring(rows.unsqueeze(0).expand(experts, n, 1 + hidden).clone())
        keys, moved, bits = forward(S, payload, capacity)
    scores = from_ring(ring(keys)[:, :capacity], precision=16)
    T = from_ring(ring(moved)[:, :capacity, 0])
    X = from_ring(ring(moved)[:, :capacity, 1:], precision=16)
    O = token_onehot(T, tokens) if with_onehot else None
    return X, O, scores, bits


def dispatch(x: MPCTensor, K: MPCTensor, W: MPCTensor, experts: int, capacity: int):
    """-> X (E, t, d), O (E, t, m), S' (E, t): the dispatch functionality."""
    X, O, scores, _ = dispatch_with_bits(x, K, W, experts, capacity)
    return X, O, scores
