"""F_gate: the MoE router. ``G = softmax(x W_g)``, ``(W, K) = topk(G, k)`` per token.

Inputs: client ``x`` (m, d) with every token's L1 norm ``sum_i |x_ji| <= GATE_L1``; server ``w_g`` (d, E)
with ``|w| <= GATE_W``. So every logit lies in [-GATE_L1*GATE_W, GATE_L1*GATE_W]: the domain on which the
real protocol's exp and reciprocal approximations are accurate (see ``error_bound``).
Outputs (shared): ``K`` (m, k) int64 expert indices (scores descending, ties -> lower index) and ``W``
(m, k) the softmax scores at K (not renormalised). Leakage: m, d, E, k.

Intermediates exposed for teaching and checks: ``gate_logits`` and ``gate_scores``.
"""
from __future__ import annotations

import torch

from .errors import FixedPointRangeError
from .fixed_point import check_range, check_shape, quantize
from .topk import topk
from .validate import require_int, require_le

GATE_L1 = 32.0
GATE_W = 1.0
MAX_EXPERTS = 256


def validate(tokens: int, hidden: int, experts: int, top_k: int,
             x: torch.Tensor | None = None, w_g: torch.Tensor | None = None) -> None:
    require_int("tokens", tokens)
    require_int("hidden", hidden)
    require_int("experts", experts, lo=1, hi=MAX_EXPERTS)
    require_int("top_k", top_k)
    require_le("top_k", top_k, "experts", experts)
    if x is not None:
        check_shape("x", x, (tokens, hidden))
        check_range("x", x)
        worst = float(quantize(x).abs().sum(-1).max())
        if worst > GATE_L1:
            raise FixedPointRangeError(f"x: a token's L1 norm {worst:g} exceeds the gate's range {GATE_L1:g}")
    if w_g is not None:
        check_shape("w_g", w_g, (hidden, experts))
        check_range("w_g", w_g, GATE_W)


def gate_logits(x: torch.Tensor, w_g: torch.Tensor) -> torch.Tensor:
    """(m, d) x (d, E) -> (m, E) float64, on the quantised inputs."""
    return quantize(x) @ quantize(w_g)


def gate_scores(x: torch.Tensor, w_g: torch.Tensor) -> torch.Tensor:
    """softmax of the logits over the experts, (m, E)."""
    return torch.softmax(gate_logits(x, w_g), dim=-1)


def gate(x: torch.Tensor, w_g: torch.Tensor, top_k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """-> K (m, k) int64, W (m, k) float64."""
    validate(x.shape[0], x.shape[1], w_g.shape[-1], top_k, x, w_g)
    scores = gate_scores(x, w_g)
    w, k = torch.sort(scores, dim=-1, descending=True, stable=True)
    return k[:, :top_k], w[:, :top_k]


__all__ = ["gate", "gate_logits", "gate_scores", "validate", "topk", "GATE_L1", "GATE_W"]
