"""Security as a tested property, the statistical side: simulated views and the tests that compare views.

A party's VIEW is everything it receives in a run, in order: ``opened`` values (its share combined with
the other's), ``received`` one-way payloads, ``gathered`` values, ``dealer`` messages, ``decrypted`` HE
plaintexts, ``ciphertext`` frames, the ``noise`` of decrypted HE answers (``protocols/he/channel.observe``) -- each with the protection the runtime recorded for it and the round it
arrived in -- plus its own shares (``protocols/runtime/meter.py``). The EXACT check of what protects each
value is the mask ledger (``simulators/ledger.py``); the tests here are the statistical second line.

SIMULATOR. ``simulate(template, own_output, seed)`` builds a party's view from the public structure of
the protocol alone -- the sequence of (kind, step, sender, size, claimed protection) of a view, which is
a function of the public parameters for a data-oblivious protocol (the obliviousness check holds it to
that) -- and FRESH randomness: every masked value uniform in its mask's domain (Z_2^64, a bit, mod t),
every dealer message uniform; ciphertext frames keep only their count. It never runs the protocol on any
party's input: ``template`` is the structure of a view, taken from a run on fake inputs
(``analysis/security.py``), whose values are thrown away. The simulator's output is the ideal output it is
given.

TESTS (``distribution_problems``): position by position, two families of views of the same shape are
compared (a real family with the other party's secret A against one with secret B; real against
simulated), on
* the values' bits: for each of the 64 bits, a two-proportion z-test;
* their distribution: a two-sample Kolmogorov-Smirnov test on the values as fractions of the domain;
* full-ring coverage: a chi-square test on 16 buckets of the domain (the top 4 bits of a ring element), which
  a mask that does not cover the ring fails;
* joint structure: the bits of the differences of neighbouring elements of a position, and of the first
  elements of neighbouring positions (a mask reused across elements or messages makes them constant).
Declared values (dealer seeds) and ciphertext frames are not tested. Every p-value is Bonferroni-corrected
over all the tests of a family (``TESTS_PER_POSITION`` per position), and ``analysis/security.py`` splits
``ALPHA`` over the families of one check: a secure protocol fails one ``verify`` by chance with
probability at most ``ALPHA`` (measured: ``python -m analysis.bench_security fwer``, docs/security.md).
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import torch

ALPHA = 1e-3
TESTED = ("opened", "received", "gathered", "dealer", "decrypted", "noise")
#: bit tests per position: values' 64 bits, neighbours' differences' 64 bits, first elements' differences'
#: 64 bits; plus one KS and one coverage test
TESTS_PER_POSITION = 3 * 64 + 2


@dataclass
class View:
    """A party's view: its items in order (``ViewItem``) and, when simulated, the output it was given."""

    party: str
    items: list = field(default_factory=list)
    output: object = None

    @property
    def shape(self) -> tuple:
        return tuple((it.kind, it.step, it.sender, int(it.values.numel())) for it in self.items)


def view_of(run, party: str) -> View:
    return View(party, list((run.views or {}).get(party) or []))


# -- the simulator -----------------------------------------------------------------------------------------
def _domain(protect) -> tuple[str, int, int]:
    """(algebra, modulus, bits) of the values a protection claims to make uniform."""
    if protect is None or isinstance(protect, tuple):
        return "add", 0, 64
    if protect.modulus:
        return "mod", int(protect.modulus), protect.bits
    return ("xor" if protect.source in ("binary triple", "B2A bit") else "add"), 0, protect.bits


def uniform_like(protect, n: int, rng: np.random.Generator) -> torch.Tensor:
    """n fresh values, uniform in the domain of ``protect`` (64-bit ring, k bits, or mod t)."""
    algebra, modulus, bits = _domain(protect)
    if modulus:
        v = rng.integers(0, modulus, n, dtype=np.int64)
    elif bits < 64:
        v = rng.integers(0, 1 << bits, n, dtype=np.int64)
    else:
        v = rng.integers(0, 2 ** 64, n, dtype=np.uint64).view(np.int64)
    return torch.from_numpy(v)


