"""The expert FFN on shares: SwiGLU ``(silu(x U) * (x V)) D`` (spec: ``functionalities/moe.expert_ffn``).

Batched over experts: x (E, n, d) or (n, d) for every expert, U, V (E, d, f), D (E, f, d).
1. ``up``   -- ``x [U | V]``: ONE Beaver matmul for both projections (1 round);
2. ``silu`` -- CrypTen's sigmoid (the "reciprocal" method: ltz, sign multiply, exp, 3 Newton-Raphson
   iterations from 0.75, where: 23 rounds), times h (1 round);
3. ``gate_mul`` -- silu(xU) * (xV) (1 round);  4. ``down`` -- @ D (1 round).   27 rounds in all.
``expert_ffn_he``: the same SwiGLU with the server's PLAINTEXT weights, ``up`` and ``down`` through HE
(``protocols/he/hybrid_linear.py``); ``silu_gate`` (steps ``silu``, ``gate_mul``) is shared by both and by
SecMoE.
"""
from __future__ import annotations

import torch

from protocols.crypten_shim import MPCTensor, crypten
from protocols.runtime import step


def expert_ffn(x: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor) -> MPCTensor:
    """-> (E, n, d) shared."""
    ffn = U.shape[-1]
    with step("up"):
        h = x.matmul(crypten.cat([U, V], dim=-1))
    p = silu_gate(h, ffn)
    with step("down"):
        return p.matmul(D)


def silu_gate(h: MPCTensor, ffn: int) -> MPCTensor:
    """Steps ``silu`` and ``gate_mul``: h = [h1 | h2] (..., 2f) -> silu(h1) * h2 (..., f)."""
    h1, h2 = h[..., :ffn], h[..., ffn:]
    with step("silu"):
        s = h1 * h1.sigmoid()
    with step("gate_mul"):
        return s * h2


def he_layouts(experts: int, rows: int, hidden: int, ffn: int, slots: int, packing: str,
               shared_input: bool = False) -> tuple[list, list]:
    """The layouts of :func:`expert_ffn_he`'s two products (``protocols/he/hybrid_linear.plan``): ``up``
    (one group of all experts' columns side by side with ``shared_input``) and ``down``; public."""
    from protocols.he.hybrid_linear import plan

    up = (plan(1, rows, hidden, 2 * ffn * experts, packing, slots) if shared_input
          else plan(experts, rows, hidden, 2 * ffn, packing, slots))
    return up, plan(experts, rows, ffn, hidden, packing, slots)


def he_steps(experts: int, rows: int, hidden: int, ffn: int, slots: int, packing: str, bsgs: bool,
             shared_input: bool = False) -> set[int]:
    """The rotation steps (Galois keys) of both products: what the HE link is opened with."""
    from protocols.he.hybrid_linear import steps

    up, down = he_layouts(experts, rows, hidden, ffn, slots, packing, shared_input)
    return steps(up, bsgs) | steps(down, bsgs)


def expert_ffn_he(x: MPCTensor, weights: dict | None, experts: int, ffn: int, end, packing: str, bsgs: bool,
                  rng, shared_input: bool = False) -> MPCTensor:
    """The same SwiGLU with the server's weights in PLAINTEXT and its two linears by HE
    (``protocols/he/hybrid_linear.py``): x (E, n, d) shared, or (n, d) -- the same rows for every expert --
    with ``shared_input``; ``weights``: the server's U, V (E, d, f), D (E, f, d) floats (None at the
    client: E and f are public); ``end``: the run's HE link (opened with :func:`he_steps`); ``rng``: the
    server's answer masks (None at the client).
    1. ``up``  -- x [U | V] by HE: per expert one product to 2f columns; with ``shared_input`` ONE product of
       the n rows with all experts' [U_e | V_e] side by side (d_out = 2 f E: the input is encrypted once);
    2. ``silu``, ``gate_mul`` on shares (CrypTen, as :func:`expert_ffn`);
    3. ``down`` -- g D by HE, per expert (its own rows).   -> (E, n, d) shared."""
    from protocols.he.hybrid_linear import linear

    hidden = x.shape[-1]
    with step("up"):
        if shared_input:
            w = None if weights is None else \
                torch.cat([weights["U"], weights["V"]], -1).permute(1, 0, 2).reshape(1, hidden, -1)
            h = linear(x.unsqueeze(0), w, 2 * ffn * experts, end, packing, bsgs, rng)
            h = h.reshape(x.shape[0], experts, 2 * ffn).transpose(0, 1)
        else:
            w = None if weights is None else torch.cat([weights["U"], weights["V"]], -1)
            h = linear(x, w, 2 * ffn, end, packing, bsgs, rng)
    p = silu_gate(h, ffn)
    with step("down"):
        return linear(p, None if weights is None else weights["D"], hidden, end, packing, bsgs, rng)
