"""Pi_activation, SecMoE (AAAI'26) select-then-compute (entry ``secmoe.activation``).

``compare`` and the segment one-hot as in the baseline (``protocols/mpc/piecewise_activation.segments``:
one vectorised comparison of x against the P + 1 breakpoints, 8 rounds), then fetch the segment's
coefficient row a = s . A (A public: the dot product is local) and evaluate ONE polynomial: ``square``
x^2 (1 round), ``evaluate`` a1 x + a2 x^2 (2 products in one round). 10 rounds; 2n + 2n multiplied
elements each way against the baseline's (P + 2) n + (P + 2) n.
"""
from __future__ import annotations

from functionalities.activation import fit, validate
from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .piecewise_activation import segments
from .primitives import bits_times_public


def select_then_compute(x: MPCTensor, name: str) -> MPCTensor:
    """(n,) shared -> (n,) shared piecewise activation (SecMoE)."""
    validate(x.shape[0], name)
    seg = segments(x, name)                                                  # (n, P + 2) bits
    a = bits_times_public(seg, fit(name).rows)                               # public matrix: local
    with step("square"):
        x2 = x.square()
    with step("evaluate"):
        terms = MPCTensor.stack([a[:, 1], a[:, 2]]) * MPCTensor.stack([x, x2])
    return a[:, 0] + terms[0] + terms[1]
