"""Running the security checks on a registered protocol (the checks themselves are ``simulators/``).

``security_check(entry, params, inputs, runs, seed)`` returns, per check, the problems found:

* ``ledger`` -- the mask ledger (``simulators/ledger.py``), exact: the claims of every view of every run
  below, and the redraws: one run, then ``REDRAWS`` runs per party with that party's knowledge fixed and
  everything it does not hold drawn afresh;
* ``shape`` -- the views' structure (kind, step, sender, size) and the transcript signature (sizes, order,
  ROUNDS) must not change with the other party's secret;
* ``distribution`` -- the statistical tests (``simulators/security.py``) between the real views with the
  other party's secret A and with B, and between real and simulated views (``simulate_views``: from the
  party's own inputs and fresh randomness, never the other party's input);
* ``consistency`` -- the real outputs satisfy the entry's check against the ideal outputs.

The secrets are several contrast pairs, never the minimal example: the entry's own contrast pair if it
has one (e.g. every token to one expert vs spread out), a pair drawn at random from the input domain, and
a pair that differs in one element of the other party's inputs only (one token's row, one weight), and,
for the transcript signature only, a pair whose real-valued secrets, zeros filled from other draws, are
negated (a branch on any secret's sign flips) -- ``contrast_pairs``. Every run of every pair has its own seed, so an occasional leak has
as many chances to fire as there are runs (the ledger's claims are checked on every run).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from analysis.registry import Entry, Inputs, Params
from analysis.runs import run_real, signature_difference
from analysis.strategies import draw_example_inputs
from simulators.ledger import claim_problems, mask_problems, redraw_problems
from simulators.security import ALPHA, View, distribution_problems, simulate, view_of

REDRAWS = 2
PARTIES = (("client", 0), ("server", 1))
#: the runs of one ledger pass: the base run, then per party one run with the other's secret changed
#: and ``REDRAWS`` with the other's randomness redrawn
LEDGER_RUNS = 1 + 2 * (1 + REDRAWS)


@dataclass
class Pair:
    """Two inputs with the same public parameters whose secrets differ; ``shape_only``: one run each,
    for the transcript signature only (sizes, order, rounds)."""

    label: str
    params: Params
    a: Inputs
    b: Inputs
    shape_only: bool = False


def _owners(entry: Entry, params: Params) -> dict[str, int]:
    return {s.name: s.owner for s in entry.input_specs(params)}


def one_element_apart(entry: Entry, params: Params, a: Inputs, b: Inputs) -> Inputs:
    """``a`` with the first row (the first element of a vector) of every input taken from ``b``: one
    token's row of x, one row of each weight matrix, one routing row."""
    out = {}
    for name, value in a.items():
        other = b[name]
        if value.dim() == 0:
            out[name] = other.clone()
            continue
        changed = value.clone()
        changed[0] = other[0]
        out[name] = changed
    return out


def _valid(entry: Entry, params: Params, inputs: Inputs) -> bool:
    try:
        entry.validate(params, inputs)
    except Exception:  # noqa: BLE001 - any refusal: not in the input domain
        return False
    return True


def nonzero(entry: Entry, params: Params, a: Inputs, seed: int, draws: int = 8) -> Inputs:
    """``a`` with its real-valued zeros filled from fresh draws, element by element, wherever the result
    stays in the input domain (a branch on a secret's sign must see a sign to flip)."""
    integer = {s.name for s in entry.input_specs(params) if s.integer}
    out = {k: v.clone() for k, v in a.items()}
    for j in range(draws):
        if all(bool((out[k] != 0).all()) for k in out if k not in integer):
            break
        fresh = draw_example_inputs(entry, params, seed + 2 + j)
        for k in out:
            if k in integer:
                continue
            filled = torch.where(out[k] == 0, fresh[k], out[k])
            if _valid(entry, params, {**out, k: filled}):
                out[k] = filled
    return out


def negated(entry: Entry, params: Params, a: Inputs) -> Inputs | None:
    """``a`` with every real-valued input negated (integer inputs kept): every sign a secret branch could
    test flips. None where the input domain is not symmetric (the entry refuses the negated inputs)."""
    integer = {s.name for s in entry.input_specs(params) if s.integer}
    if all(k in integer for k in a):
        return None
    out = {k: (v.clone() if k in integer else -v) for k, v in a.items()}
    return out if _valid(entry, params, out) else None


