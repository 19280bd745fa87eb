"""Pi_dispatch, CryptoMoE (NeurIPS'25, Algorithm 1); spec ``functionalities/dispatch.py``.

All experts at once, inputs [x] (m, d), [K], [W] (m, k), candidates flattened c = token * k + slot:
1. ``equal``  -- M[e, c] = [K[c] == e]                        E k m equalities
2. ``mux``    -- S[e, c] = M[e, c] W[c]                         E k m multiplications
3. ``topk``   -- (S'_e, J_e) = top-t of S_e (ties -> lower c), by tournaments, a bitonic network or the
                 bitonic top-t merge (``topk.choose_method``: the fewest comparisons)
4. //k        -- T_e = J_e // k is free: c // k is a public function of the candidate's position, so it
                 is the *label* the top-t returns (a public linear map of the tournament's one-hot, or a
                 payload column of the networks)
5. ``onehot`` -- O_e = onehot(T_e, m)                          E t m equalities
6. ``dispatch_matmul`` -- X_e = O_e x, one Beaver matmul batched over the experts (O is an integer: no
                 truncation, so X is exact).
Outputs X (E, t, d), O (E, t, m), S' (E, t), all shared; nothing is opened. Leakage: m, d, E, k, t.
Communication O(E k m log(k m) min(t, log(k m)) + E t m) besides the one matmul, O(E t m + m d).
"""
from __future__ import annotations

import torch

from functionalities.dispatch import validate
from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .routing import priorities, token_onehot
from .sharing import trace
from .topk import topk_labels


def dispatch(x: MPCTensor, K: MPCTensor, W: MPCTensor, experts: int, capacity: int, method: str = "auto"):
    """-> X (E, t, d) fixed point, O (E, t, m) bits, S' (E, t) fixed point."""
    tokens, hidden = x.shape
    top_k = K.shape[1]
    validate(tokens, hidden, experts, top_k, capacity)
    S = trace("S", priorities(K, W, experts))
    with step("topk"):
        token_of = torch.arange(tokens * top_k, dtype=torch.long) // top_k
        scores, T = topk_labels(S, capacity, token_of, method)       # (E, t), (E, t) token indices
    trace("S'", scores)
    trace("T", T)
    O = trace("O", token_onehot(T, tokens))
    with step("dispatch_matmul"):
        X = trace("X", O.matmul(x))
    return X, O, scores
