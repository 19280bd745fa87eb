"""F_activation: SiLU and GeLU approximated by pieces (SecMoE's piecewise-polynomial activations).

Breakpoints b_0 < ... < b_P split the line into P + 2 segments: (-inf, b_0) -> 0, [b_i, b_{i+1}) -> one
quadratic a0 + a1 x + a2 x^2 each (i < P), [b_P, inf) -> x. The quadratics are least-squares fits on a
grid of 2001 points per piece (``fit``), computed here, deterministic.

Accuracy of the fitted function against the true activation (dense grid on [-20, 20]):
* ``silu``: 12 pieces on [-8, 8]: max |error| 0.0053, mean 0.00048 on [-8, 8];
* ``gelu``: 12 pieces on [-5, 5]: max |error| 0.0029, mean 0.00032 on [-5, 5].
(``tests/test_activation.py`` checks these bounds.)

The IDEAL functionality is the piecewise function itself (the protocols compute it exactly up to fixed
point). Input: x (n,) fixed point, ``|x| <= ACT_RANGE``; output (shared) y (n,). Leakage: n, the
function (public breakpoints and coefficients).
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import torch

from .errors import PublicParameterError
from .fixed_point import check_range, check_shape, quantize
from .validate import require_int

ACT_RANGE = 64.0
FUNCTIONS = {
    "silu": (lambda x: x * torch.sigmoid(x), -8.0, 8.0, 12),
    "gelu": (lambda x: 0.5 * x * (1 + torch.erf(x / math.sqrt(2))), -5.0, 5.0, 12),
}
STATED_MAX_ERROR = {"silu": 0.0054, "gelu": 0.0030}


@dataclass(frozen=True)
class Piecewise:
    """Breakpoints (P + 1,) and the quadratic coefficients of the inner pieces (P, 3)."""

    name: str
    breakpoints: torch.Tensor
    coeffs: torch.Tensor

    @property
    def rows(self) -> torch.Tensor:
        """Coefficient rows of ALL P + 2 segments: [0, 0, 0], the P quadratics, [0, 1, 0]."""
        z = torch.zeros(1, 3, dtype=torch.float64)
        last = torch.tensor([[0.0, 1.0, 0.0]], dtype=torch.float64)
        return torch.cat([z, self.coeffs, last])


@lru_cache(maxsize=None)
def fit(name: str) -> Piecewise:
    if name not in FUNCTIONS:
        raise PublicParameterError(f"activation must be one of {sorted(FUNCTIONS)}, got {name!r}")
    f, lo, hi, pieces = FUNCTIONS[name]
    bps = torch.linspace(lo, hi, pieces + 1, dtype=torch.float64)
    rows = []
    for a, b in zip(bps[:-1], bps[1:]):
        xs = torch.linspace(float(a), float(b), 2001, dtype=torch.float64)
        X = torch.stack([torch.ones_like(xs), xs, xs * xs], 1)
        rows.append(torch.linalg.lstsq(X, f(xs).unsqueeze(1)).solution.squeeze(1))
    # the protocols use the fixed-point values of the public constants: so does the spec
    return Piecewise(name, quantize(bps), quantize(torch.stack(rows)))


def segment(x: torch.Tensor, pw: Piecewise) -> torch.Tensor:
    """Segment index 0..P+1 of each x: the number of breakpoints <= x."""
    return (x.unsqueeze(-1) >= pw.breakpoints).sum(-1)


def validate(n: int, name: str, x=None) -> None:
    require_int("n", n)
    fit(name)
    if x is not None:
        check_shape("x", x, (n,))
        check_range("x", x, ACT_RANGE)


def activation(x: torch.Tensor, name: str) -> torch.Tensor:
    """The piecewise function at the quantised x (float64)."""
    validate(x.shape[0], name, x)
    pw = fit(name)
    xq = quantize(x)
    a = pw.rows[segment(xq, pw)]
    return a[:, 0] + a[:, 1] * xq + a[:, 2] * xq * xq