def contrast_pairs(entry: Entry, params: Params, seed: int) -> list[Pair]:
    """The secrets the checks contrast (module docstring): the entry's own pair, a drawn pair, a pair one
    element apart, and (transcript signature only) a pair whose real-valued secrets are negated."""
    pairs = []
    if entry.contrast is not None:
        p, a, b = entry.contrast()
        pairs.append(Pair("contrast", p, a, b))
    a = draw_example_inputs(entry, params, seed)
    b = draw_example_inputs(entry, params, seed + 1)
    pairs.append(Pair("drawn", params, a, b))
    pairs.append(Pair("one element apart", params, a, one_element_apart(entry, params, a, b)))
    signed = nonzero(entry, params, a, seed)
    flipped = negated(entry, params, signed)
    if flipped is not None:
        pairs.append(Pair("negated", params, signed, flipped, shape_only=True))
    return pairs


def simulate_views(entry: Entry, party: str, params: Params, own_inputs: Inputs, count: int, seed: int,
                   runs: Runs | None = None, draw=None) -> list[View]:
    """``count`` simulated views of ``party`` from what it may know: the public parameters (the declared
    leakage: sizes), its own inputs and its ideal output -- never the other party's input. The view's
    STRUCTURE (kinds, steps, sizes, claimed protections: a function of the public parameters for a
    data-oblivious protocol, which the shape check enforces) is taken from one run on the party's own
    inputs and FAKE inputs for the other party, drawn afresh; every value is then replaced by fresh
    randomness (``simulators.security.simulate``). ``draw(seed) -> inputs`` draws the fake inputs
    (default: a Hypothesis example)."""
    rank = dict(PARTIES)[party]
    owners = _owners(entry, params)
    fake = (draw or (lambda s: draw_example_inputs(entry, params, s)))(50_000 + seed)
    inputs = {k: (own_inputs[k] if owners[k] == rank else fake[k]) for k in owners}
    template = (runs or Runs(entry))(params, inputs, seed + 999)
    # every protocol here leaves its outputs SHARED: a party's ideal output is a uniform share (drawn by
    # the simulator with the rest), so there is no output to hand the simulator
    return [simulate(view_of(template, party), None, seed + r) for r in range(count)]


class Runs:
    """Runs of one entry with views recorded; the ledger's claims (``claim_problems``) are checked on
    EVERY run made through it, so an occasional leak is caught in each run where it fires."""

    def __init__(self, entry: Entry) -> None:
        self.entry, self.count, self.claims = entry, 0, []
        #: the number of the first run whose claims failed (None: none did)
        self.first_claimed: int | None = None

    def __call__(self, params: Params, inputs: Inputs, seed: int, private=(None, None)):
        run = run_real(self.entry, params, inputs, seed=seed, record_views=True, private_seeds=private)
        self.count += 1
        for party, _ in PARTIES:
            found = [str(p) for p in claim_problems((run.views or {}).get(party) or [], party)]
            if found and self.first_claimed is None:
                self.first_claimed = self.count
            self.claims += found
        return run


def most_different(entry: Entry, params: Params, inputs: Inputs, owner: int, seed: int, draws: int = 8) -> Inputs:
    """Of ``draws`` fresh draws, the one whose inputs of party ``owner`` differ from ``inputs`` in the most
    elements (a combination the ledger finds must move with that party's secret: a draw that happens to
    repeat it, e.g. the same routing, would hide the move)."""
    owned = [s.name for s in entry.input_specs(params) if s.owner == owner]
    best, score = None, -1
    for j in range(draws):
        cand = draw_example_inputs(entry, params, seed + 1 + j)
        diff = sum(int((cand[k] != inputs[k]).sum()) for k in owned)
        if diff > score:
            best, score = cand, diff
    return best


