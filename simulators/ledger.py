"""The mask ledger: an EXACT check that everything a party receives is protected, and by what.

Two layers, both exact (no statistics, so one run suffices for a deterministic leak, and an occasional
leak is caught in every run where it fires):

1. **Claims** (``claim_problems``, one run). Every item of a party's view carries the protection the
   runtime recorded for it (``protocols/runtime/ledger.py``): an opening consumes the masks the party's
   tuple provider handed out just before it (same size, first in first out); a one-way message carries its
   sender's claim; an HE frame the key or mask that hides its content; an HE answer's decryption noise the
   evaluator's flooding (``protocols/he/flooding.py``: drawn from its private generator, so it must move
   when that is redrawn, like a mask). An item with no claim, a mask of
   the wrong size, a mask the receiver itself holds, or a ciphertext under the receiver's own key is a
   problem.

2. **Redraws** (``redraw_problems``, the same inputs run again ``k`` times). A claim is checked against
   what the run actually did. Everything the receiving party R knows is kept -- its input, its private
   seed, the seeds both parties share -- and everything it does not hold is drawn afresh: the other
   party's private seed (its dealer stream, its local draws, its HE masks). For each element v that R
   receives, its *signature* is what it moved by in each redraw: ``delta_j = v_j - v_0`` (mod 2^64, or mod
   t, or by XOR for binary masks). Then, with probability ~2^-64 of a false alarm per element:

   * **unprotected**: the signature is 0: v is a function of what R knows and of the inputs -- of the
     other party's secret, unless the value is declared (an output or admitted leakage);
   * **weak mask**: v moves, but only in its low bits (|delta| < 2^40 in every redraw of a 64-bit mask;
     for XOR masks, delta < 2^40);
   * **mask reuse**: two values R receives have the same (or opposite) signature, so their difference
     (or sum) depends on no mask R lacks, and that difference changes with the other party's secret (one
     more run, every seed as in the first, the other party's input replaced): one Beaver mask row used for
     every expert, or the dealer handing the client the server's halves of the masks it later opens.
     A claim does not decide how R may combine values: every 64-bit value is matched both mod 2^64 and
     by XOR;
   * **the receiver holds the mask**: a one-way payload's signature equals (or is opposite to) that of one
     of R's OWN shares, and their difference (sum) changes with the other party's secret: R adds them and
     the mask cancels -- the other party sent its share of a secret R holds the other share of. (Openings,
     dealer corrections and decryptions are not matched against R's shares: R builds its next shares from
     them by design.)
   (Combinations that do not change with the other party's secret are things R knew already, e.g. the
   dealer's correction and the share R builds from it.)

   * **false claim**: an opening's claimed masks are not what hides it. Each party logs its part of the
     masks its provider handed out; the opened value minus the full mask (both parts) is the secret value
     itself, which must not move when the masks are redrawn (up to the +-1 of CrypTen's probabilistic
     truncation: |change| < 2^40; for B2A's single bits, at most a quarter of the bits may flip, at ties).
     Beaver and square openings and B2A bits are checked so; binary circuits mask the parties' SHARES
     (CrypTen's A2B), which move by design, and rest on the signature tests above.
     A bit secret is a DECISION (a comparison, an equality): where the redrawn randomness breaks a tie the
     other way (two exactly equal fixed-point values, each truncated with its own +-1), every later secret
     that depends on the decision moves too -- a token routed to another expert changes the priorities of
     two experts, i.e. 2 of the 4 bits of the first step of a 4-expert compaction -- and the secret, not
     the mask, moved. So a B2A opening is compared in every PAIR of runs (the base run and each redraw,
     and the redraws with each other) whose earlier B2A secrets were all equal: they made the same
     decisions, so this secret can differ only at its own ties, while a false claim moves it in every run.
     If no pair of runs made the same decisions, the base run is compared with each redraw as if none had
     diverged. (Beaver and square openings: the base run against each redraw, always.)

   Bit-valued openings cannot be told from chance by a few redraws on their own: the false-claim test is
   what checks the dealer's B2A bits. A claim of a dealer's mask (Beaver, square, B2A) on a value no
   dealer mask was handed out for is itself a false claim (layer 1); any other 1-bit claim is redrawn
   like every value. The ledger trusts the RUNTIME's records (frame headers, the provider's log of mask
   parts), never a protocol's claims.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

RECEIVED_KINDS = ("opened", "received", "gathered", "dealer", "decrypted", "noise")
ONE_WAY_KINDS = ("received", "gathered")
XOR_SOURCES = ("binary triple", "B2A bit")
WEAK_BELOW = 2 ** 40
LEAK_CLASSES = ("unprotected", "mask size", "receiver holds the mask", "key owner", "weak mask", "mask reuse",
                "false claim", "randomness-dependent shape")
#: the claims the false-claim test checks, with the algebra that removes the mask
VERIFIED = {"beaver triple": "add", "square pair": "add", "B2A bit": "xor"}


@dataclass(frozen=True)
class LedgerProblem:
    """One finding: the class of leak, the party that learns, the step and the message (its index in the
    party's view), and what was seen."""

    leak: str
    party: str
    step: str
    message: int
    detail: str

    def __str__(self) -> str:
        return f"{self.leak}: {self.party} learns at step '{self.step}', message #{self.message}: {self.detail}"


def _claim(item):
    p = item.protect
    return None if p is None or isinstance(p, tuple) else p


def claim_problems(view: list, party: str) -> list[LedgerProblem]:
    """Layer 1 (module docstring) on one view."""
    out = []
    for i, it in enumerate(view):
        if it.kind == "ciphertext":
            # hidden from its receiver by a key it does not hold, or (answers it will decrypt) by masks
            p = _claim(it)
            if p is None or p.kind == "declared":
                out.append(LedgerProblem("unprotected", party, it.step, i,
                                         "a ciphertext frame whose content nothing hides from its receiver"))
            elif p.owner == party:
                out.append(LedgerProblem("key owner" if p.kind == "ciphertext" else "receiver holds the mask",
                                         party, it.step, i, f"its content is hidden by its own {p.source}"))
            continue
        if it.kind not in RECEIVED_KINDS:
            continue
        if isinstance(it.protect, tuple):
            _, p, expected = it.protect
            out.append(LedgerProblem("mask size", party, it.step, i,
                                     f"an opening of {it.values.numel()} elements under {p.source} masks of "
                                     f"{expected} elements"))
        elif it.protect is None:
            out.append(LedgerProblem("unprotected", party, it.step, i,
                                     f"a {it.kind} value of {it.values.numel()} elements from {it.sender} with "
                                     f"no mask, key or declaration"))
        elif it.protect.source in VERIFIED and (it.kind != "opened" or it.mask_index < 0):
            out.append(LedgerProblem("false claim", party, it.step, i,
                                     f"claims {it.protect.source} masks, which only the dealer's provider hands "
                                     f"out, for a {it.kind} value without any"))
        elif it.protect.kind == "mask" and it.protect.owner == party:
            out.append(LedgerProblem("receiver holds the mask", party, it.step, i,
                                     f"masked by its own {it.protect.source}"))
    return out


# -- layer 2: redraws -------------------------------------------------------------------------------------
def _domain(item) -> tuple[str, int]:
    """(algebra, modulus): ``add`` mod 2^64, ``xor``, or ``mod`` t."""
    p = _claim(item)
    if p is not None and p.source in XOR_SOURCES:
        return "xor", 0
    if p is not None and p.modulus:
        return "mod", int(p.modulus)
    return "add", 0


def _u64(t) -> np.ndarray:
    return np.asarray(t.numpy() if hasattr(t, "numpy") else t).astype(np.int64).view(np.uint64)


def _delta(a: np.ndarray, b: np.ndarray, algebra: str, modulus: int) -> np.ndarray:
    if algebra == "xor":
        return a ^ b
    if algebra == "mod":
        return ((b.astype(object) - a.astype(object)) % modulus).astype(np.uint64)
    return b - a                                   # uint64 arithmetic wraps mod 2^64


def _neg(d: np.ndarray, algebra: str, modulus: int) -> np.ndarray:
    if algebra == "xor":
        return d
    if algebra == "mod":
        return ((modulus - d.astype(object)) % modulus).astype(np.uint64)
    return (np.uint64(0) - d)


def _signature(deltas: list[np.ndarray], algebra: str, modulus: int) -> np.ndarray:
    """One uint64 per element: the first redraw's delta for 64-bit masks; the redraws' deltas combined
    (base t) for mod-t masks, so a signature keeps about 64 bits whatever the mask's domain."""
    if algebra != "mod":
        return deltas[0]
    sig = np.zeros_like(deltas[0])
    for d in deltas:
        sig = sig * np.uint64(modulus) + d
    return sig


def redraw_problems(party: str, base_view: list, redrawn_views: list[list], base_own: list | None = None,
                    redrawn_own: list[list] | None = None, changed_view: list | None = None,
                    changed_own: list | None = None, declared: tuple[str, ...] = ("dealer seed",)
                    ) -> list[LedgerProblem]:
    """Layer 2 (module docstring): ``base_view`` and the views of the same run with the other party's
    private randomness redrawn (``redrawn_views``, at least one), the party's own shares in each, and the
    view and own shares of the run with every seed as in the base run but the other party's secret
    changed (``changed_*``: a combination that moves there depends on that secret)."""
    if not redrawn_views:
        raise ValueError("redraw_problems needs at least one redrawn run")
    shape = lambda v: [(it.kind, it.step, it.sender, int(it.values.numel())) for it in v]  # noqa: E731
    for j, v in enumerate(redrawn_views):
        if shape(v) != shape(base_view):
            diff = next((i for i, (a, b) in enumerate(zip(shape(v), shape(base_view))) if a != b),
                        min(len(v), len(base_view)))
            step = base_view[diff].step if diff < len(base_view) else "(end)"
            return [LedgerProblem("randomness-dependent shape", party, step, diff,
                                  "the messages it receives change when only the other party's randomness "
                                  "changes")]
    out: list[LedgerProblem] = []
    # (algebra, modulus) -> lists of (signature, base value, item index, element index)
    pools: dict[tuple[str, int], list] = {}
    for i, it in enumerate(base_view):
        if it.kind not in RECEIVED_KINDS or it.values.numel() == 0:
            continue
        claim = _claim(it)
        if claim is not None and claim.source in VERIFIED and claim.bits == 1 and it.mask_index >= 0:
            continue                            # single dealer bits: the false-claim test checks them
        algebra, modulus = _domain(it)
        v0 = _u64(it.values)
        deltas = [_delta(v0, _u64(v[i].values), algebra, modulus) for v in redrawn_views]
        still = np.all(np.stack(deltas) == 0, axis=0)
        # the HE parameters blob is a function of the public parameters only (keys move with the client's
        # randomness anyway): a declared public value, like an output or admitted leakage
        is_declared = claim is not None and claim.kind == "declared" and claim.source in declared + (
            "output", "leakage", "HE public material")
        if still.any() and not is_declared:
            out.append(LedgerProblem("unprotected", party, it.step, i,
                                     f"{int(still.sum())} of {len(v0)} elements of a {it.kind} value do not move "
                                     f"when everything {party} does not hold is redrawn (first: element "
                                     f"{int(np.argmax(still))})"))
            continue
        if is_declared:
            continue
        if algebra != "mod":
            size = (np.abs(np.stack([d.view(np.int64) for d in deltas]).astype(np.float64)) if algebra == "add"
                    else np.stack(deltas).astype(np.float64))
            small = np.all(size < WEAK_BELOW, axis=0)
            if small.any():
                out.append(LedgerProblem("weak mask", party, it.step, i,
                                         f"{int(small.sum())} of {len(v0)} elements move only below 2^40 "
                                         f"when the masks are redrawn"))
                continue
        # a claim does not decide how a value may be combined: 64-bit values are matched both ways
        for alg in ((algebra,) if algebra == "mod" else ("add", "xor")):
            ds = deltas if alg == algebra else [_delta(v0, _u64(v[i].values), alg, 0) for v in redrawn_views]
            sig = _signature(ds, alg, modulus)
            neg = _signature([_neg(d, alg, modulus) for d in ds], alg, modulus)
            pools.setdefault((alg, modulus), []).append((sig, neg, v0, i))
    changed = _values(changed_view) if changed_view is not None else None
    out += _matches(party, base_view, pools, changed)
    if base_own is not None and redrawn_own:
        changed_own_flat = (np.concatenate([_u64(t.reshape(-1)) for t in changed_own])
                            if changed_own else None)
        out += _own_matches(party, base_view, pools, base_own, redrawn_own, changed, changed_own_flat)
    return out


def mask_problems(party: str, base_view: list, redrawn_views: list[list], base_masks: dict,
                  redrawn_masks: list[dict]) -> list[LedgerProblem]:
    """The false-claim test (module docstring). ``*_masks``: each party's mask-part log of each run."""
    other = "server" if party == "client" else "client"
    runs = [(base_view, base_masks)] + list(zip(redrawn_views, redrawn_masks))
    # every pair of runs, those with the base run first (the base run is the reference the details name)
    pairs = [(a, b) for a in range(len(runs)) for b in range(a + 1, len(runs))]
    #: the pairs of runs whose bit secrets (B2A openings) have differed so far: they took a decision (a
    #: tie broken by the redrawn randomness) differently, and every later bit secret may follow it
    diverged: set[tuple[int, int]] = set()
    out = []
    for i, it in enumerate(base_view):
        claim = _claim(it)
        if it.kind != "opened" or claim is None or claim.source not in VERIFIED or it.mask_index < 0:
            continue
        algebra, j = VERIFIED[claim.source], it.mask_index

        def unmasked(view, masks):
            try:
                mine, theirs = masks[party][j], masks[other][j]
                v = _u64(view[i].values)
            except (KeyError, IndexError, TypeError):
                return None
            if mine is None or theirs is None:
                return None
            a, b = _u64(mine), _u64(theirs)
            if len(a) != len(v) or len(b) != len(v):
                return None
            return v ^ a ^ b if algebra == "xor" else v + a + b        # (x - a) + a = x; x ^ a ^ a = x

        us = [unmasked(view, masks or {}) for view, masks in runs]
        present = [(a, b) for a, b in pairs if us[a] is not None and us[b] is not None]
        with_base = [pr for pr in present if pr[0] == 0]
        # Beaver and square secrets: the base run against each redraw (|change| < 2^40 covers a value that
        # followed a diverged decision); B2A bits: the pairs that made the same decisions so far
        compared = ([pr for pr in present if pr not in diverged] or with_base) if algebra == "xor" else with_base
        for a, b in compared:
            if algebra == "xor":
                moved = float(np.mean((us[a] ^ us[b]) != 0))
                bad = moved > 0.25
                detail = f"{moved:.0%} of its bits change when the masks are redrawn"
            else:
                change = np.abs((us[b] - us[a]).view(np.int64).astype(np.float64))
                bad = bool(np.any(change >= WEAK_BELOW))
                detail = f"{int(np.sum(change >= WEAK_BELOW))} of {len(us[a])} elements change by 2^40 or more"
            if bad:
                out.append(LedgerProblem("false claim", party, it.step, i,
                                         f"the {claim.source} masks it claims are not what hides it: minus "
                                         f"them, {detail}"))
                break
        if algebra == "xor":
            diverged.update(pr for pr in present if bool(np.any(us[pr[0]] != us[pr[1]])))
    return out


def _values(view: list) -> dict[int, np.ndarray]:
    return {i: _u64(it.values) for i, it in enumerate(view) if it.kind in RECEIVED_KINDS}


def _moves(before: int, after: int | None) -> bool:
    """A combination R can form is news to R only if it moves with the other party's secret (no second
    run: assume it does)."""
    return after is None or before != after


@dataclass
class _Pool:
    """Elements with their signature in canonical form: ``canon`` = min(signature, negated signature)
    and ``flip`` = whether the signature is the negated one, so equal ``canon`` means equal or opposite."""

    canon: np.ndarray
    flip: np.ndarray
    value: np.ndarray
    item: np.ndarray
    elem: np.ndarray


def _pool(entries) -> _Pool:
    sig = np.concatenate([e[0] for e in entries])
    neg = np.concatenate([e[1] for e in entries])
    return _Pool(np.minimum(sig, neg), sig > neg, np.concatenate([e[2] for e in entries]),
                 np.concatenate([np.full(len(e[0]), e[3]) for e in entries]),
                 np.concatenate([np.arange(len(e[0])) for e in entries]))


def _groups(canon: np.ndarray, side: np.ndarray | None = None, cap: int = 16):
    """Index lists of the elements sharing a canonical signature (two or more; with ``side``, at least
    one of each side), at most ``cap`` of each side per group."""
    order = np.argsort(canon, kind="stable")
    sc = canon[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    ends = np.r_[starts[1:], len(sc)]
    for lo, hi in zip(starts[ends - starts >= 2], ends[ends - starts >= 2]):
        members = order[lo:hi]
        if side is None:
            yield members[:cap], members[:cap]
        else:
            a, b = members[side[members] == 0], members[side[members] == 1]
            if len(a) and len(b):
                yield a[:cap], b[:cap]


def _matches(party: str, view: list, pools: dict, changed: dict | None = None) -> list[LedgerProblem]:
    """Mask reuse: equal or opposite signatures among the values the party receives (module docstring)."""
    for (algebra, modulus), entries in pools.items():
        p = _pool(entries)
        for left, right in _groups(p.canon):
            for a in left:
                for b in right:
                    if b <= a:
                        continue
                    opposite = bool(p.flip[a] != p.flip[b])
                    combined = _combine(p.value[a], p.value[b], algebra, modulus, opposite)
                    ia, ib = int(p.item[a]), int(p.item[b])
                    after = None if changed is None else _combine(
                        changed[ia][p.elem[a]], changed[ib][p.elem[b]], algebra, modulus, opposite)
                    if combined != 0 and _moves(combined, after):
                        return [LedgerProblem(
                            "mask reuse", party, view[ia].step, ia,
                            f"element {int(p.elem[a])} and element {int(p.elem[b])} of message #{ib} (step "
                            f"'{view[ib].step}') move together when the masks are redrawn, so their "
                            f"{'sum' if opposite else 'difference'} is unmasked")]
    return []


def _combine(x, y, algebra: str, modulus: int, opposite: bool) -> int:
    x, y = int(x), int(y)
    if algebra == "xor":
        return x ^ y
    if algebra == "mod":
        return (x + y) % modulus if opposite else (x - y) % modulus
    return ((x + y) if opposite else (x - y)) % 2 ** 64


def _own_matches(party: str, view: list, pools: dict, base_own: list, redrawn_own: list[list],
                 changed: dict | None = None, changed_own: np.ndarray | None = None) -> list[LedgerProblem]:
    """The receiver holds the mask: a one-way value moves exactly as one of the party's own shares does
    (or exactly opposite), and their difference (sum) moves with the other party's secret (module
    docstring)."""
    sizes = [int(t.numel()) for t in base_own]
    if not base_own or any([int(t.numel()) for t in other] != sizes for other in redrawn_own):
        return []                                       # the shares did not line up: no verdict
    own0 = np.concatenate([_u64(t.reshape(-1)) for t in base_own])
    own1 = np.concatenate([_u64(t.reshape(-1)) for t in redrawn_own[0]])
    if changed_own is not None and len(changed_own) != len(own0):
        changed_own = None
    for (algebra, modulus), entries in pools.items():
        if algebra == "mod":
            continue                                    # own shares live in Z_2^64 (or XOR), not mod t
        one_way = [e for e in entries if view[e[3]].kind in ONE_WAY_KINDS]
        if not one_way:
            continue
        osig = _delta(own0, own1, algebra, 0)
        keep = osig != 0
        oneg = _neg(osig[keep], algebra, 0)
        got = _pool(one_way)
        canon = np.concatenate([got.canon, np.minimum(osig[keep], oneg)])
        flip = np.concatenate([got.flip, osig[keep] > oneg])
        side = np.r_[np.zeros(len(got.canon), int), np.ones(int(keep.sum()), int)]
        oval = own0[keep]
        ochanged = changed_own[keep] if changed_own is not None else None
        n = len(got.canon)
        for left, right in _groups(canon, side):
            for a in left:
                for b in right:
                    opposite = bool(flip[a] != flip[b])
                    ia, ob = int(got.item[a]), int(b - n)
                    combined = _combine(got.value[a], oval[ob], algebra, 0, opposite)
                    after = (None if changed is None or ochanged is None else
                             _combine(changed[ia][got.elem[a]], ochanged[ob], algebra, 0, opposite))
                    if combined != 0 and _moves(combined, after):
                        return [LedgerProblem(
                            "receiver holds the mask", party, view[ia].step, ia,
                            f"element {int(got.elem[a])} moves exactly {'opposite to' if opposite else 'with'} "
                            f"one of {party}'s own shares: added together, the mask cancels")]
    return []
