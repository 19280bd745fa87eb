"""Pi_moe, CryptoMoE end to end (spec ``functionalities/moe.moe_layer``, semantics ``balanced``).

Steps: ``gate`` (protocols/mpc/gate.py) -> ``dispatch`` (CryptoMoE Algorithm 1) -> ``experts`` (SwiGLU on
the E x t dispatched rows, batched over experts) -> ``combine`` (Algorithm 2). Every expert processes
exactly t rows whatever the routing, so the transcript depends on (m, d, d_ff, E, k, t) only.
Outputs y (m, d) and the routing (K, W), all shared. Expert compute: E t rows instead of dense's E m.

``linear`` -- how the experts' linears run (``moe_common.experts_step``): "shares" (Beaver products, the
weights secret-shared) or "he" (the paper's hybrid stack: the server's plaintext weights, CryptoMoE's HE
batch matmul on all E t dispatched rows, +- BSGS; shares -> HE and HE -> shares steps ``to_he``,
``answer``, ``lift`` inside ``up`` and ``down``; the nonlinearities on CrypTen).
"""
from __future__ import annotations

from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .cryptomoe_combine import combine
from .cryptomoe_dispatch import dispatch
from .gate import gate
from .moe_common import check_layer, check_linear, experts_step


def moe(x: MPCTensor, w_g: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor, top_k: int, capacity: int,
        linear: str = "shares", he=None, server_weights: dict | None = None, bsgs: bool = False,
        topk: str = "auto", gate_topk: str = "auto"):
    """-> y (m, d), K (m, k), W (m, k) shared. ``topk``: the dispatch's top-t method (``topk.METHODS``);
    ``gate_topk``: the gate's top-k method (``topk.ONEHOT_METHODS``).
    ``linear="he"``: ``he`` = (HE backend class, HEParams), ``server_weights`` the server's plaintext U, V, D
    (None at the client)."""
    check_layer(x, w_g, U, top_k, capacity, "balanced")
    check_linear(linear, he)
    with step("gate"):
        K, W = gate(x, w_g, top_k, gate_topk)
    with step("dispatch"):
        X, O, S = dispatch(x, K, W, U.shape[0], capacity, topk)
    with step("experts"):
        Y = experts_step(X, U, V, D, linear, he, server_weights, "batch", bsgs)
    with step("combine"):
        y = combine(Y, O, S)
    return y, K, W