def ledger_problems(entry: Entry, params: Params, inputs: Inputs, seed: int, redraws: int = REDRAWS,
                    other_inputs: Inputs | None = None, runs: Runs | None = None) -> list[str]:
    """The mask ledger on one input: redraws (``simulators/ledger.py``), both parties, and the claims of
    every run it makes (``runs.claims``). ``other_inputs``: the secrets a combination must move with
    (default: a second draw)."""
    runner = runs if runs is not None else Runs(entry)
    base_private = (10_000 + seed, 20_000 + seed)
    base = runner(params, inputs, seed, base_private)
    owners = _owners(entry, params)
    out = []
    for party, rank in PARTIES:
        other = other_inputs if other_inputs is not None else most_different(entry, params, inputs, 1 - rank, seed)
        mixed = {k: (inputs[k] if owners[k] == rank else other[k]) for k in owners}
        try:
            changed = runner(params, mixed, seed, base_private)
        except Exception:  # noqa: BLE001 - a second input the protocol refuses gives no verdict, not an error
            changed = None
        view = (base.views or {}).get(party) or []
        redrawn = []
        for j in range(redraws):
            private = list(base_private)
            private[1 - rank] = 30_000 + 1000 * j + seed          # the OTHER party's randomness, afresh
            redrawn.append(runner(params, inputs, seed, tuple(private)))
        own0 = (base.own or {}).get(party)
        changed_view = (changed.views or {}).get(party) if changed is not None else None
        if changed_view is not None and [i.values.numel() for i in changed_view] != [i.values.numel() for i in view]:
            changed_view = None                           # the structure moved: the shape check reports it
        redrawn_views = [(r.views or {}).get(party) or [] for r in redrawn]
        out += [str(p) for p in redraw_problems(
            party, view, redrawn_views, own0,
            [(r.own or {}).get(party) for r in redrawn] if own0 is not None else None,
            changed_view, (changed.own or {}).get(party) if changed is not None else None)]
        if base.masks is not None:
            out += [str(p) for p in mask_problems(party, view, redrawn_views, base.masks,
                                                  [r.masks or {} for r in redrawn])]
    if runs is None:
        out = runner.claims + out
    return _unique(out)


def _unique(items: list[str]) -> list[str]:
    return list(dict.fromkeys(items))


def security_check(entry: Entry, params: Params, inputs: Inputs, *, runs: int = 6, seed: int = 0,
                   pairs: list[Pair] | None = None, runner: Runs | None = None) -> dict[str, list[str]]:
    """Every security check of the module docstring; ``pairs`` default to ``contrast_pairs``; ``runner``
    (optional) counts the runs made."""
    runner = runner if runner is not None else Runs(entry)
    pairs = pairs if pairs is not None else contrast_pairs(entry, params, seed)
    # ALPHA is the false-alarm rate of the whole check: split over its families (2 parties x 2 comparisons)
    alpha = ALPHA / max(1, 4 * sum(not p.shape_only for p in pairs))
    out = {"ledger": ledger_problems(entry, params, inputs, seed, runs=runner), "shape": [], "distribution": [],
           "consistency": []}
    for j, pair in enumerate(pairs):
        owners = _owners(entry, pair.params)
        n = 1 if pair.shape_only else runs
        base = seed + 1000 * (j + 1)                # every run of every pair has its own seed
        real_a = [runner(pair.params, pair.a, base + r) for r in range(n)]
        bad = entry.check(entry.ideal(pair.params, pair.a), real_a[0].outputs, pair.params, pair.a)
        out["consistency"] += [f"{pair.label}: {m}" for m in bad]
        for party, rank in PARTIES:
            # only the OTHER party's secret changes between A and B
            mixed = {k: (pair.a[k] if owners[k] == rank else pair.b[k]) for k in owners}
            real_b = [runner(pair.params, mixed, base + 100 * (rank + 1) + r) for r in range(n)]
            diff = signature_difference(real_a[0], real_b[0])
            if diff:
                out["shape"].append(f"{pair.label}, {party}: the transcript changes with the other party's "
                                    f"secret: {diff}")
                continue
            if pair.shape_only:
                continue
            views_a = [view_of(r, party) for r in real_a]
            views_b = [view_of(r, party) for r in real_b]
            if views_a[0].shape != views_b[0].shape:
                out["shape"].append(f"{pair.label}, {party}: its view's structure changes with the other "
                                    f"party's secret")
                continue
            own = {k: v for k, v in pair.a.items() if owners[k] == rank}
            sims = simulate_views(entry, party, pair.params, own, runs, base + 500, runner)
            if sims[0].shape != views_a[0].shape:
                out["shape"].append(f"{pair.label}, {party}: the view's structure changes with the inputs")
                continue
            label = f"{pair.label}, {party}"
            out["distribution"] += distribution_problems(views_a, views_b, f"{label}, secret A vs B", alpha)
            out["distribution"] += distribution_problems(views_a, sims, f"{label}, real vs simulated", alpha)
    out["ledger"] = runner.claims + out["ledger"]
    return {k: _unique(v) for k, v in out.items()}
