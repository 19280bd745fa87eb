"""Pi_moe, the CipherPrune-style layer (spec ``functionalities/moe.moe_layer``, semantics ``balanced``).

The baseline CryptoMoE compares with (CipherPrune, ICLR'25: token pruning by an oblivious compaction):
``gate`` -> ``dispatch`` (``protocols/mpc/cipherprune_dispatch``: priorities, the bubble compaction of
(score, token index, x row) keeping each expert's top t; its one-hot of token indices is not computed --
this combine does not need it) -> ``experts`` (SwiGLU on the E x t kept rows) -> ``combine``
(``protocols/mpc/cipherprune_combine``: scale by the kept scores, replay the swaps backwards).
``linear``: "shares" (Beaver products on shared weights) or "he" (the server's plaintext weights by BOLT
per expert -- CipherPrune's HE stack -- +- BSGS; ``moe_common.experts_step``).
Outputs y (m, d), K, W shared. Leakage: m, d, d_ff, E, k, t.
"""
from __future__ import annotations

from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .cipherprune_combine import combine
from .cipherprune_dispatch import dispatch_with_bits
from .gate import gate
from .moe_common import check_layer, check_linear, experts_step


def moe(x: MPCTensor, w_g: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor, top_k: int, capacity: int,
        linear: str = "shares", he=None, server_weights: dict | None = None, bsgs: bool = False,
        gate_topk: str = "auto"):
    """-> y (m, d), K (m, k), W (m, k) shared. ``linear="he"``: ``he`` = (HE backend class, HEParams),
    ``server_weights`` the server's plaintext U, V, D (None at the client). ``gate_topk``: the gate's top-k
    method (``topk.ONEHOT_METHODS``)."""
    check_layer(x, w_g, U, top_k, capacity, "balanced")
    check_linear(linear, he)
    tokens = x.shape[0]
    with step("gate"):
        K, W = gate(x, w_g, top_k, gate_topk)
    with step("dispatch"):
        X, _, S, bits = dispatch_with_bits(x, K, W, U.shape[0], capacity, with_onehot=False)
    with step("experts"):
        Y = experts_step(X, U, V, D, linear, he, server_weights, "bolt", bsgs)
    with step("combine"):
        y = combine(Y, S, bits, tokens, top_k)
    return y, K, W
