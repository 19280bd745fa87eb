"""Per-example, per-element error bounds of the fixed-point protocols: a running error analysis.

Every approximate output of a protocol is split into two parts, both evaluated at the example's actual
values (Wilkinson's running error analysis):

* its **deterministic** part: the protocol's algorithm (CrypTen's exp, Newton-Raphson, the piecewise
  fit ...) evaluated in exact arithmetic (float64) at the exact intermediate values. Its difference to the
  mathematical function is computed, with its sign, exactly -- an approximation error is never bounded,
  it is measured. That function is torch's own (``torch.softmax``, ``torch.nn.functional.silu``), written
  here independently of ``functionalities/`` (where the spec's piecewise fit IS the function, the fit's
  public constants): a wrong spec is not absorbed into its own bound, it fails the check;
* its **noise**: what the fixed-point truncations add, bounded with the rules below at the actual
  magnitudes.

``bound = |deterministic - reference| + noise bound + F64``, where ``F64 = 2^-40 (1 + |ideal|)`` covers the
float64 rounding of evaluating both (relative 2^-53 per operation, a few hundred operations at most);
it is 10^-7 ULP and changes no ratio. ULP = 2^-16. ``check`` compares element by element: ``err > bound``
is a failure; ``error_bound(params)`` stays each entry's domain-wide a-priori bound.

The rules (their names are quoted in the entries' docstrings):

**T (truncation)**. A fixed-point product (ring value at scale 2^32) or a division by a public integer is
truncated by dividing each party's share, rounding toward zero (CrypTen's 2-party ``div_``). The two
shares s0 + s1 = v have opposite signs (unless the ring sum wraps, probability |v| / 2^63: the event in
which 2-party truncation fails outright), so the two roundings err by (-1, 0] and [0, 1) ULP: the result
is v / 2^16 + delta with |delta| < 1 ULP and a whole number of ULPs, i.e. one of the two grid neighbours
of the exact value (stochastic rounding): delta in {-f, 1 - f} ULP with f the fractional part of the
exact value in ULPs (delta = 0 on the grid). So a truncation adds < 1 ULP, and
when its inputs are known exactly (noise 0) at most max(f, 1 - f) ULP, signed within [-f, 1 - f].

**E (exact operations)**. Additions, public integer products (2 x), products with a scale-1 share
(bits, one-hots, the sign and the ``where`` of CrypTen's sigmoid: no truncation), comparisons, and the
input sharing (round to nearest: what the spec quantises) are exact. Public constants are CrypTen-encoded
(rounded toward zero): 0.75, 1.5, 0.5625 exactly, 0.003 as 196 ULP.

**P (product)**. |a' b' - a b| <= |a' - a| |b'| + |a| |b' - b|, then T.

**G (grid candidates)**. A value computed with ONE truncation from exactly known inputs (a logit x W_g,
an expert's x U) is one of the two grid neighbours of its exact value: the bound enumerates both.

**X (CrypTen exp, n iterations)** at a grid input y: z_0 = 1 + y / 2^n (T: exact iff 2^n divides y's
ring value), z_{k+1} = z_k^2 (T). With a_k = (1 + y/2^n)^(2^k) the exact path, the noise D_k of z_k obeys
D_0 <= max(f, 1 - f) ULP (T, input known), ``D_{k+1} = 2 a_k D_k + D_k^2 + (0 or 1 ULP by T)``;
exp(y) = a_n +- D_n.

**N (Newton-Raphson for 1/s)**, r' = 2 r - r^2 s (CrypTen: a square (T), times s (T)). In terms of the
residual u = 1 - s r this is exactly ``u' = u^2 + s (s delta_1 + delta_2)``: a deviation d of u from its
exact path (u^(2^k)) becomes ``2 |u| d + d^2 + s (s + 1) ULP`` and |u| itself at most ``|u|^2 + s (s + 1)
ULP``; the output is (1 - u) / s exactly. (An error of s is not propagated through the iterations: the
iterations are evaluated at the actual s, see ``sigmoid_noise`` and ``softmax_bound``.)

**S (softmax normalisation)**. With e_j = A_j + nu_j (A_j the exp path, |nu_j| <= N_j) and s = sum e_j,
``e_i / s - A_i / sum A = (nu_i (1 - Q_i) - Q_i sum_{j != i} nu_j) / s`` exactly (Q = A / sum A): a common
relative error of the exps cancels, and the bound is ``(N_i (1 - Q_i) + Q_i sum_{j != i} N_j) / s_lo``.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from functionalities.fixed_point import SCALE, ULP

#: float64 evaluation margin, relative to (1 + |ideal|) (module docstring)
F64 = 2.0**-40
#: CrypTen's defaults (checked against ``crypten.config`` in tests/test_bounds.py): exp iterations (also
#: inside sigmoid: its override of exp_iterations to 9 is set only around the reciprocal, after the exp),
#: reciprocal Newton-Raphson iterations and the additive constant 0.003 of its initial guess as CrypTen's
#: encoder stores a public float: scale * x cast to an integer, i.e. rounded toward zero (196 ULP)
EXP_ITERS = 8
RECIP_ITERS = 10
RECIP_C0 = int(0.003 * SCALE) / SCALE
SIGMOID_NR_ITERS = 3
SIGMOID_R0 = 0.75


# -- the grid -------------------------------------------------------------------------------------------

def on_grid(v: torch.Tensor) -> torch.Tensor:
    """v is a multiple of ULP (exact in float64 for the magnitudes used here: <= 53 significant bits)."""
    w = v * SCALE
    return w == torch.round(w)


def neighbours(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The two grid values around v (equal when v is on the grid): rule G's candidates."""
    return torch.floor(v * SCALE) / SCALE, torch.ceil(v * SCALE) / SCALE


