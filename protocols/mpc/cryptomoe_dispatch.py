"""Pi_dispatch, CryptoMoE (NeurIPS'25, Algorithm 1); spec ``functionalities/dispatch.py``.

All experts at once, inputs [x] (m, d), [K], [W] (m, k), candidates flattened c = token * k + slot:
1. ``equal``  -- M[e, c] = [K[c] == e]                        E k m equalities
2. ``mux``    -- S[e, c] = M[e, c] W[c]                         E k m multiplications
3. ``topk``   -- (S'_e, J_e) = top-t of S_e                    t tournaments over k m (ties -> lower c)
4. ``divide`` -- T_e = J_e // k: free here, because the tournament yields each winner's one-hot over the
                 candidates, and ``T = sum_c (c // k) onehot_c`` is a public linear map
5. ``onehot`` -- O_e = onehot(T_e, m)                          E t m equalities
6. ``dispatch_matmul`` -- X_e = O_e x, one Beaver matmul batched over the experts (O is an integer: no
                 truncation, so X is exact).
Outputs X (E, t, d), O (E, t, m), S' (E, t), all shared; nothing is opened. Leakage: m, d, E, k, t.
Communication O(E k m log(k m) t + E t m) besides the one matmul, whose cost is O(E t m + m d).
"""
from __future__ import annotations

import torch

from functionalities.dispatch import validate
from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .routing import priorities, token_onehot
from .sharing import from_ring, ring
from .topk import topk_with_onehots


def dispatch(x: MPCTensor, K: MPCTensor, W: MPCTensor, experts: int, capacity: int):
    """-> X (E, t, d) fixed point, O (E, t, m) bits, S' (E, t) fixed point."""
    tokens, hidden = x.shape
    top_k = K.shape[1]
    validate(tokens, hidden, experts, top_k, capacity)
    S = priorities(K, W, experts)
    with step("topk"):
        scores, _, cand = topk_with_onehots(S, capacity)           # (E, t), _, (E, t, k m)
    with step("divide"):
        token_of = torch.arange(tokens * top_k, dtype=torch.long) // top_k
        T = from_ring((ring(cand) * token_of).sum(-1))
    O = token_onehot(T, tokens)
    with step("dispatch_matmul"):
        X = O.matmul(x)
    return X, O, scores
