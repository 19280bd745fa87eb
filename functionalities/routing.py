"""F_balanced_routing: CryptoMoE's balanced routing (``docs/protocols/cryptomoe_dispatch.md``).

Every expert processes exactly ``t`` (token, slot) candidates. Candidates are the k*m pairs, flattened
row-major: ``c = token * k + slot``. For expert e the priority of candidate c is ``S_e[c] = 1{K[c] = e} * W[c]``;
the expert keeps the top-t by priority (``selection="confidence"``; ties -> lower candidate index).
Unrouted candidates have priority 0 and only pad (they are kept when fewer than t are routed, and
contribute 0 because their kept score is 0). Routed candidates beyond t are **dropped** for that expert
(weights are not renormalised). ``selection="random"`` (the paper's ablation) keeps a seeded uniform
random choice among the routed candidates, then pads. A routed candidate whose score quantises to 0 has
priority 0 exactly like padding: it may lose to lower-indexed padding and then counts as dropped -- with
weight 0, so it changes neither the output nor the dropped mass (softmax scores are never 0 in practice).

Inputs: K (m, k) int64 expert indices (distinct per token), W (m, k) scores in [0, 1].
Outputs: ``Routing`` with J (E, t) candidate indices, T (E, t) = J // k token indices, S (E, t) kept scores
(0 on padding), routed (E, t) bool, and ``dropped`` (m, k) bool: the assignments no expert kept.
Leakage: m, k, E, t.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from .errors import FixedPointRangeError, PublicParameterError, ShapeError
from .fixed_point import check_range, check_shape, quantize
from .validate import require_int, require_le

SELECTIONS = ("confidence", "random")


def resolve_capacity(tokens: int, experts: int, top_k: int, capacity: int | None = None,
                     capacity_factor: float | None = None) -> int:
    """t: explicit, or ``floor(f * k * m / E)`` (the authors' code uses floor); 1 <= t <= k m."""
    require_int("tokens", tokens)
    require_int("experts", experts)
    require_int("top_k", top_k)
    require_le("top_k", top_k, "experts", experts)
    if capacity is None:
        if capacity_factor is None:
            raise PublicParameterError("give capacity or capacity_factor")
        if isinstance(capacity_factor, bool) or not isinstance(capacity_factor, (int, float)) or capacity_factor <= 0:
            raise PublicParameterError(f"capacity_factor must be a positive number, got {capacity_factor!r}")
        capacity = math.floor(capacity_factor * top_k * tokens / experts)
        if capacity < 1:
            raise PublicParameterError(
                f"capacity_factor={capacity_factor} gives t = floor(f k m / E) = {capacity} < 1")
    require_int("capacity", capacity)
    require_le("capacity", capacity, "top_k * tokens", top_k * tokens)
    return capacity


def validate_routing(tokens: int, top_k: int, experts: int, K: torch.Tensor | None, W: torch.Tensor | None) -> None:
    """K: (m, k) distinct experts per token in [0, E); W: (m, k) scores in [0, 1]."""
    if K is not None:
        check_shape("K", K, (tokens, top_k))
        if K.is_floating_point():
            raise ShapeError("K must be an integer tensor")
        if K.numel() and (int(K.min()) < 0 or int(K.max()) >= experts):
            raise FixedPointRangeError(f"K values must lie in [0, {experts})")
        if any(len(set(row.tolist())) != top_k for row in K):
            raise FixedPointRangeError("K must name k distinct experts per token")
    if W is not None:
        check_shape("W", W, (tokens, top_k))
        check_range("W", W, 1.0)
        if W.numel() and float(W.min()) < 0:
            raise FixedPointRangeError("W (gate scores) must be >= 0")


@dataclass
class Routing:
    """The result of balanced routing, per expert e and kept position i < t."""

    J: torch.Tensor        # (E, t) candidate index c = token * k + slot
    T: torch.Tensor        # (E, t) token index
    S: torch.Tensor        # (E, t) kept score (0 where padding)
    routed: torch.Tensor   # (E, t) bool: a real assignment, not padding
    dropped: torch.Tensor  # (m, k) bool: routed assignments no expert kept


def priorities(K: torch.Tensor, W: torch.Tensor, experts: int) -> torch.Tensor:
    """S (E, k m): ``S[e, c] = 1{K_flat[c] = e} * W_flat[c]`` on the quantised scores."""
    k_flat, w_flat = K.reshape(-1), quantize(W).reshape(-1)
    return (k_flat.unsqueeze(0) == torch.arange(experts).unsqueeze(1)).double() * w_flat


def balanced_routing(K: torch.Tensor, W: torch.Tensor, experts: int, capacity: int,
                     selection: str = "confidence", seed: int = 0) -> Routing:
    """Top-t candidates per expert by priority (module docstring)."""
    tokens, top_k = K.shape
    validate_routing(tokens, top_k, experts, K, W)
    require_le("capacity", capacity, "top_k * tokens", top_k * tokens)
    if selection not in SELECTIONS:
        raise PublicParameterError(f"selection must be one of {SELECTIONS}, got {selection!r}")
    S = priorities(K, W, experts)
    mask = (K.reshape(-1).unsqueeze(0) == torch.arange(experts).unsqueeze(1))
    if selection == "confidence":
        order_key = S
    else:  # random among routed candidates: a random priority in (1, 2) for routed, 0 otherwise
        g = torch.Generator().manual_seed(seed)
        order_key = mask.double() * (1.0 + torch.rand(S.shape, generator=g, dtype=torch.float64))
    _, J = torch.sort(order_key, dim=-1, descending=True, stable=True)
    J = J[:, :capacity]
    kept_scores = torch.gather(S, 1, J)
    routed = torch.gather(mask, 1, J)
    kept = torch.zeros(tokens * top_k, dtype=torch.bool)
    kept[J[routed]] = True
    return Routing(J, J // top_k, kept_scores * routed, routed, (~kept).reshape(tokens, top_k))
