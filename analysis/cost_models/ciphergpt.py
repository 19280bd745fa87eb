"""``ciphergpt.matmul``: a cost model only (no implementation) of CipherGPT's VOLE-based matmul.

Source: Hou, Liu, Li, Li, Lu, Hong and Ren, "CipherGPT: Secure Two-Party GPT Inference", IACR ePrint
2023/1147, section 4 (secure matrix multiplication). CipherGPT multiplies the client's activations by the
server's weights with vector oblivious linear evaluation (VOLE): a server weight acts as the VOLE key,
the client's values as the VOLE input, and each scalar product ``x_{r,i} w_{i,j}`` consumes one VOLE
correlation. In GPT decoding the correlations for every token are generated up front by *silent*
(LPN-based) VOLE, whose communication is sublinear in the number of correlations: that amortisation is
CipherGPT's win.

In an MoE layer nothing amortises: each expert's weights meet only its own t tokens (t = 32 in the
CryptoMoE comparison), so every weight's VOLE instance is t long, far shorter than the hundreds of
thousands of correlations an LPN instance needs before its set-up pays off. privmoe's structural model
therefore charges every correlation as one ring element that travels, plus the masked input and the
output shares. Per expert with t rows and d_in x d_out weights, in elements of ``ring_bits``:

* correlations: t d_in d_out (one per scalar product), client -> server;
* the client's masked input: t d_in, client -> server;
* the output re-sharing: t d_out, server -> client;  2 rounds, no HE rotations.

At the CryptoMoE authors' comparison (E = 64, t = 32, d_in = d_out = 2048) this is 68.8 GB against the
published 106.5 GB: the published figure is 99 bits per scalar product where the model charges 64; the
other 1.55x (a larger VOLE field, or correlation overhead) cannot be derived from a source privmoe holds,
and ``privmoe reproduce`` says so beside the number.
"""
from __future__ import annotations

from .cost import Cost


def matmul(experts: int, capacity: int, d_in: int, d_out: int, ring_bits: int = 64) -> Cost:
    """The structural model of the module docstring (client -> server: correlations + masked input;
    server -> client: output shares)."""
    for name, v in (("experts", experts), ("capacity", capacity), ("d_in", d_in), ("d_out", d_out)):
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}")
    b = ring_bits // 8
    c2s = experts * (capacity * d_in * d_out + capacity * d_in) * b
    s2c = experts * capacity * d_out * b
    return Cost(rounds=2, bytes_client_to_server=c2s, bytes_server_to_client=s2c)
