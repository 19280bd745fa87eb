"""Pi_onehot: secret indices -> one-hot rows (spec: ``functionalities/onehot.py``).

Steps: ``onehot`` -- all r*t*c equalities ``[idx == e]`` against the public class numbers at once
(one vectorised equality: 7 rounds, 104 r t c bytes each way, 56 r t c offline). Leakage: r, t, c.
An index outside [0, c) gives an all-zero row; the input owner refuses such input before sharing.
"""
from __future__ import annotations

import torch

from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .primitives import equal


def onehot(idx: MPCTensor, classes: int) -> MPCTensor:
    """(r, t) shared integers -> (r, t, c) shared bits."""
    with step("onehot"):
        classes_row = torch.arange(classes, dtype=torch.long)
        return equal(idx.unsqueeze(-1).expand(*idx.shape, classes), classes_row)