def frac_ulps(value: torch.Tensor) -> torch.Tensor:
    """f = the fractional part of value / ULP, in [0, 1) (value exact in float64)."""
    w = value.double() * SCALE
    return w - torch.floor(w)


def trunc(value: torch.Tensor, noise: torch.Tensor | float) -> torch.Tensor:
    """Rule T: what one truncation of ``value`` (its exact result, float64) adds at most when its inputs
    carry ``noise``: 1 ULP, or, inputs known exactly (noise 0), max(f, 1 - f) ULP with f the fractional
    part of value / ULP (the result rounds to one of the two neighbours: delta in {-f, 1 - f}), 0 on the grid."""
    noise = torch.as_tensor(noise, dtype=torch.float64)
    f = frac_ulps(value)
    known = torch.where(f == 0, 0.0, torch.maximum(f, 1 - f)) * ULP
    return torch.where(noise == 0, known, torch.full_like(known, ULP))


def trunc_interval(value: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rule T with a signed result, for a truncation of an exactly known ``value``: delta in [-f, 1 - f] ULP
    (f the fractional part of value / ULP; [0, 0] on the grid). Sums of such intervals are exact bounds."""
    f = frac_ulps(value)
    return torch.where(f == 0, 0.0, -f) * ULP, torch.where(f == 0, 0.0, 1 - f) * ULP


def interval_abs(lo: torch.Tensor, hi: torch.Tensor) -> torch.Tensor:
    """max |v| over v in [lo, hi]."""
    return torch.maximum(lo.abs(), hi.abs())


# -- exp (rule X) ---------------------------------------------------------------------------------------

def exp_path(y: torch.Tensor, iters: int = EXP_ITERS) -> torch.Tensor:
    """CrypTen's exp in exact arithmetic: (1 + y / 2^n)^(2^n), by n squarings (any real y)."""
    a = 1 + y.double() / 2**iters
    for _ in range(iters):
        a = a * a
    return a


def exp_noise(y: torch.Tensor, iters: int = EXP_ITERS) -> tuple[torch.Tensor, torch.Tensor]:
    """(a_n, D_n) of rule X at GRID inputs y: the exact path and the bound on the truncations' effect."""
    a = 1 + y.double() / 2**iters
    d = trunc(a, 0.0)
    for _ in range(iters):
        nxt = a * a
        d = 2 * a.abs() * d + d * d + trunc(nxt, d)
        a = nxt
    return a, d


def exp_base_max(y_lo: torch.Tensor, y_hi: torch.Tensor, iters: int = EXP_ITERS) -> torch.Tensor:
    """max |1 + y / 2^n| over y in [y_lo, y_hi] (a convex function of y: its maximum is at an end)."""
    return torch.maximum((1 + y_lo / 2**iters).abs(), (1 + y_hi / 2**iters).abs())


def exp_noise_within(y_lo: torch.Tensor, y_hi: torch.Tensor, iters: int = EXP_ITERS) -> torch.Tensor:
    """D_n of rule X for an unknown grid input y in [y_lo, y_hi], every truncation counted: |a_k| <= b^(2^k)
    with b = ``exp_base_max``."""
    a = exp_base_max(y_lo, y_hi, iters)
    d = torch.full_like(a, ULP)
    for _ in range(iters):
        d = 2 * a * d + d * d + ULP
        a = a * a
    return d


# -- sigmoid and SiLU (CrypTen's "reciprocal" method) -----------------------------------------------------

def nr_from(r0: float, s: torch.Tensor, iters: int) -> torch.Tensor:
    """Newton-Raphson for 1/s from a public r0 in exact arithmetic: r0 sum_{k < 2^iters} (1 - r0 s)^k."""
    r = torch.full_like(s, r0)
    for _ in range(iters):
        r = 2 * r - r * r * s
    return r


def sigmoid_path(h: torch.Tensor) -> torch.Tensor:
    """CrypTen's sigmoid in exact arithmetic at any real h: z = |h| (sign from ltz: h < 0), s = 1 + exp(-z)
    (8 iterations), r = 3 Newton-Raphson steps from 0.75, sigma = r (h >= 0) or 1 - r (h < 0)."""
    r = nr_from(SIGMOID_R0, 1 + exp_path(-h.abs()), SIGMOID_NR_ITERS)
    return torch.where(h < 0, 1 - r, r)


def sigmoid_noise(h: torch.Tensor) -> torch.Tensor:
    """Bound on |sigma_real - sigmoid_path(h)| at GRID inputs h.

    ``pos = |h| . sign`` (E: the sign is a scale-1 share), ``e = exp(-|h|)`` = a +- D (rule X),
    ``s = 1 + e`` (E). The reciprocal is 3 Newton-Raphson steps from the public 0.75 at the actual s:
    r_3(s) = (1 - (1 - 0.75 s)^8) / s = 0.75 sum_{k<8} (1 - 0.75 s)^k is decreasing in s on (0, 8/3)
    (its derivative in a = 1 - 0.75 s is (1 - 8 a^7 + 7 a^8) / (1 - a)^2 >= 0 for |a| < 1), so the exp
    noise moves it by at most max(r_3(s - D) - r_3(s), r_3(s) - r_3(s + D)). The truncations inside
    (rule N): step 1 is 1.5 - 0.5625 s (one public product: u_1 = (1 - 0.75 s)^2 + s delta), steps 2, 3
    are CrypTen's square-and-multiply; ``where`` picks r or 1 - r exactly (E)."""
    a, d_exp = exp_noise(-h.abs())
    s = 1 + a
    lo, hi = s - d_exp, s + d_exp
    assert bool((lo > 0).all() and (hi < 8 / 3).all()), "sigmoid_noise: s outside (0, 8/3)"
    r = lambda v: nr_from(SIGMOID_R0, v, SIGMOID_NR_ITERS)           # noqa: E731
    moved = torch.maximum((r(lo) - r(s)).abs(), (r(s) - r(hi)).abs())
    c = hi * (hi + 1) * ULP
    u1 = torch.maximum((1 - SIGMOID_R0 * lo).abs(), (1 - SIGMOID_R0 * hi).abs()) ** 2   # max |u_1| on [lo, hi]
    d = hi * trunc(SIGMOID_R0**2 * s, d_exp)                          # u_1's deviation (one truncation)
    u = u1
    for _ in range(SIGMOID_NR_ITERS - 1):
        d = 2 * u * d + d * d + c
        u = u * u
    return moved + d / lo


def silu(h: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(deterministic, noise) of CrypTen's ``h * h.sigmoid()`` where h is the EXACT value of a quantity
    computed with one truncation (rule G: the real h is one of its two grid neighbours).

    deterministic = h sigmoid_path(h); noise = max over the candidates h' of
    |h' sigmoid_path(h') - h sigmoid_path(h)| + |h'| sigmoid_noise(h'), plus the product's truncation (T).
    (sigmoid_path jumps by 0.0039 at 0; the candidates are evaluated exactly, so a sign flip is covered.)"""
    det = h * sigmoid_path(h)
    noise = torch.zeros_like(det)
    for c in neighbours(h):
        noise = torch.maximum(noise, (c * sigmoid_path(c) - det).abs() + c.abs() * sigmoid_noise(c))
    return det, noise + ULP


def expert(x: torch.Tensor, U: torch.Tensor, V: torch.Tensor, D: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(deterministic, noise) of ``protocols/mpc/expert.expert_ffn`` on grid inputs (quantised), (..., n, d).

    up: h = x [U | V], one truncation per element (G: two candidates each); silu(h1) (``silu``);
    gate_mul: p = silu(h1) h2 (P: noise_silu |h2'| + |silu| |h2' - h2|, + T); down: p D (noise_p |D| + T)."""
    h1, h2 = x @ U, x @ V
    s_det, s_noise = silu(h1)
    lo, hi = neighbours(h2)
    h2_max = torch.maximum(lo.abs(), hi.abs())
    h2_dev = torch.maximum((lo - h2).abs(), (hi - h2).abs())
    p_det = s_det * h2
    p_noise = s_noise * h2_max + s_det.abs() * h2_dev + ULP
    return p_det @ D, p_noise @ D.abs() + ULP


