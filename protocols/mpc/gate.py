"""Pi_gate: the MoE router on shares (spec: ``functionalities/gate.py``).

1. ``logits``  -- ``x W_g``: one Beaver matmul (client's x and server's W_g both shared), local truncation.
2. ``topk``    -- top-k of the LOGITS (softmax is monotone, so the experts are the same, and comparing
   exact fixed-point logits avoids comparing approximate probabilities): ``topk.topk_onehots`` -- t
   tournaments (``auto`` at every size: fewest comparisons) or one level of ranking (16 rounds; the
   analysis layer's network rule picks it on WAN).
3. ``softmax`` -- max = the first top-k value (free); ``e = exp(l - max)`` (CrypTen: (1 + y/2^8)^(2^8),
   8 squarings); ``s = sum e``; ``1/s`` (CrypTen Newton-Raphson: initial 3 exp(1-2s)+0.003, 10 iterations,
   inputs known positive); ``G = e / s`` (one multiplication).
4. ``select``  -- ``W = sum_e onehot_e * G_e``: one multiplication (one-hots are integers: no truncation).

Outputs: K (m, k) shared integers, W (m, k) shared fixed point. Leakage: m, d, E, k.
Error: see ``analysis.registry`` entry ``gate`` (logits within 2 ulp; scores within the stated bound).
"""
from __future__ import annotations

from functionalities.gate import validate
from protocols.crypten_shim import MPCTensor, cfg
from protocols.runtime import step

from .sharing import trace
from .topk import choose_onehot_method, topk_onehots


def softmax(logits: MPCTensor, maximum: MPCTensor) -> MPCTensor:
    """Softmax along the last axis given the row maxima (m,): CrypTen's exp and reciprocal."""
    e = (logits - maximum.unsqueeze(-1)).exp()
    with cfg.temp_override({"functions.reciprocal_all_pos": True}):
        inv = e.sum(-1, keepdim=True).reciprocal()
    return e * inv


def gate(x: MPCTensor, w_g: MPCTensor, top_k: int, method: str = "auto") -> tuple[MPCTensor, MPCTensor]:
    """x (m, d), W_g (d, E) shared -> K (m, k) shared ints, W (m, k) shared fixed point. ``method``: the
    top-k's (``topk.ONEHOT_METHODS``: tournaments, or one level of ranking)."""
    indices, weights, _ = gate_with_onehots(x, w_g, top_k, method)
    return indices, weights


def gate_with_onehots(x: MPCTensor, w_g: MPCTensor, top_k: int,
                      method: str = "auto") -> tuple[MPCTensor, MPCTensor, MPCTensor]:
    """As ``gate``, plus the chosen experts' one-hots (m, k, E) (free by-products of the top-k)."""
    tokens, hidden = x.shape
    validate(tokens, hidden, w_g.shape[-1], top_k)
    choose_onehot_method(w_g.shape[-1], top_k, method)             # a method of ONEHOT_METHODS, else refused
    with step("logits"):
        logits = trace("logits", x.matmul(w_g))
    with step("topk"):
        values, indices, onehots = topk_onehots(logits, top_k, method)
    trace("K", indices)
    with step("softmax"):
        scores = trace("G", softmax(logits, values[:, 0]))
    with step("select"):
        weights = (onehots * scores.unsqueeze(1)).sum(-1)
    return indices, weights, onehots
