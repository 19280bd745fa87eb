"""Backend ``cheetah``: projected costs of privmoe's protocols on Cheetah (SecretFlow SPU, Z_2^64).

Which unit cost comes from where
--------------------------------
One set of unit costs serves every projection (the report, ``privmoe costs``, ``privmoe reproduce``):

| unit | source |
|---|---|
| comparisons, equalities, fixed-point products, squares, selects, mux, b2a, exp, reciprocal, silu, gelu, softmax, one-hot | ``shared/calibration`` (real SPU 0.9.5 runs, below), the slope at the largest sizes |
| SPU's own top-k (``topk_op``, the ``paper`` accounting) | the CryptoMoE authors' own SPU logs (``analysis/data/cryptomoe_spu_logs.json``): their SPU sorts by shuffling and revealing comparisons and costs about twice the calibration's ``lax.top_k``; for reproducing their numbers the logs win (``topk_fit``). privmoe's own top-t (``topk``, ``topk_auto``: the ``protocol`` accounting) is its network of comparisons and multiplexers at the calibrated units (``sorting.py``) |
| matmul (Cheetah/BumbleBee's HE product) | structure, not a fit: ciphertext counts from the partition of the shape, ciphertext sizes from the modulus chain serialised by SEAL (``cheetah_matmul.py``), equal to every matmul call of the authors' logs within 0.6% |

Where the calibration and the authors' logs overlap they agree: the logs' fixed-point product, their GeLU
(tanh plus three products) and their matmuls land on the calibration's slopes and on the structural
matmul (``privmoe reproduce`` prints the check, ``tests/test_published.py`` holds it); only the top-k
differs, by the sort the authors' SPU version ran.

What lives where
----------------
This module holds the op PROJECTIONS (an op on n elements = its unit cost times n, with its round estimate;
the structural matmul) and the protocol compositions on them (``equal``, ``onehot``, ``topk``, ``gate``,
and the backend vocabulary ``moe.py`` and ``sorting.py`` compose: ``backend.CostBackend``). The unit costs
themselves -- reading and fitting the calibration tables, the top-k fits, the round constants, the set-up,
``unit_costs()`` -- are ``cheetah_calibration.py``, whose docstring says how each unit is measured, fitted
and split by direction. The names outside code uses from there (``calibration_dir``,
``calibration_topk_fit``, ``topk_fit``, ``setup_bytes``, ``unit_costs`` and the round constants) are
importable from here too.

Matmuls
-------
Cheetah/BumbleBee's matmul is an HE protocol whose cost is a number of ciphertexts, so it is modelled from
that structure (``cheetah_matmul.py``); the main table's single ``matmul_ss`` row (one shape, set-up inside)
is not used. A product of two shared matrices (``matmul``, ``bmm``: SPU shares the server's weights, as the
papers ran it) is two HE calls; a product with the server's PLAINTEXT weights (``wmm``: what the protocols
specify) is one. SPU's truncation of the product adds no measurable bytes in the authors' logs (below 1 byte
per output element), so none is charged.

Cheetah needs no dealer: ``offline_bytes`` is always 0.
"""
from __future__ import annotations

from dataclasses import replace

from . import cheetah_matmul as CM
from . import sorting as S
# the unit costs; calibration_dir, calibration_topk_fit, setup_bytes, unit_costs are re-exported for callers
from .cheetah_calibration import (B2A_ROUNDS, CMP_ROUNDS, EQ_ROUNDS, EXP_ROUNDS, GELU_ROUNDS, MATMUL_ROUNDS,
                                  MUL_FXP_ROUNDS, MUL_INT_ROUNDS, MUX_ROUNDS, RECIPROCAL_ROUNDS, SELECT_ROUNDS,
                                  SILU_ROUNDS, _topk_units, _unit, calibration_dir, calibration_topk_fit,
                                  setup_bytes, softmax_rounds, topk_fit, topk_rounds, unit_costs)
from .cost import Cost


# --------------------------------------------------------------------------------------------------
# Projection helpers
# --------------------------------------------------------------------------------------------------
def _split(total_bytes: float, p0_share: float, rounds: int) -> Cost:
    total = int(round(total_bytes))
    c2s = int(round(total * p0_share))
    return Cost(rounds=rounds, bytes_client_to_server=c2s, bytes_server_to_client=total - c2s)


def _check(**sizes: int) -> None:
    for name, v in sizes.items():
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ValueError(f"{name} must be a non-negative int, got {v!r}")


def _elementwise(op: str, n: int, rounds: int) -> Cost:
    _check(n=n)
    if n == 0:
        return Cost()
    u = _unit(op)
    return _split(u.per_element * n, u.p0_share, rounds)


# --------------------------------------------------------------------------------------------------
# Primitives
# --------------------------------------------------------------------------------------------------
def less_than_zero(n: int) -> Cost:
    """n comparisons [x < 0] (a millionaires' protocol each; a < b is one on a - b), boolean result.
    Rows ``cmp0``."""
    return _elementwise("less", n, CMP_ROUNDS)


