"""Pi_moe, CryptoMoE end to end (spec ``functionalities/moe.moe_layer``, semantics ``balanced``).

Steps: ``gate`` (protocols/mpc/gate.py) -> ``dispatch`` (CryptoMoE Algorithm 1) -> ``experts`` (SwiGLU on
the E x t dispatched rows, batched over experts) -> ``combine`` (Algorithm 2). Every expert processes
exactly t rows whatever the routing, so the transcript depends on (m, d, d_ff, E, k, t) only.
Outputs y (m, d) and the routing (K, W), all shared. Expert compute: E t rows instead of dense's E m.
"""
from __future__ import annotations

from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .cryptomoe_combine import combine
from .cryptomoe_dispatch import dispatch
from .expert import expert_ffn
from .gate import gate
from .moe_common import check_layer


def moe(x: MPCTensor, w_g: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor, top_k: int, capacity: int):
    """-> y (m, d), K (m, k), W (m, k) shared."""
    check_layer(x, w_g, U, top_k, capacity, "balanced")
    with step("gate"):
        K, W = gate(x, w_g, top_k)
    with step("dispatch"):
        X, O, S = dispatch(x, K, W, U.shape[0], capacity)
    with step("experts"):
        Y = expert_ffn(X, U, V, D)
    with step("combine"):
        y = combine(Y, O, S)
    return y, K, W
