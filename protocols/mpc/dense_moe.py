"""Pi_moe, dense baseline (spec ``functionalities/moe.moe_layer``, semantics ``exact``).

Every expert runs on every token; unselected experts get weight 0, so nothing about the routing shows.
Steps: ``gate`` -> ``weights`` (G (m, E) = sum_i onehot(K_i) W_i: one multiplication of m k E by m k) ->
``experts`` (SwiGLU of all m tokens through all E experts, batched) -> ``combine``
(y = sum_e G[:, e] * out_e: one multiplication of E m d by E m, one truncation).
Cost: E/k times CryptoMoE's expert compute at t = k m / E. Outputs y, K, W (shared).
"""
from __future__ import annotations

from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .expert import expert_ffn
from .gate import gate_with_onehots
from .moe_common import check_layer


def moe(x: MPCTensor, w_g: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor, top_k: int):
    """-> y (m, d), K (m, k), W (m, k) shared."""
    check_layer(x, w_g, U, top_k, None, "exact")
    with step("gate"):
        K, W, onehots = gate_with_onehots(x, w_g, top_k)           # onehots (m, k, E)
    with step("weights"):
        G = (onehots * W.unsqueeze(-1)).sum(1)                     # (m, E)
    with step("experts"):
        out = expert_ffn(x, U, V, D)                               # (E, m, d)
    with step("combine"):
        y = (out * G.transpose(0, 1).unsqueeze(-1)).sum(0)
    return y, K, W
