"""Pi_lift: from HE -> shares mod t (``protocols/he/matmul``) to CrypTen's Z_2^64 shares.

The client holds c, the server s, both in [0, t), with c + s = v (mod t) for a value v with |v| < t/2
(the fixed-point range). Sharing c and s as integers is free (PRZS); u = c + s lies in [0, 2t) exactly,
and  v = u - t ([u >= t/2] + [u >= 3t/2])  -- ONE vectorised comparison of 2n elements (8 rounds): u
below t/2 is v itself, between t/2 and 3t/2 it wrapped once, above 3t/2 it is a negative v plus 2t.
The result is an integer (scale 1) MPCTensor; values that were fixed-point encoded at scale 2^f keep
that meaning (``precision=f``).
"""
from __future__ import annotations

import torch

from protocols.crypten_shim import MPCTensor
from protocols.mpc.primitives import less_than_zero
from protocols.mpc.sharing import from_ring, ring
from protocols.runtime import step


def lift(c: MPCTensor, s: MPCTensor, modulus: int, precision: int = 0) -> MPCTensor:
    """c, s (n,) integer shares of residues mod t -> the centred value v as Z_2^64 shares."""
    with step("lift"):
        u = c + s
        thresholds = torch.tensor([(modulus + 1) // 2, (3 * modulus + 1) // 2], dtype=torch.long)
        below = less_than_zero(u.unsqueeze(0) - thresholds.unsqueeze(1))      # (2, n): [u < threshold]
        wraps = 2 - below.sum(0)                                              # [u >= t/2] + [u >= 3t/2]
        return from_ring(ring(u) - ring(wraps) * modulus, precision=precision)
