"""Hypothesis building blocks shared by the entries' strategies (edge cases first: ties, zeros, extremes)."""
from __future__ import annotations

import contextlib
from typing import Iterator

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


def routing_inputs(tokens: int, experts: int, top_k: int) -> st.SearchStrategy[dict]:
    """K (m, k): k distinct experts per token -- either every token's first choice is expert 0 (all to one
    expert) or a free permutation; W (m, k): scores in [0, 1] with frequent ties and zeros."""
    perm = st.permutations(list(range(experts))).map(lambda p: p[:top_k])
    first_zero = st.permutations(list(range(1, experts))).map(lambda p: [0] + list(p[:top_k - 1]))
    row = st.one_of(perm, first_zero) if experts > 1 else perm
    K = st.lists(row, min_size=tokens, max_size=tokens).map(lambda rows: torch.tensor(rows, dtype=torch.long))
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