def simulate(template: View, own_output, seed: int) -> View:
    """The party's view from the protocol's public structure and fresh randomness (module docstring)."""
    from protocols.runtime.meter import ViewItem

    rng = np.random.default_rng(seed)
    items = []
    for it in template.items:
        n = int(it.values.numel())
        values = (torch.zeros(n, dtype=torch.int64) if it.kind not in TESTED
                  else uniform_like(it.protect, n, rng))
        items.append(ViewItem(it.kind, it.step, it.sender, values, it.protect, it.round))
    return View(template.party, items, own_output)


# -- the tests -------------------------------------------------------------------------------------------------
def _u64(values) -> np.ndarray:
    return np.asarray(values.numpy() if hasattr(values, "numpy") else values).astype(np.int64).view(np.uint64)


def _ks_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov p-value (asymptotic)."""
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    d = float(np.max(np.abs(np.searchsorted(a, grid, "right") / len(a) - np.searchsorted(b, grid, "right") / len(b))))
    ne = len(a) * len(b) / (len(a) + len(b))
    lam = (math.sqrt(ne) + 0.12 + 0.11 / math.sqrt(ne)) * d
    if lam < 0.3:
        return 1.0
    return max(0.0, min(1.0, 2 * sum((-1) ** (k - 1) * math.exp(-2 * k * k * lam * lam) for k in range(1, 101))))


def _chi2_sf(x: float, k: int) -> float:
    """Survival function of chi-square with k degrees of freedom (Wilson-Hilferty; k >= 1)."""
    if k <= 0 or x <= 0:
        return 1.0
    z = ((x / k) ** (1 / 3) - (1 - 2 / (9 * k))) / math.sqrt(2 / (9 * k))
    return 0.5 * math.erfc(z / math.sqrt(2))


def bit_pvalues(va: np.ndarray, vb: np.ndarray) -> np.ndarray:
    """Per bit, the two-sided p-value of a two-proportion z-test (1 where both are constant and equal)."""
    bits = np.arange(64, dtype=np.uint64)
    fa = ((va[:, None] >> bits) & np.uint64(1)).mean(0)
    fb = ((vb[:, None] >> bits) & np.uint64(1)).mean(0)
    pooled = (fa * len(va) + fb * len(vb)) / (len(va) + len(vb))
    se = np.sqrt(pooled * (1 - pooled) * (1 / len(va) + 1 / len(vb)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, np.abs(fa - fb) / np.where(se > 0, se, 1), np.where(fa != fb, np.inf, 0.0))
    return np.array([math.erfc(float(v) / math.sqrt(2)) for v in z])


def coverage_pvalue(va: np.ndarray, vb: np.ndarray, modulus: int = 0) -> float:
    """Chi-square test of homogeneity on 16 buckets of the domain (top 4 bits; 16 equal bins mod t)."""
    if modulus:
        ba, bb = (va.astype(np.float64) * 16 / modulus).astype(int), (vb.astype(np.float64) * 16 / modulus).astype(int)
    else:
        ba, bb = (va >> np.uint64(60)).astype(int), (vb >> np.uint64(60)).astype(int)
    ca, cb = np.bincount(ba, minlength=16)[:16], np.bincount(bb, minlength=16)[:16]
    tot = ca + cb
    keep = tot > 0
    if keep.sum() < 2:
        return 1.0
    na, nb = ca.sum(), cb.sum()
    ea, eb = tot[keep] * na / (na + nb), tot[keep] * nb / (na + nb)
    x = float((((ca[keep] - ea) ** 2) / ea).sum() + (((cb[keep] - eb) ** 2) / eb).sum())
    return _chi2_sf(x, int(keep.sum()) - 1)


def _neighbours(runs: list[np.ndarray]) -> np.ndarray:
    return np.concatenate([r[1:] - r[:-1] for r in runs if len(r) > 1]) if any(len(r) > 1 for r in runs) \
        else np.zeros(0, np.uint64)


def sample_pvalues(a: list[np.ndarray], b: list[np.ndarray], modulus: int = 0) -> list[tuple[float, str]]:
    """Two families' values at one view position (a list of per-run arrays each): every test's p-value
    with what it tested -- the 64 bits (the smallest p), KS, ring coverage, neighbours' differences."""
    va, vb = np.concatenate(a), np.concatenate(b)
    if len(va) < 2 or len(vb) < 2:
        return []
    out = []
    p = bit_pvalues(va, vb)
    bit = int(np.argmin(p))
    fa, fb = [float(((v >> np.uint64(bit)) & np.uint64(1)).mean()) for v in (va, vb)]
    out.append((float(p.min()), f"bit {bit}: frequency {fa:.3f} vs {fb:.3f}"))
    out.append((_ks_pvalue(va.astype(np.float64), vb.astype(np.float64)), "KS"))
    out.append((coverage_pvalue(va, vb, modulus), "ring coverage (16 buckets)"))
    da, db = _neighbours(a), _neighbours(b)
    if len(da) > 1 and len(db) > 1:
        p = bit_pvalues(da, db)
        out.append((float(p.min()), f"differences of neighbouring elements, bit {int(np.argmin(p))}"))
    return out


