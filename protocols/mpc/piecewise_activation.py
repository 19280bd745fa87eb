"""Pi_activation, the evaluate-all baseline (entry ``piecewise.activation``), and the segment step it
shares with SecMoE's select-then-compute (``protocols/mpc/secmoe_activation.py``).

Both start with ``compare``: [x >= b_i] for all P + 1 breakpoints in ONE vectorised comparison (8 rounds),
and the segment one-hot from neighbouring bits, s_0 = 1 - c_0, s_i = c_{i-1} - c_i, s_{P+1} = c_P (local).

* ``evaluate_all`` (the baseline): every piece's value p_s(x) (public coefficients: local after one
  ``square``), then ``mux``: y = sum_s s_s p_s(x), (P + 2) n products (1 round). 10 rounds.
* ``select`` (SecMoE, the other module): fetch the segment's coefficient row, then ONE polynomial.
The difference is in bytes: 2n + 2n versus (P + 2) n + (P + 2) n multiplied elements each way.
"""
from __future__ import annotations

import torch

from functionalities.activation import fit, validate
from protocols.crypten_shim import MPCTensor, current_party
from protocols.runtime import step

from .primitives import less_than_zero
from .sharing import from_ring, ring


def segments(x: MPCTensor, name: str) -> MPCTensor:
    """(n,) shared -> (n, P + 2) shared segment one-hot of the activation ``name``'s pieces (step ``compare``)."""
    pw = fit(name)
    with step("compare"):
        below = less_than_zero(x.unsqueeze(-1) - pw.breakpoints.float())    # (n, P + 1): [x < b_i]
    c = ring(below)
    one = torch.ones_like(c[:, :1]) if current_party().rank == 0 else torch.zeros_like(c[:, :1])
    ge = one - c                                                             # [x >= b_i]
    return from_ring(torch.cat([one - ge[:, :1], ge[:, :-1] - ge[:, 1:], ge[:, -1:]], dim=-1))


def evaluate_all(x: MPCTensor, name: str) -> MPCTensor:
    """(n,) shared -> (n,) shared: every piece, then a multiplexer (the baseline)."""
    validate(x.shape[0], name)
    seg = segments(x, name)
    rows = fit(name).rows.float()                                            # (P + 2, 3)
    with step("square"):
        x2 = x.square()
    values = x.unsqueeze(-1) * rows[:, 1] + x2.unsqueeze(-1) * rows[:, 2] + rows[:, 0]   # (n, P + 2), local
    with step("mux"):
        return (seg * values).sum(-1)