def equal_zero(n: int) -> Cost:
    """n equality tests (leaf equality OTs and an AND tree). Rows ``eq``."""
    return _elementwise("equal", n, EQ_ROUNDS)


def mul(n_x: int, n_y: int | None = None, n_out: int | None = None) -> Cost:
    """Fixed-point elementwise product, truncation included (rows ``mul``): the cost is per output element
    (``n_out``, default the larger operand: a broadcast operand is expanded first; ``n_y`` defaults to
    ``n_x``, a product of two n_x-element operands)."""
    n_out = max(n_x, n_y or 0) if n_out is None else n_out
    return _elementwise("mul", n_out, MUL_FXP_ROUNDS)


def mul_int(n: int) -> Cost:
    """Integer elementwise product (HE-based, no truncation). Main table only: split 50/50."""
    return _elementwise("mul_int", n, MUL_INT_ROUNDS)


def square(n: int) -> Cost:
    """Fixed-point square (rows ``square``: SPU costs it as a product)."""
    return _elementwise("square", n, MUL_FXP_ROUNDS)


def mux(n: int) -> Cost:
    """Select between two shared values with a shared bit: ``select`` minus ``less`` per element."""
    return _elementwise("mux", n, MUX_ROUNDS)


def select(n: int) -> Cost:
    """``where(a > b, a, b)``: a comparison and a mux (rows ``where``)."""
    return _elementwise("select", n, SELECT_ROUNDS)


def b2a(n: int) -> Cost:
    """Boolean-to-arithmetic of n bits: one correlated OT each, half a ``mux`` (an estimate)."""
    return _elementwise("b2a", n, B2A_ROUNDS)


def exp(n: int) -> Cost:
    """SPU's fixed-point exp (rows ``exp``)."""
    return _elementwise("exp", n, EXP_ROUNDS)


def reciprocal(n: int) -> Cost:
    """SPU's Goldschmidt reciprocal (rows ``recip``)."""
    return _elementwise("reciprocal", n, RECIPROCAL_ROUNDS)


def silu(n: int) -> Cost:
    """jax.nn.silu = x / (1 + exp(-x)) (rows ``silu``)."""
    return _elementwise("silu", n, SILU_ROUNDS)


def gelu(n: int) -> Cost:
    """jax.nn.gelu, tanh approximation (rows ``gelu``)."""
    return _elementwise("gelu", n, GELU_ROUNDS)


def softmax(rows: int, cols: int) -> Cost:
    """jax.nn.softmax along rows of a rows x cols matrix, measured per element (rows ``softmax``, E=64).

    SPU divides every element by the row sum, so the cost is ~ exp + reciprocal per element; the
    slope over E = 8 columns agrees to 0.01%."""
    _check(rows=rows, cols=cols)
    if rows * cols == 0:
        return Cost()
    u = _unit("softmax")
    return _split(u.per_element * rows * cols, u.p0_share, softmax_rounds(cols))


def topk_op(rows: int, cols: int, k: int) -> Cost:
    """lax.top_k (values and indices) of k along each row of a rows x cols matrix.

    Model: ``bytes = a * rows * cols * log2(cols)`` with ``a`` from the authors' logs (``topk_fit``).
    Why this form: SPU's top-k sorts each row whatever k (the calibration's t = 12 and t = 24 on the same
    matrix differ by 0.19%, and the logs' dispatch top-t costs the same at f = 1, 1.5 and 2), and a sort
    of ``cols`` keys moves O(cols log cols) data per row; the logs' two shapes (128 x E and E x k m) land
    on one slope. The calibration's fit of the same form (``calibration_topk_fit``, with an intercept
    for its set-up; residuals in the comment above
    ``cheetah_calibration.TOPK_MAX_REL_RESIDUAL``) is half as steep.
    The direction split is the rows table's ``top2`` over E = 64."""
    _check(rows=rows, cols=cols, k=k)
    if k > cols:
        raise ValueError(f"top-{k} of {cols} columns")
    if rows * cols * k == 0:
        return Cost()
    f = topk_fit()
    return _split(f.per_unit * _topk_units(rows, cols), f.p0_share, topk_rounds(cols))


def topk_auto(rows: int, length: int, t: int, method: str = "auto") -> Cost:
    """privmoe's top-t (the method ``choose_method`` picks) on SPU's unit costs (``sorting.topk_auto``):
    the ``protocol`` accounting. SPU's own sort is ``topk_op`` (the ``paper`` accounting)."""
    return S.topk_auto(_self(), rows, length, t, method)


def topk_core(rows: int, length: int, t: int, method: str = "tournament") -> Cost:
    """``sorting.topk_core`` on SPU's unit costs."""
    return S.topk_core(_self(), rows, length, t, method)


def _self():
    import sys

    return sys.modules[__name__]


def onehot_op(n_indices: int, classes: int) -> Cost:
    """one_hot of n_indices shared integers over ``classes``: one equality per output element
    (main ``onehot_int``, whose 98304/196608 outputs are the largest measured sizes)."""
    _check(n_indices=n_indices, classes=classes)
    if n_indices * classes == 0:
        return Cost()
    u = _unit("onehot")
    return _split(u.per_element * n_indices * classes, u.p0_share, EQ_ROUNDS)


