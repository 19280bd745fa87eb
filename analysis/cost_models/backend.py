"""The primitive vocabulary of a cost backend, as a typed interface.

The generic compositions (``moe.py``, ``sorting.py``, ``moe_paper.py`` and the registry entries' cost
functions) take a backend module ``B`` -- ``crypten`` (exact for privmoe's runs) or ``cheetah`` (the
papers' SPU stack) -- and call only the members of :class:`CostBackend` on it. Each primitive has ONE name,
the name of the protocol in ``protocols/mpc/primitives.py`` it costs (``equal_zero``, ``less_than_zero``,
...); ``equal`` is the cost of the protocol ``Pi_equal`` (the labelled step), not a second name for
``equal_zero``. :class:`SpuBackend` adds the SPU ops that only the ``paper`` accounting (``moe_paper.py``,
the pipeline the CryptoMoE authors ran on SPU) uses; only ``cheetah`` provides it.

Sizes are element counts (``n`` elements, ``n_x`` and ``n_y`` operand elements, ``n_out`` results) or
matrix shapes ((m x k) @ (k x n), ``batch`` of them); every member returns a
:class:`~analysis.cost_models.cost.Cost`. ``vocabulary_problems`` checks a module against the interface:
every member present with the interface's parameter list, and no second name for a primitive.
"""
from __future__ import annotations

import inspect
from types import FunctionType
from typing import Protocol

from .cost import Cost

#: former second names of primitives: a backend must not define them (one name per primitive)
RETIRED_NAMES = ("eq", "lt", "less_than")


class CostBackend(Protocol):
    """What ``moe.py``, ``sorting.py`` and the entries' cost functions call on a backend ``B``."""

    # -- comparisons ------------------------------------------------------------------------------
    def less_than_zero(self, n: int) -> Cost:
        """n comparisons [x < 0] of shared values, an arithmetic 0/1 result each (a < b is one on a - b)."""

    def equal_zero(self, n: int) -> Cost:
        """n equality tests [x == 0] of shared values, an arithmetic 0/1 result each."""

    def eq_binary(self, n: int) -> Cost:
        """n equality tests [x == 0] whose bits stay boolean-shared (no conversion to arithmetic)."""

    # -- products and openings --------------------------------------------------------------------
    def mul(self, n_x: int, n_y: int | None = None, n_out: int | None = None) -> Cost:
        """Fixed-point product of shared operands of n_x and n_y (default n_x) elements, n_out results."""

    def square(self, n: int) -> Cost:
        """Fixed-point squares of n shared values."""

    def mux_bits(self, n_bits: int, n_data: int, n_out: int | None = None) -> Cost:
        """n_bits shared 0/1 bits times n_data shared values (either broadcast), n_out results, no truncation."""

    def open_values(self, n: int) -> Cost:
        """Open n shared values to both parties."""

    def matmul(self, m: int, k: int, n: int) -> Cost:
        """Shared (m x k) @ shared (k x n)."""

    def bmm(self, batch: int, m: int, k: int, n: int, left_batched: bool = True,
            right_batched: bool = True) -> Cost:
        """``batch`` shared products (m x k) @ (k x n); an operand that is not batched is broadcast."""

    def bmm_sum(self, batch: int, m: int, k: int, n: int) -> Cost:
        """sum over ``batch`` of shared products (m x k) @ (k x n)."""

    def wmm(self, batch: int, m: int, k: int, n: int, left_batched: bool = True) -> Cost:
        """``batch`` products of shared (m x k) rows with the server's own (k x n) weights, one per batch."""

    # -- nonlinear and sorting --------------------------------------------------------------------
    def silu(self, n: int) -> Cost:
        """SiLU x * sigmoid(x) of n shared values."""

    def topk_auto(self, rows: int, length: int, t: int, method: str = "auto") -> Cost:
        """privmoe's top-t of each of ``rows`` rows of ``length`` (``protocols.mpc.topk.choose_method``)."""

    # -- protocols (their step labels) ------------------------------------------------------------
    def equal(self, n: int) -> Cost:
        """Pi_equal on n elements (step ``equal``)."""

    def onehot(self, rows: int, width: int, classes: int) -> Cost:
        """Pi_onehot of rows x width shared indices over ``classes`` (step ``onehot``)."""

    def topk(self, rows: int, length: int, t: int, method: str = "auto") -> Cost:
        """Pi_topk: ``topk_auto`` filed as step ``topk``."""

    def gate(self, tokens: int, hidden: int, experts: int, top_k: int, method: str = "auto") -> Cost:
        """Pi_gate: steps ``logits``, ``topk`` (by ``method``, ``topk.ONEHOT_METHODS``), ``softmax``, ``select``."""


