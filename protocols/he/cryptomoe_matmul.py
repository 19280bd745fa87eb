"""Pi_matmul, CryptoMoE batch packing: the same column slice of ALL experts' rows in one ciphertext.

Rows e t^ + i (e < E, i < t^) stack every expert's padded block (E t^ padded to a power of two R), so a
ciphertext carries c = S / R columns of all experts at once; the plaintext diagonal of block j is
slot-wise different per row block (each row meets its own expert's weight), which costs nothing extra.
Against BOLT the inputs are shared by all experts: rotations n_in (c - 1) once instead of E times. With
BSGS the gain over BOLT + BSGS is at least about sqrt(E); at paper scale it is larger (22x at E = 64,
t = 32, d = 2048, N = 8192), since the batch has only c = 2 blocks and so almost nothing to rotate. The paper's toy (E = 2, t = 2, d_in = d_out = 4, 8 slots):
BOLT 6 rotations, batch 2 (tests/test_he.py).
"""
from __future__ import annotations

from protocols.he.matmul import he_matmul, party_matmul


def matmul(be, A, B, bsgs: bool = False, rng=0):
    """A (E, t, d_in), B (E, d_in, d_out) mod t -> HEMatmulRun (shares of A_e B_e); ``rng``: the server's
    mask generator or its seed."""
    return he_matmul(be, A, B, "batch", bsgs, rng)


def party(X, shape: tuple[int, int, int, int], bsgs: bool, backend_cls, params, compression: str = "none"):
    """The two-party protocol on the wire (``protocols/he/matmul.party_matmul``): the client passes A, the
    server B. -> this party's HeldMod share."""
    return party_matmul(X, shape, "batch", bsgs, backend_cls, params, compression)
