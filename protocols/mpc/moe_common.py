"""What the MoE-layer protocols share: the checks of their public parameters."""
from __future__ import annotations

from functionalities.moe import validate


def check_layer(x, w_g, U, top_k: int, capacity: int | None, semantics: str) -> None:
    tokens, hidden = x.shape
    validate(tokens, hidden, U.shape[-1], U.shape[0], top_k, capacity, semantics)
