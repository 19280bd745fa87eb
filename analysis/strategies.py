"""Hypothesis building blocks shared by the entries' strategies (edge cases first: ties, zeros, extremes)."""
from __future__ import annotations

import contextlib
import math
from typing import Iterator

import numpy as np
import torch
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from functionalities.fixed_point import FIXED_POINT_RANGE, quantize

#: values that collide often (ties), zeros, and the edges of the fixed-point range
TIE_VALUES = [0.0, 1.0, -1.0, 0.5, 2.0, -3.25, FIXED_POINT_RANGE, -FIXED_POINT_RANGE]


def fixed_values(bound: float = FIXED_POINT_RANGE) -> st.SearchStrategy[float]:
    """Floats within ``[-bound, bound]``, mixing frequent tie values and the range edges."""
    ties = [v for v in TIE_VALUES if abs(v) <= bound] + [bound, -bound]
    return st.one_of(st.sampled_from(ties), st.floats(-bound, bound, allow_nan=False, width=32))


#: arrays of up to this many entries are drawn entry by entry (every value a Hypothesis choice); bigger ones
#: in a compact form of O(sqrt n) choices, so that medium sizes (thousands of entries, several tensors per
#: example) stay well inside Hypothesis's per-example budget (about a thousand floats in all)
DENSE_MAX = 48
#: values drawn from ``elements`` for the bulk of a big array (its ties, zeros and range edges)
POOL_MAX = 16
#: how often a big array's entry is one of the pool's values rather than a fresh value of the pool's range
POOL_RATES = (0.0, 0.25, 0.75, 1.0)


def _spread(shape: tuple[int, ...], dtype: np.dtype, pool: list, rate: float, seed: int, overlay: list) -> np.ndarray:
    """A big array drawn compactly: every entry is, with probability ``rate``, one of the ``pool`` values
    (drawn from ``elements``: ties, zeros, edges), else uniform in [min(pool), max(pool)]; then the
    ``overlay`` (index, value) pairs, drawn from ``elements`` too, at the positions Hypothesis chose."""
    n = math.prod(shape)
    rng = np.random.default_rng(seed)
    values = np.asarray(pool, dtype=dtype)
    lo, hi = values.min(), values.max()
    if dtype.kind == "f":
        fresh = rng.uniform(float(lo), float(hi), n) if hi > lo else np.full(n, lo, dtype=dtype)
    else:
        fresh = rng.integers(int(lo), int(hi), n, endpoint=True)
    out = np.where(rng.random(n) < rate, values[rng.integers(0, len(values), n)], fresh).astype(dtype)
    for i, v in overlay:
        out[i] = v
    return out.reshape(shape)


def array(shape: tuple[int, ...], elements: st.SearchStrategy, dtype=np.float64) -> st.SearchStrategy[np.ndarray]:
    """A numpy array of ``shape`` whose entries come from ``elements`` -- any size.

    Up to ``DENSE_MAX`` entries: ``hypothesis.extra.numpy.arrays`` draws every entry. Bigger: one of
    * ``arrays(..., fill=elements)``: one background value drawn from ``elements`` everywhere (an array of
      ties) but at about sqrt(n) positions, each a fresh value of ``elements``;
    * a pool of up to ``POOL_MAX`` values of ``elements`` spread over the array (each entry a pool value
      at a drawn rate -- ties, zeros, range edges -- else uniform between the pool's smallest and largest
      value) by a seeded generator whose seed Hypothesis draws, plus a few entries at chosen positions.
      This assumes ``elements`` covers an interval (every privmoe strategy does: a range plus values in it).
    """
    shape = tuple(int(s) for s in shape)
    n = math.prod(shape)
    dtype = np.dtype(dtype)
    if n <= DENSE_MAX:
        return arrays(dtype, shape, elements=elements, fill=st.nothing())
    spread = st.builds(_spread, st.just(shape), st.just(dtype), st.lists(elements, min_size=1, max_size=POOL_MAX),
                       st.sampled_from(POOL_RATES), st.integers(0, 2**32 - 1),
                       st.lists(st.tuples(st.integers(0, n - 1), elements), max_size=math.isqrt(n)))
    return st.one_of(spread, arrays(dtype, shape, elements=elements, fill=elements))


def tensor(shape: tuple[int, ...], elements: st.SearchStrategy[float]) -> st.SearchStrategy[torch.Tensor]:
    """A float64 tensor of ``shape`` whose entries come from ``elements`` (quantised to fixed point); any
    size (``array``)."""
    return array(shape, elements, np.float64).map(lambda a: quantize(torch.tensor(a, dtype=torch.float64)))


def int_tensor(shape: tuple[int, ...], lo: int, hi: int) -> st.SearchStrategy[torch.Tensor]:
    """An integer tensor of ``shape`` with entries in [lo, hi], the two ends frequent; any size (``array``)."""
    ints = st.one_of(st.sampled_from(sorted({lo, hi})), st.integers(lo, hi))
    return array(shape, ints, np.int64).map(lambda a: torch.tensor(a, dtype=torch.long))


# -- MoE routing ---------------------------------------------------------------------------------------
SCORE_TIES = [0.0, 0.25, 0.5, 1.0]


