"""``ciphergpt.matmul``: a cost model only (no implementation) of CipherGPT's VOLE-based matmul.

Source: Hou et al., "CipherGPT: Secure Two-Party GPT Inference", ePrint 2023/1147 -- a secure matrix
multiplication built on (subfield) VOLE, customised for GPT, where the weight matrix is reused for
every generated token, so the weight-dependent correlation is paid once and amortised.

privmoe's STRUCTURAL model (the elements the protocol has to move; constants are ours, not the paper's,
which we could not check against a stored copy -- treat the numbers as an order of magnitude):
per expert e with t rows, d_in x d_out weights, ring elements of ``ring_bits``:
* weight-keyed correlations: d_in d_out elements (the server's W acts as the VOLE key; in GPT decoding
  this is amortised over tokens, in MoE every expert has its own W and sees one batch, so nothing amortises);
* online: the client's masked input, t d_in elements, and the output re-sharing, t d_out elements.
bytes = E (d_in d_out + t d_in + t d_out) ring_bits / 8, 2 rounds, no HE rotations.
"""
from __future__ import annotations

from .cost import Cost


def matmul(experts: int, capacity: int, d_in: int, d_out: int, ring_bits: int = 64) -> Cost:
    """The structural model of the module docstring (client -> server: correlations + masked input;
    server -> client: output shares)."""
    b = ring_bits // 8
    c2s = experts * (d_in * d_out + capacity * d_in) * b
    s2c = experts * capacity * d_out * b
    return Cost(rounds=2, bytes_client_to_server=c2s, bytes_server_to_client=s2c)