def compare_samples(a: list[np.ndarray], b: list[np.ndarray], tests: int, modulus: int = 0) -> list[str]:
    """The problems found at one position at the Bonferroni threshold ``ALPHA / tests``."""
    threshold = ALPHA / max(tests, 1)
    return [f"{what} (p = {p:.2g})" for p, what in sample_pvalues(a, b, modulus) if p < threshold]


def family_pvalues(views_a: list[View], views_b: list[View]) -> tuple[list[tuple[float, str]], int]:
    """Every test between two families of views of the same shape (module docstring): (p-value, what)
    pairs, and the number of tests the Bonferroni correction divides by (``TESTS_PER_POSITION`` per tested
    position). A family whose shapes vary gives ``([(0.0, ...)], 1)``."""
    if not views_a or not views_b:
        return [], 0
    shapes = {v.shape for v in views_a + views_b}
    if len(shapes) > 1:
        return [(0.0, f"the views' shapes vary ({len(shapes)} different message sequences)")], 1
    items = views_a[0].items
    positions = [i for i, it in enumerate(items) if it.kind in TESTED and not _declared(it)]
    tests = len(positions) * TESTS_PER_POSITION
    out = []
    for i in positions:
        it = items[i]
        found = sample_pvalues([_u64(v.items[i].values) for v in views_a],
                               [_u64(v.items[i].values) for v in views_b], _domain(it.protect)[1])
        out += [(p, f"{it.kind} value at step '{it.step}' (#{i}, from {it.sender}): {what}") for p, what in found]
    # first elements of neighbouring positions: a mask shared across messages makes their difference constant
    for i, j in zip(positions, positions[1:]):
        if _domain(items[i].protect) != _domain(items[j].protect):
            continue
        da = np.array([_u64(v.items[i].values)[:1] - _u64(v.items[j].values)[:1] for v in views_a]).reshape(-1)
        db = np.array([_u64(v.items[i].values)[:1] - _u64(v.items[j].values)[:1] for v in views_b]).reshape(-1)
        p = bit_pvalues(da, db)
        out.append((float(p.min()), f"messages #{i} and #{j} (step '{items[j].step}'): their first elements' "
                                    f"difference, bit {int(np.argmin(p))}"))
    return out, tests


def family_pvalue(views_a: list[View], views_b: list[View]) -> float:
    """The family's Bonferroni-adjusted p-value: min p x tests (capped at 1). An alarm is this < ``ALPHA``."""
    found, tests = family_pvalues(views_a, views_b)
    return min([1.0] + [min(1.0, p * tests) for p, _ in found])


def distribution_problems(views_a: list[View], views_b: list[View], label: str, alpha: float = ALPHA
                          ) -> list[str]:
    """Position-wise tests between two families of views with the same shape (module docstring), at the
    Bonferroni threshold ``alpha / tests``: the false-alarm rate of one call is <= ``alpha``."""
    found, tests = family_pvalues(views_a, views_b)
    threshold = alpha / max(tests, 1)
    return [f"{label}: {what}" + (f" (p = {p:.2g})" if tests > 1 or p > 0 else "")
            for p, what in found if p < threshold]


def _declared(item) -> bool:
    p = item.protect
    return p is not None and not isinstance(p, tuple) and p.kind == "declared"
