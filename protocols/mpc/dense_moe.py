"""Pi_moe, dense baseline (spec ``functionalities/moe.moe_layer``, semantics ``exact``).

Every expert runs on every token; unselected experts get weight 0, so nothing about the routing shows.
Steps: ``gate`` -> ``weights`` (G (m, E) = sum_i onehot(K_i) W_i: one multiplication of m k E by m k) ->
``experts`` (SwiGLU of all m tokens through all E experts, batched) -> ``combine``
(y = sum_e G[:, e] * out_e: one multiplication of E m d by E m, one truncation).
Cost: E/k times CryptoMoE's expert compute at t = k m / E. Outputs y, K, W (shared).

``linear`` -- "shares" (Beaver products on shared weights) or "he" (the server's plaintext weights by BOLT:
``up`` is ONE product of the m tokens, encrypted once, with every expert's [U_e | V_e] side by side;
``down`` is BOLT per expert on its m rows; ``moe_common.experts_step``).
"""
from __future__ import annotations

from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .gate import gate_with_onehots
from .moe_common import check_layer, check_linear, experts_step


def moe(x: MPCTensor, w_g: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor, top_k: int,
        linear: str = "shares", he=None, server_weights: dict | None = None, bsgs: bool = False,
        gate_topk: str = "auto"):
    """-> y (m, d), K (m, k), W (m, k) shared. ``linear="he"``: ``he`` = (HE backend class, HEParams),
    ``server_weights`` the server's plaintext U, V, D (None at the client). ``gate_topk``: the gate's top-k
    method (``topk.ONEHOT_METHODS``)."""
    check_layer(x, w_g, U, top_k, None, "exact")
    check_linear(linear, he)
    with step("gate"):
        K, W, onehots = gate_with_onehots(x, w_g, top_k, gate_topk)   # onehots (m, k, E)
    with step("weights"):
        G = (onehots * W.unsqueeze(-1)).sum(1)                     # (m, E)
    with step("experts"):
        out = experts_step(x, U, V, D, linear, he, server_weights, "bolt", bsgs, shared_input=True)  # (E, m, d)
    with step("combine"):
        y = (out * G.transpose(0, 1).unsqueeze(-1)).sum(0)
    return y, K, W