def matmul(m: int, k: int, n: int) -> Cost:
    """Secret x secret (m x k) @ (k x n): Cheetah/BumbleBee's HE product as SPU runs it, two calls in
    opposite directions (``cheetah_matmul.shared_product``). This is how SPU multiplies by the server's
    weights when they are secret-shared inputs, as the papers ran them."""
    _check(m=m, k=k, n=n)
    if m * k * n == 0:
        return Cost()
    return replace(CM.shared_product(m, k, n), rounds=MATMUL_ROUNDS)


def weights_matmul(m: int, k: int, n: int) -> Cost:
    """Shared (m x k) @ the server's PLAINTEXT (k x n) weights: one HE call (the server's share times its
    weights is local); what the protocols specify (``cheetah_matmul.plaintext_weights_product``)."""
    _check(m=m, k=k, n=n)
    if m * k * n == 0:
        return Cost()
    return replace(CM.plaintext_weights_product(m, k, n), rounds=MATMUL_ROUNDS)


# --------------------------------------------------------------------------------------------------
# Protocols (same step labels as crypten.py)
# --------------------------------------------------------------------------------------------------
def equal(n: int) -> Cost:
    """Pi_equal: one vectorised equality of n elements (step ``equal``)."""
    return equal_zero(n).labelled("equal")


def onehot(rows: int, width: int, classes: int) -> Cost:
    """Pi_onehot: one-hots of rows x width indices over ``classes`` (step ``onehot``)."""
    return onehot_op(rows * width, classes).labelled("onehot")


def topk(rows: int, length: int, t: int, method: str = "auto") -> Cost:
    """Pi_topk (step ``topk``): privmoe's method on SPU's units (``topk_auto``)."""
    return topk_auto(rows, length, t, method).labelled("topk")


def gate(tokens: int, hidden: int, experts: int, top_k: int, method: str = "auto") -> Cost:
    """Pi_gate: steps ``logits`` (x times the server's plaintext W_g, m x d x E: one HE call),
    ``topk`` (over the E logits by ``method``, as the protocol runs it: ``sorting.topk_onehots``), ``softmax``
    (m x E), ``select``
    (the m x k x E one-hot bits times the scores)."""
    m, d, e, k = tokens, hidden, experts, top_k
    return (weights_matmul(m, d, e).labelled("logits")
            + S.topk_onehots(_self(), m, e, k, method).labelled("topk")
            + softmax(m, e).labelled("softmax")
            + mux_bits(m * k * e, m * e, m * k * e).labelled("select"))   # one-hot bits x scores


# --------------------------------------------------------------------------------------------------
# The rest of the backend vocabulary (backend.CostBackend) that moe.py composes
# --------------------------------------------------------------------------------------------------
def bmm(batch: int, m: int, k: int, n: int, left_batched: bool = True, right_batched: bool = True) -> Cost:
    """``batch`` secret x secret products, concurrently (one product's rounds). A broadcast right operand
    is one product of ``(batch m) x k x n`` (SPU reshapes the batch into rows); otherwise SPU runs one
    call pair per batch element (the authors' logs print one ``1@m x k x n`` call per expert)."""
    if batch * m * k * n == 0:
        return Cost()
    if left_batched and not right_batched:
        return matmul(batch * m, k, n)
    return _parallel(matmul(m, k, n), batch)


def bmm_sum(batch: int, m: int, k: int, n: int) -> Cost:
    """sum_b A_b @ B_b of shared operands: ONE product over the stacked inner dimension, (m x batch k) @
    (batch k x n), as SPU contracts a dot over (batch, k) in one call (the authors' combine does)."""
    return matmul(m, batch * k, n) if batch * m * k * n else Cost()


def wmm(batch: int, m: int, k: int, n: int, left_batched: bool = True) -> Cost:
    """``batch`` products of shared rows with the server's plaintext weights (one matrix per batch
    element, e.g. per expert; a broadcast left operand is the same rows for every expert), concurrently."""
    if batch * m * k * n == 0:
        return Cost()
    return _parallel(weights_matmul(m, k, n), batch)


def _parallel(one: Cost, times: int) -> Cost:
    """``times`` independent copies of ``one`` run side by side: bytes add, rounds do not."""
    return replace(one * times, rounds=one.rounds)


def open_values(n: int) -> Cost:
    """Open n shared values to both parties: each sends its 8-byte share of each, at once (1 round)."""
    return Cost(rounds=1, bytes_client_to_server=8 * n, bytes_server_to_client=8 * n)


def mux_bits(n_bits: int, n_data: int, n_out: int | None = None) -> Cost:
    """Multiply shared bits by shared values (n_out results): Cheetah's OT-based select per result
    (``mux``), not a fixed-point product (a bit needs no truncation)."""
    return mux(max(n_bits, n_data) if n_out is None else n_out)


def eq_binary(n: int) -> Cost:
    """Equalities with boolean output: the calibrated equality (its B2A share is small)."""
    return equal_zero(n)
