"""F_gelu: GeLU by SecMoE's six pieces (AAAI'26, Protocol 2; entry ``secmoe.gelu``).

Five breakpoints P0 < ... < P4 cut the line into six segments::

    (-inf, P0) -> 0 | a0 + a1 x + a2 x^2 on [P0, P1), [P1, P2), [P2, P3), [P3, P4) | [P4, inf) -> x

**The breakpoints are ours.** SecMoE publishes the structure and the accuracy of its fit (max |error|
1.2e-2, mean 1.7e-3 against the exact GeLU) but none of the texts we could search holds its breakpoints or
coefficients, so they are chosen here, by a rule:

* symmetric: GeLU(x) = x/2 + h(x) with h even, so the error of the tails, |x| Phi(-|x|), is the same at
  -P and at P, and mirrored pieces fit mirrored data: P = (-v, -u, 0, u, v);
* (u, v) on the grid of 1/64 (exact in fixed point: the breakpoints are not rounded) minimising the max
  |error| of the fitted function against the exact GeLU, each quadratic the least-squares fit on 2,001
  evenly spaced points of its piece (as ``functionalities/activation.py`` fits). The optimum is
  u = 65/64 = 1.015625, v = 229/64 = 3.578125 (``tests/test_gelu.py`` checks that no move of one or of a
  mirrored pair of breakpoints by 1/64 lowers the max error).

Accuracy of the fitted function (coefficients quantised as the protocol uses them) against the exact GeLU
on a dense grid (step 1e-4 on [-12, 12], plus the breakpoints and their neighbours):
max |error| 0.00599 (at the breakpoints +-u: the pieces are not continuous), mean 0.00190 on [P0, P4],
0.00139 on [-5, 5], 0.00058 on [-12, 12]. The published mean does not say over which interval it is taken;
``STATED_MAX_ERROR`` and ``STATED_MEAN_ERROR`` (on [P0, P4]) are the bounds the tests hold.

The IDEAL functionality is the piecewise function itself at the quantised x (the protocol computes it
exactly up to fixed-point truncation). Input: x (n,) fixed point, ``|x| <= ACT_RANGE``; output (shared)
y (n,). Leakage: n (the breakpoints and coefficients are public constants).
"""
from __future__ import annotations

import math
from functools import lru_cache

import torch

from .activation import ACT_RANGE, Piecewise, segment
from .fixed_point import check_range, check_shape, quantize
from .validate import require_int

__all__ = ["ACT_RANGE", "BREAKPOINTS", "FIT_POINTS", "PUBLISHED_MAX_ERROR", "PUBLISHED_MEAN_ERROR",
           "STATED_MAX_ERROR", "STATED_MEAN_ERROR", "exact", "fit", "fit_pieces", "evaluate", "validate", "gelu",
           "segment"]

#: P0 .. P4 (module docstring): (-v, -u, 0, u, v) with u = 65/64, v = 229/64, multiples of 1/64
BREAKPOINTS = (-229 / 64, -65 / 64, 0.0, 65 / 64, 229 / 64)
#: least-squares points per piece (as ``functionalities/activation.py``)
FIT_POINTS = 2001
#: SecMoE's published accuracy of its GeLU (against the exact GeLU)
PUBLISHED_MAX_ERROR = 1.2e-2
PUBLISHED_MEAN_ERROR = 1.7e-3
#: ours, measured as the module docstring says and held by ``tests/test_gelu.py`` (the mean on [P0, P4])
STATED_MAX_ERROR = 0.0060
STATED_MEAN_ERROR = 0.0019


def exact(x: torch.Tensor) -> torch.Tensor:
    """The exact GeLU x Phi(x) (float64)."""
    x = x.double()
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def fit_pieces(breakpoints, points: int = FIT_POINTS) -> Piecewise:
    """The six-piece function for any increasing breakpoints: per inner piece the least-squares quadratic
    on ``points`` evenly spaced points; breakpoints and coefficients quantised to fixed point."""
    bps = torch.tensor([float(b) for b in breakpoints], dtype=torch.float64)
    rows = []
    for a, b in zip(bps[:-1], bps[1:]):
        xs = torch.linspace(float(a), float(b), points, dtype=torch.float64)
        X = torch.stack([torch.ones_like(xs), xs, xs * xs], 1)
        rows.append(torch.linalg.lstsq(X, exact(xs).unsqueeze(1)).solution.squeeze(1))
    return Piecewise("gelu6", quantize(bps), quantize(torch.stack(rows)))


@lru_cache(maxsize=None)
def fit() -> Piecewise:
    """SecMoE's six pieces with our breakpoints (``BREAKPOINTS``): 5 breakpoints, 4 quadratics."""
    return fit_pieces(BREAKPOINTS)


def evaluate(x: torch.Tensor, pw: Piecewise) -> torch.Tensor:
    """The piecewise function ``pw`` at x as given (float64; no validation, no quantisation)."""
    x = x.double()
    a = pw.rows[segment(x, pw)]
    return a[..., 0] + a[..., 1] * x + a[..., 2] * x * x


def validate(n: int, x=None) -> None:
    """Refuse a bad n (``PublicParameterError``), and an x of the wrong shape (``ShapeError``) or with NaN,
    inf or ``|x| > ACT_RANGE`` (``FixedPointRangeError``)."""
    require_int("n", n)
    if x is not None:
        check_shape("x", x, (n,))
        check_range("x", x, ACT_RANGE)


def gelu(x: torch.Tensor, n: int | None = None) -> torch.Tensor:
    """The six-piece GeLU at the quantised x (float64); ``n`` (default: x's length) is the public size."""
    validate((x.shape[0] if x.dim() else 1) if n is None else n, x)
    return evaluate(quantize(x), fit())
