"""Pi_gelu, SecMoE (AAAI'26) Protocol 2: GeLU by six pieces, select then compute (entry ``secmoe.gelu``).

Input: x (n,) shared fixed point (the client's, ``|x| <= ACT_RANGE``). Output: y (n,) shared fixed point,
the six-piece function of ``functionalities/gelu.py`` (5 public breakpoints P0..P4, public coefficient
table A of 6 rows: [0, 0, 0], four quadratics, [0, 1, 0]). Leakage: n. Steps (:func:`gelu`):

1. ``compare``  -- [x < P_i] for the 5 breakpoints in ONE batched ``less_than_zero`` of the n x 5
   differences x - P_i: A2B (free), CrypTen's 64-bit adder (7 rounds), B2A of each sign bit (1 round):
   8 rounds, 27 words per comparison each way, 14 offline.
   Segment bits (local): the comparison bits are monotone, c_0 <= c_1 <= ... <= c_4 with c_i = [x < P_i],
   so the XOR of neighbours that the paper takes on binary shares is their DIFFERENCE on arithmetic shares:
   s_0 = c_0, s_i = c_i - c_{i-1} = c_{i-1} XOR c_i (i = 1..4), s_5 = 1 - c_4. No message.
   Coefficient row (local): a = s . A, one-hot (scale 1) times the PUBLIC table
   (``primitives.bits_times_public``): exact, no truncation, no message.
2. ``square``   -- x^2 (1 round, n words each way, n offline).
3. ``evaluate`` -- [a1, a2] * [x, x^2]: ONE Beaver product of 2n by 2n (1 round, 4n words each way, 2n
   offline), then y = a0 + a1 x + a2 x^2 locally.
Cost (``analysis/cost_models/moe.py: secmoe_gelu``): 10 rounds, 8 n (27 * 5 + 5) = 1120 n bytes each way,
8 n (14 * 5 + 3) = 584 n offline bytes.

The paper's literal form keeps the comparison bits BINARY (XOR shares), XORs neighbours, and fetches the
coefficient row with ONE masked product of the one-hot bits and the table: :func:`gelu_binary`, steps
``compare`` (A2B + adder, no B2A: 7 rounds, 26 words per comparison, 13 offline), ``select`` (one masked
opening of the 6 one-hot bits, s XOR r with the dealer's bit r shared both ways, then s = z + r - 2 z r
times the public table, locally: 1 round, 6 n words, 6 n offline), ``square``, ``evaluate``. Same 10 rounds,
but 141 n words each way and 74 n offline against 140 n and 73 n: on CrypTen the B2A inside each
comparison costs what a masked opening costs, and there are 5 comparisons but 6 segments. So the registered
protocol converts the 5 comparison bits, not the 6 segment bits. :func:`gelu_binary` is kept, measured and
checked in ``tests/test_gelu.py``.
"""
from __future__ import annotations

import torch

from functionalities.gelu import fit, validate
from protocols.crypten_shim import MPCTensor, Ptype, current_party
from protocols.runtime import step

from .primitives import bits_times_public, less_than_zero
from .sharing import from_ring, ring


def _one(like: torch.Tensor) -> torch.Tensor:
    """A public 1 as this party's share: party 0 holds it (arithmetic and XOR sharing alike)."""
    return torch.ones_like(like) if current_party().rank == 0 else torch.zeros_like(like)


def segments(x: MPCTensor) -> MPCTensor:
    """(n,) shared -> (n, 6) shared arithmetic one-hot of x's segment (step ``compare``; the rest is local)."""
    pw = fit()
    with step("compare"):
        c = ring(less_than_zero(x.unsqueeze(-1) - pw.breakpoints.float()))   # (n, 5): [x < P_i], scale 1
    # monotone bits: the XOR of neighbours is their difference
    return from_ring(torch.cat([c[:, :1], c[:, 1:] - c[:, :-1], _one(c[:, :1]) - c[:, -1:]], dim=-1))


def _evaluate(x: MPCTensor, a: MPCTensor) -> MPCTensor:
    """a0 + a1 x + a2 x^2 with the fetched (n, 3) coefficients: steps ``square`` and ``evaluate``."""
    with step("square"):
        x2 = x.square()
    with step("evaluate"):
        terms = MPCTensor.stack([a[:, 1], a[:, 2]]) * MPCTensor.stack([x, x2])
    return a[:, 0] + terms[0] + terms[1]


def gelu(x: MPCTensor) -> MPCTensor:
    """(n,) shared -> (n,) shared six-piece GeLU (SecMoE Protocol 2; module docstring)."""
    validate(x.shape[0])
    a = bits_times_public(segments(x), fit().rows)                    # (n, 3): public table, local
    return _evaluate(x, a)


def segments_binary(x: MPCTensor) -> torch.Tensor:
    """(n,) shared -> this party's XOR shares (0/1 int64, (n, 6)) of the segment one-hot: the comparison
    bits stay binary (step ``compare``: A2B and the adder, no B2A), neighbours are XORed locally."""
    pw = fit()
    with step("compare"):
        binary = (x.unsqueeze(-1) - pw.breakpoints.float())._to_ptype(Ptype.binary)
    c = (ring(binary) >> 63) & 1                                           # XOR share of [x < P_i]
    return torch.cat([c[:, :1], c[:, 1:] ^ c[:, :-1], c[:, -1:] ^ _one(c[:, :1])], dim=-1)


def gelu_binary(x: MPCTensor) -> MPCTensor:
    """(n,) shared -> (n,) shared: the paper's literal Protocol 2 (binary segment bits, ONE masked product
    for the coefficient row; module docstring). Same output as :func:`gelu` up to truncation."""
    validate(x.shape[0])
    s = segments_binary(x)
    with step("select"):
        bits = MPCTensor.from_shares(s, precision=0, ptype=Ptype.binary)
        onehot = bits._to_ptype(Ptype.arithmetic, precision=0, bits=1)   # open s XOR r: the masked product
        a = bits_times_public(from_ring(ring(onehot)), fit().rows)
    return _evaluate(x, a)
