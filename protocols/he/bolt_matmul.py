"""Pi_matmul, BOLT (S&P'24) column packing: each expert separately.

Expert e's encrypted A_e (t x d_in; t padded to t^ = 2^ceil(log2 t) rows) is column-packed, c = S / t^
columns per ciphertext, and multiplied by its plaintext B_e with the block-diagonal method; with
``bsgs`` the rotations split into baby steps on the inputs and giant steps on the outputs.
Per expert: n_in = ceil(d_in / c) inputs, n_out = ceil(d_out / c) outputs; rotations (plain)
n_in (c - 1) at full width. Uses row rotations only (see protocols/he/interface.py).
"""
from __future__ import annotations

from protocols.he.matmul import he_matmul, party_matmul


def matmul(be, A, B, bsgs: bool = False, rng=0):
    """A (E, t, d_in), B (E, d_in, d_out) mod t -> HEMatmulRun (shares of A_e B_e); ``rng``: the server's
    mask generator or its seed."""
    return he_matmul(be, A, B, "bolt", bsgs, rng)


def party(X, shape: tuple[int, int, int, int], bsgs: bool, backend_cls, params, compression: str = "none"):
    """The two-party protocol on the wire (``protocols/he/matmul.party_matmul``): the client passes A, the
    server B. -> this party's HeldMod share."""
    return party_matmul(X, shape, "bolt", bsgs, backend_cls, params, compression)
