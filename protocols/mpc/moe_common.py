"""What the MoE-layer protocols share: the checks of their public parameters, and the expert step on
either stack (``linear``: "shares" -- Beaver products with the weights secret-shared -- or "he" -- the
server's plaintext weights through ``protocols/he/hybrid_linear.py``)."""
from __future__ import annotations

from functionalities.errors import PublicParameterError
from functionalities.moe import validate
from protocols.crypten_shim import MPCTensor, current_party

LINEARS = ("shares", "he")


def check_layer(x, w_g, U, top_k: int, capacity: int | None, semantics: str) -> None:
    tokens, hidden = x.shape
    validate(tokens, hidden, U.shape[-1], U.shape[0], top_k, capacity, semantics)


def check_linear(linear: str, he) -> None:
    """``linear`` is one of ``LINEARS``; "he" needs ``he`` = (backend class, HEParams)."""
    if linear not in LINEARS:
        raise PublicParameterError(f"linear must be one of {LINEARS}, got {linear!r}")
    if linear == "he" and he is None:
        raise PublicParameterError("linear = he needs the HE backend and parameters")


def experts_step(X: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor, linear: str, he=None,
                 server_weights: dict | None = None, packing: str = "batch", bsgs: bool = False,
                 shared_input: bool = False) -> MPCTensor:
    """SwiGLU of every expert on its rows X (E, n, d) (or the same (n, d) for all with ``shared_input``)
    -> (E, n, d) shared. ``linear="shares"``: ``expert.expert_ffn`` on the shared U, V, D; ``"he"``: the
    client opens the run's HE link (``he`` = (backend class, HEParams); its Galois keys are the two
    products' steps: phase ``keys``), then ``expert.expert_ffn_he`` with the server's plaintext
    ``server_weights`` (``packing``, ``bsgs``: the products' packing)."""
    from protocols.he import channel
    from protocols.he.hybrid_linear import check_ranges

    from .expert import expert_ffn, expert_ffn_he, he_steps

    if linear == "shares":
        return expert_ffn(X, U, V, D)
    backend_cls, params = he
    experts, hidden, ffn = U.shape
    rows = X.shape[-2]
    check_ranges(hidden, ffn, params)
    end = channel.open(backend_cls, params,
                       steps=he_steps(experts, rows, hidden, ffn, params.slots, packing, bsgs, shared_input))
    party = current_party()
    rng = party.numpy_generator("hybrid", "answer masks") if party.rank == 1 else None
    return expert_ffn_he(X, server_weights if party.rank == 1 else None, experts, ffn, end, packing, bsgs, rng,
                         shared_input)
