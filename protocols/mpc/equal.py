"""Pi_equal: ``[x == y]`` on shares (spec: ``functionalities/equal.py``).

Steps: ``equal`` -- d = x - y locally; A2B of d's two shares is free (each share becomes a binary sharing
by PRZS); XNOR of the two bit strings; a 6-level AND tree over the 64 bits (6 rounds); B2A of the result
bit (1 round). Cost: 7 rounds, 104 n bytes each way, 56 n offline bytes. Leakage: n.
"""
from __future__ import annotations

from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .primitives import equal as _equal


def equal(x: MPCTensor, y: MPCTensor) -> MPCTensor:
    """(n,), (n,) shared fixed point -> (n,) shared bits (scale 1)."""
    with step("equal"):
        return _equal(x, y)
