"""The expert FFN on shares: SwiGLU ``(silu(x U) * (x V)) D`` (spec: ``functionalities/moe.expert_ffn``).

Batched over experts: x (E, n, d) or (n, d) for every expert, U, V (E, d, f), D (E, f, d).
1. ``up``   -- ``x [U | V]``: ONE Beaver matmul for both projections (1 round);
2. ``silu`` -- CrypTen's sigmoid (the "reciprocal" method: ltz, sign multiply, exp, 3 Newton-Raphson
   iterations from 0.75, where: 23 rounds), times h (1 round);
3. ``gate_mul`` -- silu(xU) * (xV) (1 round);  4. ``down`` -- @ D (1 round).   27 rounds in all.
"""
from __future__ import annotations

from protocols.crypten_shim import MPCTensor, crypten
from protocols.runtime import step


def expert_ffn(x: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor) -> MPCTensor:
    """-> (E, n, d) shared."""
    ffn = U.shape[-1]
    with step("up"):
        h = x.matmul(crypten.cat([U, V], dim=-1))
    h1, h2 = h[..., :ffn], h[..., ffn:]
    with step("silu"):
        s = h1 * h1.sigmoid()
    with step("gate_mul"):
        p = s * h2
    with step("down"):
        return p.matmul(D)
