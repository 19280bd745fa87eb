"""Pi_moe, the RE-SHARED baseline of SecMoE (spec: ``moe[exact]``; entry ``reshared.moe``).

SecMoE's selection (``protocols/mpc/secmoe_moe.select``: binary one-hot, the B2A folded into one plaintext
product, a rotate-and-add tree) -- then, instead of computing on the selected weights encrypted as the paper
does (``secmoe.moe``), the server masks and answers them (HE -> shares) and the parties compute on shares:
1. ``gate``, ``onehot``, ``select`` as in ``secmoe.moe``; in ``select`` the server also masks every selected
   weight ciphertext (3 per (token, slot): U, V, D) with a fresh uniform mask mod t, conceals it
   (``protocols/he/flooding.py``) and answers; the client decrypts;
2. ``lift``  -- the residues mod t become Z_2^64 shares of the selected fixed-point weights (one batched
   comparison, ``protocols/he/lift.lift``);
3. ``ffn``   -- one SwiGLU per (token, slot) on the secret weights (``protocols/mpc/expert.py``), then
   ``combine``: y_j = sum_s W[j, s] out[j, s].
Every selected weight crosses the network: 3 m k d f values (about 607 GiB per layer at m = 128, d = 2048,
f = 1408): the reason SecMoE keeps them encrypted. Outputs y (m, d), K, W shared. Leakage: m, d, d_ff, E,
k and the HE parameters.
"""
from __future__ import annotations

import torch

from functionalities.fixed_point import FRAC_BITS
from protocols.crypten_shim import MPCTensor, current_party
from protocols.he import channel as he_channel
from protocols.he.interface import HEBackend, HEParams
from protocols.he.lift import lift
from protocols.he.to_shares import answer, first
from protocols.runtime import step

from .expert import expert_ffn
from .moe_common import check_layer
from .secmoe_moe import front, select, tree_steps
from .sharing import from_ring, ring, share_input


def moe(x: MPCTensor, w_g: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor, top_k: int,
        he: tuple[type[HEBackend], HEParams], server_weights: dict | None, gate_topk: str = "auto"):
    """-> y (m, d), K, W shared. ``he`` = (the HE backend class, its HEParams); ``server_weights``: the
    server's plaintext U, V, D (None on the client); ``gate_topk``: the gate's top-k method."""
    check_layer(x, w_g, U, top_k, None, "exact")
    party = current_party()
    tokens, hidden = x.shape
    experts, _, ffn = U.shape
    block = hidden * ffn
    backend_cls, params = he
    pairs = tokens * top_k
    K, W, bits = front(x, w_g, top_k, experts, gate_topk)
    with step("select"):
        end = he_channel.open(backend_cls, params, steps=tree_steps(experts, block, params.slots))
        t_mod = end.backend.plain_modulus
        sums = select(bits, end, server_weights, experts, block, pairs)
        rng = party.numpy_generator("secmoe", "answer masks") if party.rank == 1 else None
        mine = answer(end, sums, 3 * pairs, first(block), rng=rng)
    shape = (pairs * 3 * block,)
    with step("lift"):
        c_sh = share_input(torch.tensor(mine) if party.rank == 0 else None, 0, shape, integer=True)
        s_sh = share_input(torch.tensor(mine) if party.rank == 1 else None, 1, shape, integer=True)
        weights = lift(c_sh, s_sh, t_mod, precision=FRAC_BITS)
    sel = ring(weights).reshape(pairs, 3, block)
    U_sel = from_ring(sel[:, 0].reshape(pairs, hidden, ffn), precision=FRAC_BITS)
    V_sel = from_ring(sel[:, 1].reshape(pairs, hidden, ffn), precision=FRAC_BITS)
    D_sel = from_ring(sel[:, 2].reshape(pairs, ffn, hidden), precision=FRAC_BITS)
    with step("ffn"):
        xr = from_ring(ring(x).unsqueeze(1).expand(tokens, top_k, hidden).reshape(pairs, 1, hidden),
                       precision=FRAC_BITS)
        out = expert_ffn(xr, U_sel, V_sel, D_sel).reshape(tokens, top_k, hidden)
    with step("combine"):
        y = (out * W.unsqueeze(-1)).sum(1)
    return y, K, W