class SpuBackend(CostBackend, Protocol):
    """:class:`CostBackend` plus the SPU ops of the ``paper`` accounting (``moe_paper.py``): ``cheetah``."""

    def exp(self, n: int) -> Cost:
        """SPU's fixed-point exp of n shared values."""

    def reciprocal(self, n: int) -> Cost:
        """SPU's reciprocal of n shared values."""

    def gelu(self, n: int) -> Cost:
        """GeLU (tanh approximation) of n shared values."""

    def select(self, n: int) -> Cost:
        """n ``where(a > b, a, b)``: a comparison and a multiplexer each."""

    def mux(self, n: int) -> Cost:
        """n selects between two shared values by a shared bit."""

    def b2a(self, n: int) -> Cost:
        """n shared bits from boolean to arithmetic shares."""

    def onehot_op(self, n_indices: int, classes: int) -> Cost:
        """SPU's one_hot of n_indices shared integers over ``classes``."""

    def topk_op(self, rows: int, cols: int, k: int) -> Cost:
        """SPU's own top-k (a sort) of k along each row of a rows x cols shared matrix."""


def members(vocabulary: type = CostBackend) -> list[str]:
    """The primitive names of ``vocabulary`` (its own and inherited methods), sorted."""
    names = set()
    for cls in vocabulary.__mro__:
        if cls in (Protocol, object) or not getattr(cls, "_is_protocol", False):
            continue
        names |= {n for n, v in vars(cls).items() if isinstance(v, FunctionType) and not n.startswith("_")}
    return sorted(names)


def _parameters(fn) -> list[tuple[str, str, bool]]:
    """(name, kind, has a default) of each parameter, ``self`` left out."""
    return [(p.name, p.kind.name, p.default is not inspect.Parameter.empty)
            for p in inspect.signature(fn).parameters.values() if p.name != "self"]


def second_names(module) -> list[str]:
    """Second names for one primitive in ``module``: a retired name (``RETIRED_NAMES``), or two public
    module-level names bound to the same function."""
    problems = [f"{_name(module)}: defines {name!r}, a second name for a primitive (retired)"
                for name in RETIRED_NAMES if name in vars(module)]
    seen: dict[int, str] = {}
    for name, value in vars(module).items():
        if name.startswith("_") or not callable(value) or isinstance(value, type):
            continue
        if id(value) in seen:
            problems.append(f"{_name(module)}: {name!r} is a second name for {seen[id(value)]!r}")
        else:
            seen[id(value)] = name
    return problems


def vocabulary_problems(module, vocabulary: type = CostBackend) -> list[str]:
    """What keeps ``module`` (a backend module, or any object with attributes) from providing
    ``vocabulary``: a missing member, a member that is not callable, a parameter list different from the
    interface's (names, kinds and which have defaults), or a second name for a primitive. [] if none."""
    problems = []
    for name in members(vocabulary):
        fn = getattr(module, name, None)
        if fn is None:
            problems.append(f"{_name(module)}: missing {name!r}")
            continue
        if not callable(fn):
            problems.append(f"{_name(module)}: {name!r} is not callable")
            continue
        want, got = _parameters(getattr(vocabulary, name)), _parameters(fn)
        if want != got:
            problems.append(f"{_name(module)}: {name} takes ({_show(got)}), the interface says ({_show(want)})")
    return problems + second_names(module)


def _show(params: list[tuple[str, str, bool]]) -> str:
    return ", ".join(f"{n}=..." if d else n for n, _, d in params)


def _name(module) -> str:
    return getattr(module, "__name__", type(module).__name__)