# -- the gate's softmax (rules X, N, S) ---------------------------------------------------------------------

def softmax_bound(logits: torch.Tensor, top: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(bound on |G_real - softmax(logits)|, valid) per (token, expert), for ``protocols/mpc/gate.softmax``.

    ``logits`` (m, E) exact (x W_g in float64), ``top`` (m,) the real top-1 expert (its real logit is the
    max the protocol subtracts). The real logits are grid neighbours of the exact ones (G), so
    y_j = l_j' - l_top' is one of <= 4 grid values, and exactly 0 for j = top (same ring value).
    * exp (X): e_j = A(y*_j) + nu_j, y* = l - l_top, |nu_j| <= N_j = max over the candidates y of
      |A(y) - A(y*_j)| + D(y); N_top = 0.
    * s = sum e_j (E) in [s_lo, s_hi] = sum A +- sum N.
    * 1/s: 10 Newton-Raphson steps (N) from r_0 = 3 exp(1 - 2 s) + c0 (3 x and + c0 exact, E). The exp's
      input 1 - 2 s is unknown within [1 - 2 s_hi, 1 - 2 s_lo]: its noise is at most D with every
      truncation counted (X with |a_k| <= b^(2^k), b = max |1 + y/256| on the interval,
      ``exp_noise_within``). u_0(s) = 1 - s r_0(s) has derivative -(3 A(1 - 2 s) + c0) + 6 s A'(1 - 2 s),
      A' = (1 + y/256)^255, so |u_0(s) - u_0(sum A)| <= (3 b^256 + c0 + 6 s_hi b^255) sum N. So
      |u_0| <= U_0 = |u_0(sum A)| + that + 3 s_hi D, then U_{k+1} = U_k^2 + s_hi (s_hi + 1) ULP, and
      inv = 1/s + rho with |rho| <= R = U_10 / s_lo.
    * G_i = e_i inv + delta (T) = e_i / s + e_i rho + delta, and by S
      |G_i - p_i| <= |Q_i - p_i| + (N_i (1 - Q_i) + Q_i sum_{j != i} N_j) / s_lo + (A_i + N_i) R + ULP,
      Q = A(y*) / sum A(y*), p the spec's softmax: |Q_i - p_i| is the exp approximation's own error,
      evaluated exactly.
    ``valid`` is False for a token whose initial residual bound reaches 1 (CrypTen's initial guess fails
    for s near 256: 3 (1 + (1 - 2 s)/256)^256 is no longer small): no bound is derived there."""
    logits = logits.double()
    m, E = logits.shape
    rows = torch.arange(m)
    l_top = logits[rows, top]
    y_star = logits - l_top.unsqueeze(-1)
    A = exp_path(y_star)
    Q = A / A.sum(-1, keepdim=True)
    p = torch.softmax(logits, -1)
    N = torch.zeros_like(A)
    for c in neighbours(logits):
        for ct in neighbours(l_top):
            y = c - ct.unsqueeze(-1)
            a, d = exp_noise(y)
            N = torch.maximum(N, (a - A).abs() + d)
    N[rows, top] = 0.0
    S, sum_n = A.sum(-1), N.sum(-1)
    s_lo, s_hi = S - sum_n, S + sum_n
    u0 = (1 - S * (3 * exp_path(1 - 2 * S) + RECIP_C0)).abs()
    y_lo, y_hi = 1 - 2 * s_hi, 1 - 2 * s_lo                # the guess's exp input lies in [y_lo, y_hi]
    b = exp_base_max(y_lo, y_hi)
    lipschitz = 3 * b ** (2**EXP_ITERS) + RECIP_C0 + 6 * s_hi * b ** (2**EXP_ITERS - 1)
    U = u0 + lipschitz * sum_n + s_hi * 3 * exp_noise_within(y_lo, y_hi)
    valid = (s_lo > 0) & (U < 1)
    for _ in range(RECIP_ITERS):
        U = U * U + s_hi * (s_hi + 1) * ULP
    R = (U / s_lo).unsqueeze(-1)
    s_lo = s_lo.unsqueeze(-1)
    normal = (N * (1 - Q) + Q * (sum_n.unsqueeze(-1) - N)) / s_lo
    return (Q - p).abs() + normal + (A + N) * R + ULP, valid


# -- reporting ----------------------------------------------------------------------------------------------

@dataclass
class Part:
    """One approximate output: its name, elementwise |real - ideal| and bound, and element labels."""

    name: str
    err: torch.Tensor
    bound: torch.Tensor

    def problems(self, limit: int = 3) -> list[str]:
        bad = (self.err > self.bound).nonzero().tolist()
        out = []
        for idx in bad[:limit]:
            i = tuple(idx)
            out.append(f"{self.name}{list(i)}: |real - ideal| = {float(self.err[i]):.4g} "
                       f"({float(self.err[i]) / ULP:.1f} ulp) > bound {float(self.bound[i]):.4g} "
                       f"({float(self.bound[i]) / ULP:.1f} ulp)")
        if len(bad) > limit:
            out.append(f"{self.name}: {len(bad) - limit} more elements over their bound")
        return out


def problems(parts: list[Part]) -> list[str]:
    return [m for part in parts for m in part.problems()]


def flatten(parts: list[Part]) -> tuple[torch.Tensor, torch.Tensor]:
    """All parts' (err, bound), flattened and concatenated (``Entry.errors``)."""
    return (torch.cat([p.err.reshape(-1).double() for p in parts]) if parts else torch.zeros(0),
            torch.cat([p.bound.reshape(-1).double() for p in parts]) if parts else torch.zeros(0))


class Errors:
    """An ``Entry.errors`` callable built from a ``parts(ideal, real, params, inputs) -> list[Part] | list[str]``
    function (a list of strings: a structural problem, no elementwise comparison); ``.parts`` keeps the
    per-output breakdown (``analysis/bench_bounds.py`` reports each output)."""

    def __init__(self, parts):
        self.parts = parts

    def __call__(self, ideal, real, params, inputs):
        parts = self.parts(ideal, real, params, inputs)
        if parts and isinstance(parts[0], str):
            return None
        return flatten(parts)

    def check(self, ideal, real, params, inputs) -> list[str]:
        """The entry's ``check``: structural problems, else every element over its bound."""
        parts = self.parts(ideal, real, params, inputs)
        if parts and isinstance(parts[0], str):
            return list(parts)
        return problems(parts)


def quadratic_bound(x: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Per element, the error bound of a0 + a1 x + a2 x^2 computed with three truncations from exactly known
    public coefficients ``a`` (n, 3) and the quantised x (n,) -- x^2 (delta_0), a1 x (delta_1), a2 x^2'
    (delta_2: within the truncation interval when x^2 is on the grid, else (-1, 1) ULP); the error
    a2 delta_0 + delta_1 + delta_2 lies in the sum of the intervals (the piecewise activations' rule)."""
    x2 = x * x
    lo0, hi0 = trunc_interval(x2)
    lo1, hi1 = trunc_interval(a[:, 1] * x)
    lo2, hi2 = trunc_interval(a[:, 2] * x2)
    exact = on_grid(x2)
    lo2, hi2 = torch.where(exact, lo2, -ULP), torch.where(exact, hi2, ULP)
    ends = (a[:, 2] * lo0, a[:, 2] * hi0)
    return interval_abs(torch.minimum(*ends) + lo1 + lo2, torch.maximum(*ends) + hi1 + hi2)


def part(name: str, real: torch.Tensor, ideal: torch.Tensor, bound: torch.Tensor) -> Part:
    """A Part from real and ideal values: err = |real - ideal| (float64), bound + the F64 margin."""
    ideal = ideal.double()
    return Part(name, (real.double() - ideal).abs(), bound.double() + F64 * (1 + ideal.abs()))