def routing_params(max_tokens: int = 4, max_experts: int = 4, with_hidden: bool = True, with_ffn: bool = False):
    """(m, E, k, t[, d][, f]) with the edge cases: k = E, m < E, t = 1, t = m, t = k m."""
    def build(mek):
        m, e, k = mek
        caps = [1, min(m, k * m), k * m]
        fields = {"tokens": st.just(m), "experts": st.just(e), "top_k": st.just(k),
                  "capacity": st.one_of(st.sampled_from(caps), st.integers(1, k * m))}
        if with_hidden:
            fields["hidden"] = st.integers(1, 3)
        if with_ffn:
            fields["ffn"] = st.integers(1, 3)
        return st.fixed_dictionaries(fields)

    return st.tuples(st.integers(1, max_tokens), st.integers(1, max_experts)).flatmap(
        lambda me: st.tuples(st.just(me[0]), st.just(me[1]), st.one_of(st.just(me[1]), st.integers(1, me[1])))
    ).flatmap(build)


#: routings with up to this many (token, expert) pairs draw each token's permutation; bigger ones draw a seed
ROUTING_DENSE_MAX = 256


def _seeded_routing(tokens: int, experts: int, top_k: int, first_zero: float, alpha: float, seed: int) -> torch.Tensor:
    """K for a big routing: each token's k distinct experts drawn by a seeded generator, from one
    Dirichlet(alpha) popularity over the experts (small alpha: most tokens on a few experts, capacity
    overflows; large: balanced); a ``first_zero`` share of the tokens put expert 0 first."""
    rng = np.random.default_rng(seed)
    popularity = rng.dirichlet(np.full(experts, alpha)) + 1e-9
    popularity /= popularity.sum()
    rows = []
    for _ in range(tokens):
        if experts > 1 and rng.random() < first_zero:
            rest = popularity[1:] / popularity[1:].sum()
            rows.append([0] + list(1 + rng.choice(experts - 1, top_k - 1, replace=False, p=rest)))
        else:
            rows.append(list(rng.choice(experts, top_k, replace=False, p=popularity)))
    return torch.tensor(rows, dtype=torch.long).reshape(tokens, top_k)


def routing_inputs(tokens: int, experts: int, top_k: int) -> st.SearchStrategy[dict]:
    """K (m, k): k distinct experts per token -- either every token's first choice is expert 0 (all to one
    expert) or a free permutation (for more than ``ROUTING_DENSE_MAX`` token-expert pairs: seeded, with a
    drawn skew, ``_seeded_routing``); W (m, k): scores in [0, 1] with frequent ties and zeros."""
    if tokens * experts <= ROUTING_DENSE_MAX:
        perm = st.permutations(list(range(experts))).map(lambda p: p[:top_k])
        first_zero = st.permutations(list(range(1, experts))).map(lambda p: [0] + list(p[:top_k - 1]))
        row = st.one_of(perm, first_zero) if experts > 1 else perm
        K = st.lists(row, min_size=tokens, max_size=tokens).map(
            lambda rows: torch.tensor(rows, dtype=torch.long).reshape(tokens, top_k))
    else:
        K = st.builds(_seeded_routing, st.just(tokens), st.just(experts), st.just(top_k),
                      st.sampled_from([0.0, 0.5, 1.0]), st.sampled_from([0.05, 1.0, 100.0]), st.integers(0, 2**32 - 1))
    all_one = st.just(torch.tensor([[0] + list(range(1, top_k)) for _ in range(tokens)], dtype=torch.long))
    W = tensor((tokens, top_k), st.one_of(st.sampled_from(SCORE_TIES), st.floats(0, 1, allow_nan=False)))
    return st.fixed_dictionaries({"K": st.one_of(all_one, K), "W": W})


# -- drawing one example outside a test ----------------------------------------------------------------
@contextlib.contextmanager
def _reproducible() -> Iterator[None]:
    """Hypothesis (>= 6.131) mixes into its draws literal constants it mines from every local module the
    process has imported so far: the same seed then gives a different example depending on what ran
    before (an import, another test). A seeded example draw must not depend on that, so none are mined
    while it runs (``hypothesis.internal.conjecture.providers``; a no-op on versions without them)."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants
        from sortedcontainers import SortedSet
        mined = providers._get_local_constants
        empty = Constants(integers=SortedSet(), floats=SortedSet(key=providers.float_to_int), bytes=SortedSet(),
                          strings=SortedSet())
    except (ImportError, AttributeError):
        yield
        return
    providers._get_local_constants = lambda: empty
    providers.CONSTANTS_CACHE.cache.clear()
    try:
        yield
    finally:
        providers._get_local_constants = mined
        providers.CONSTANTS_CACHE.cache.clear()


def draw_example_inputs(entry, params: dict, seed: int, skip: int = 4) -> dict:
    """Inputs for given public parameters, drawn from the entry's strategy with a fixed seed. Hypothesis
    starts with the simplest example (often all zeros) whatever the seed: the ``skip``-th is random. The
    draw is the same inside and outside pytest (whatever Hypothesis profile is loaded)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed

    box = {}

    @hyp_seed(seed)
    @settings(max_examples=skip + 1, database=None, phases=[Phase.generate], deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(entry.inputs_strategy(params))
    def pick(inputs):
        box["inputs"] = inputs

    with _reproducible():
        pick()
    return box["inputs"]


def draw_example_params(entry, seed: int, skip: int = 4) -> dict:
    """Public parameters drawn from the entry's strategy (the ``skip``-th example: not the minimal one),
    resolved through the entry (defaults, derived values)."""
    from hypothesis import HealthCheck, Phase, given, settings
    from hypothesis import seed as hyp_seed

    box = {}

    @hyp_seed(seed)
    @settings(max_examples=skip + 1, database=None, phases=[Phase.generate], deadline=None, derandomize=False,
              suppress_health_check=list(HealthCheck))
    @given(entry.params_strategy())
    def pick(params):
        box["params"] = params

    with _reproducible():
        pick()
    return entry.resolve(box["params"])
