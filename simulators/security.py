"""Security as a tested property: views, simulators and the checks on them (semi-honest, two parties).

A party's VIEW is everything it sees in a run: its input and randomness (the seed), and, in order, every
value it saw -- ``opened`` values (its share combined with the other's: Beaver's epsilon/delta, masked
values, B2A bits), ``received`` one-way payloads, ``dealer`` messages (correlated randomness), and for HE
protocols the client's ``decrypted`` (masked) values. The runtime records it (``record_views``).

SIMULATOR. ``simulate(entry, party, own_input, own_output, params, seed)`` produces that party's view
from its own input and output and the leakage (the public parameters: shapes, E, k, t, ...) only: the
other party's inputs are replaced by a FAKE input drawn from the entry's input domain with a fixed seed
(public information), and the dealer is the honest one. For a secure protocol every opened value is a
uniformly masked value and every dealer message a uniformly random correction, so the simulated view
has the real view's distribution; the simulator's output is the ideal output it is given.

CHECKS (``security_check``), per party:
1. shape    -- the real view and the simulated view have the same sequence of (kind, step, sender, size);
2. distribution -- over R runs with fresh randomness, the values at each position of the view, with the
   other party's secret A vs B (own input fixed), and real vs simulated: two-sample tests per position,
   a per-bit balance test (two-proportion z-test for each of the 64 bits) and Kolmogorov-Smirnov on the
   values as fractions of 2^64 (mod t for HE), Bonferroni-corrected to a family-wise alpha = 1e-3;
3. consistency -- the real output, opened by the harness, satisfies the entry's check against the ideal.

POWER. A 1-bit routing decision carried deterministically by d elements of an opened value makes that
bit 1 under A and 0 under B in those elements: the element-wise statistic is chi2 = 2 R d on d degrees of
freedom, p about exp(-R d) for small d. The corrected threshold is about 1e-3 / (129 x positions), 1e-8
for a hundred positions, so R d >= 20 is needed: 10 runs for a leak in 2 elements, 6 runs for the
contrast pairs the routing-sensitive entries carry (all tokens to one expert vs spread: every selected
index differs). A leak that shifts the distribution of many elements is caught by the pooled per-bit
test: a bias delta is found when delta > (z_alpha' + z_0.01) sqrt(2 p (1 - p) / N), N = R n samples per
side (delta > 0.1 at N = 2000). A leak that only shifts the SHAPE (message sizes, like per-expert counts)
is caught by check 1.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

ALPHA = 1e-3
TESTED = ("opened", "received", "dealer", "decrypted")


@dataclass
class View:
    party: str
    items: list = field(default_factory=list)

    @property
    def shape(self) -> tuple:
        return tuple((it.kind, it.step, it.sender, int(it.values.numel())) for it in self.items)


def view_of(run, party: str) -> View:
    return View(party, list((run.views or {}).get(party) or []))


def _owner(entry, params) -> dict[str, int]:
    return {s.name: s.owner for s in entry.input_specs(params)}


def fake_inputs(entry, params, seed: int) -> dict:
    """An input drawn from the entry's input domain with a fixed seed (no secret involved)."""
    from analysis.report import draw_example_inputs

    return draw_example_inputs(entry, params, seed)


def real_view(entry, params, inputs, party: str, seed: int, *, dealer: str | None = None) -> tuple[View, object]:
    from analysis.harness import run_real

    run = run_real(entry, params, inputs, seed=seed, record_views=True, dealer=dealer)
    return view_of(run, party), run


def simulate(entry, party: str, own_input: dict, own_output, params, seed: int) -> View:
    """The party's view from its own input, its output and the leakage (module docstring)."""
    rank = 0 if party == "client" else 1
    fake = fake_inputs(entry, params, 10_000 + seed)
    owners = _owner(entry, params)
    inputs = {k: (own_input[k] if owners[k] == rank else fake[k]) for k in owners}
    view, _ = real_view(entry, params, inputs, party, seed, dealer="honest")
    view.output = own_output
    return view


def _as_u64(values) -> np.ndarray:
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
    """Survival function of chi-square with k degrees of freedom (Wilson-Hilferty)."""
    if k <= 0:
        return 1.0
    z = ((x / k) ** (1 / 3) - (1 - 2 / (9 * k))) / math.sqrt(2 / (9 * k))
    return 0.5 * math.erfc(z / math.sqrt(2))


def elementwise_problems(a: list[np.ndarray], b: list[np.ndarray], threshold: float) -> list[str]:
    """Element-wise: for each bit, a 2x2 chi-square per element (runs with a 1 under A vs B), summed over
    the informative elements: chi-square with one degree of freedom each under H0. Catches a value that
    depends on the secret element by element even when the pooled multiset does not change."""
    A, Bm = np.stack(a), np.stack(b)                                   # runs x elements
    if A.shape != Bm.shape or A.shape[0] < 2:
        return []
    R = A.shape[0]
    for bit in range(64):
        ka = ((A >> np.uint64(bit)) & np.uint64(1)).sum(0).astype(np.float64)
        kb = ((Bm >> np.uint64(bit)) & np.uint64(1)).sum(0).astype(np.float64)
        tot = ka + kb
        ok = (tot > 0) & (tot < 2 * R)
        if not ok.any():
            continue
        chi = (2 * R * (ka - kb) ** 2 / (tot * (2 * R - tot)))[ok]
        p = _chi2_sf(float(chi.sum()), int(ok.sum()))
        if p < threshold:
            return [f"bit {bit} element-wise: chi2 = {chi.sum():.1f} on {int(ok.sum())} elements (p = {p:.2g})"]
    return []


