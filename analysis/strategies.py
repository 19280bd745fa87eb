"""Hypothesis building blocks shared by the entries' strategies (edge cases first: ties, zeros, extremes)."""
from __future__ import annotations

import torch
from hypothesis import strategies as st

from functionalities.fixed_point import FIXED_POINT_RANGE, quantize

#: values that collide often (ties), zeros, and the edges of the fixed-point range
TIE_VALUES = [0.0, 1.0, -1.0, 0.5, 2.0, -3.25, FIXED_POINT_RANGE, -FIXED_POINT_RANGE]


def fixed_values(bound: float = FIXED_POINT_RANGE) -> st.SearchStrategy[float]:
    """Floats within ``[-bound, bound]``, mixing frequent tie values and the range edges."""
    ties = [v for v in TIE_VALUES if abs(v) <= bound] + [bound, -bound]
    return st.one_of(st.sampled_from(ties), st.floats(-bound, bound, allow_nan=False, width=32))


def tensor(shape: tuple[int, ...], elements: st.SearchStrategy[float]) -> st.SearchStrategy[torch.Tensor]:
    """A float64 tensor of ``shape`` whose entries come from ``elements`` (quantised to fixed point)."""
    n = 1
    for s in shape:
        n *= s
    return st.lists(elements, min_size=n, max_size=n).map(
        lambda xs: quantize(torch.tensor(xs, dtype=torch.float64).reshape(shape)))


def int_tensor(shape: tuple[int, ...], lo: int, hi: int) -> st.SearchStrategy[torch.Tensor]:
    n = 1
    for s in shape:
        n *= s
    return st.lists(st.integers(lo, hi), min_size=n, max_size=n).map(
        lambda xs: torch.tensor(xs, dtype=torch.long).reshape(shape))