def compare_samples(a: list[np.ndarray], b: list[np.ndarray], tests: int) -> list[str]:
    """Two-sample tests on one view position (lists of per-run value arrays); '' list if alike."""
    va, vb = np.concatenate(a), np.concatenate(b)
    if len(va) < 2 or len(vb) < 2:
        return []
    threshold = ALPHA / max(tests, 1)
    problems = []
    bits_a = ((va[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).mean(0)
    bits_b = ((vb[:, None] >> np.arange(64, dtype=np.uint64)) & np.uint64(1)).mean(0)
    pooled = (bits_a * len(va) + bits_b * len(vb)) / (len(va) + len(vb))
    se = np.sqrt(pooled * (1 - pooled) * (1 / len(va) + 1 / len(vb)))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.where(se > 0, np.abs(bits_a - bits_b) / se, np.where(bits_a != bits_b, np.inf, 0.0))
    p = np.array([math.erfc(float(v) / math.sqrt(2)) for v in z])
    if (p < threshold).any():
        bit = int(np.argmin(p))
        problems.append(f"bit {bit}: frequency {bits_a[bit]:.3f} vs {bits_b[bit]:.3f}")
    ks = _ks_pvalue(va.astype(np.float64), vb.astype(np.float64))
    if ks < threshold:
        problems.append(f"KS p = {ks:.2g}")
    return problems + elementwise_problems(a, b, threshold)


def distribution_problems(views_a: list[View], views_b: list[View], label: str) -> list[str]:
    """Position-wise two-sample tests between two families of views with the same shape."""
    if not views_a or not views_b:
        return []
    shapes = {v.shape for v in views_a + views_b}
    if len(shapes) > 1:
        return [f"{label}: the views' shapes vary ({len(shapes)} different message sequences)"]
    positions = [i for i, it in enumerate(views_a[0].items) if it.kind in TESTED]
    tests = len(positions) * 129
    problems = []
    for i in positions:
        it = views_a[0].items[i]
        if any(len(v.items) <= i for v in views_a + views_b):
            return [f"{label}: views differ in length"]
        found = compare_samples([_as_u64(v.items[i].values) for v in views_a],
                                [_as_u64(v.items[i].values) for v in views_b], tests)
        problems += [f"{label}: {it.kind} value at step '{it.step}' (#{i}, from {it.sender}): {m}" for m in found]
    return problems


def security_check(entry, params, inputs_a, inputs_b, *, runs: int = 6, seed: int = 0) -> dict[str, list[str]]:
    """Shape, distribution and consistency checks for both parties (module docstring)."""
    from analysis.harness import signature_difference

    owners = _owner(entry, params)
    out = {"shape": [], "distribution": [], "consistency": []}
    for party, rank in (("client", 0), ("server", 1)):
        # only the OTHER party's secret changes between A and B
        inputs_bb = {k: (inputs_a[k] if owners[k] == rank else inputs_b[k]) for k in owners}
        real_a, real_b, sims = [], [], []
        for r in range(runs):
            va, run_a = real_view(entry, params, inputs_a, party, seed + r)
            vb, run_b = real_view(entry, params, inputs_bb, party, seed + 100 + r)
            real_a.append(va)
            real_b.append(vb)
            if r == 0:
                for inputs, run in ((inputs_a, run_a), (inputs_bb, run_b)):
                    bad = entry.check(entry.ideal(params, inputs), run.outputs, params, inputs)
                    out["consistency"] += [f"{party}: {m}" for m in bad]
                if signature_difference(run_a, run_b):
                    out["shape"].append(f"{party}: transcript differs between two secrets of the other party: "
                                        f"{signature_difference(run_a, run_b)}")
            own = {k: v for k, v in inputs_a.items() if owners[k] == rank}
            sims.append(simulate(entry, party, own, None, params, seed + 200 + r))
        if real_a[0].shape != sims[0].shape:
            diff = next((f"#{i}: real {x} vs simulated {y}" for i, (x, y) in
                         enumerate(zip(real_a[0].shape, sims[0].shape)) if x != y),
                        f"{len(real_a[0].shape)} vs {len(sims[0].shape)} items")
            out["shape"].append(f"{party}: real view and simulated view differ at {diff}")
            continue
        if real_a[0].shape != real_b[0].shape:
            continue
        out["distribution"] += distribution_problems(real_a, real_b, f"{party}, secret A vs B")
        out["distribution"] += distribution_problems(real_a, sims, f"{party}, real vs simulated")
    return out
