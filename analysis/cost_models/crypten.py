"""Backend ``crypten``: exact costs of privmoe's protocols on CrypTen 0.4.1 with the privmoe dealer.

Every formula is derived from CrypTen's source for two parties and equals the Meter (tests check it):

* A Beaver opening sends each party's share of the masked operands: 8 bytes per ring element, both
  directions at once (one round). The dealer sends the server the corrected product: 8 bytes per element.
* Two-party fixed-point truncation is local (``ArithmeticSharedTensor.div_`` for world size 2): 0 bytes.
* Input sharing uses PRZS: 0 online bytes.

Symbols: n = elements, 8 = bytes per Z_2^64 element.
"""
from __future__ import annotations

import math

from . import sorting as S
from .cost import Cost

B = 8  # bytes per ring element


def mul(n_x: int, n_y: int | None = None, n_out: int | None = None) -> Cost:
    """Beaver product (elementwise, broadcasting, or matmul) of operands with n_x and n_y elements
    (``n_y`` defaults to ``n_x``).

    1 round; each party opens x-a (n_x) and y-b (n_y): 8(n_x + n_y) bytes each way; the dealer sends the
    server c (n_out elements; for elementwise = the broadcast size)."""
    n_y = n_x if n_y is None else n_y
    n_out = max(n_x, n_y) if n_out is None else n_out
    return Cost.symmetric(1, B * (n_x + n_y), B * n_out)


def matmul(m: int, k: int, n: int) -> Cost:
    """(m x k) @ (k x n) with Beaver: opens m k + k n elements each way; triple c has m n elements."""
    return mul(m * k, k * n, m * n)


def square(n: int) -> Cost:
    """CrypTen's ``square``: opens x - r (n elements) each way; dealer sends r^2 (n)."""
    return Cost.symmetric(1, B * n, B * n)


def less_than_zero(n: int) -> Cost:
    """``_ltz`` = A2B + sign bit + B2A.

    A2B: the two arithmetic shares become binary sharings for free (PRZS) and are added by CrypTen's
    64-bit Set-Propagate-Kill adder: S = x & y (1 AND round, opens 2n), then log2(64) = 6 levels
    ``P0 & (S1, P1)`` where CrypTen broadcasts P0 to the (2, n) shape before the AND, so each level opens
    2n + 2n = 4n and its triple has 2n elements. B2A of the sign bit: opens x ^ r (n), 1 round; the dealer
    sends r_A (n).  Total: 8 rounds, (2 + 6*4 + 1) n = 27n elements each way, (n + 6*2n + n) = 14n offline."""
    return Cost.symmetric(8, B * 27 * n, B * 14 * n)


def equal_zero(n: int) -> Cost:
    """``_eqz_2PC``: XNOR of the two shares' bits (free), AND tree over 64 bits (6 levels, each n & n: opens
    2n, triple n), B2A of the bit (1 round, n). 7 rounds, 13n elements each way, 7n offline."""
    return Cost.symmetric(7, B * 13 * n, B * 7 * n)


def exp(n: int, iterations: int = 8) -> Cost:
    """CrypTen's limit approximation (1 + x/2^i)^(2^i): i squarings (the division is a local truncation)."""
    return square(n) * iterations


def reciprocal(n: int, nr_iterations: int = 10, exp_iterations: int = 8) -> Cost:
    """CrypTen's Newton-Raphson reciprocal for inputs known positive: initial 3 exp(1 - 2x) + 0.003
    (an exp), then each iteration ``y += y - y^2 * x`` = one square and one n x n multiplication."""
    return exp(n, exp_iterations) + (square(n) + mul(n, n)) * nr_iterations


def tournament(rows: int, width: int) -> Cost:
    """``sorting.tournament`` on CrypTen (a multiplexer is a Beaver product)."""
    return S.tournament(_self(), rows, width)


def pad_pow2(n: int) -> int:
    return S.pad_pow2(n)


def topk_core(rows: int, length: int, t: int, method: str = "tournament") -> Cost:
    """``sorting.topk_core`` on CrypTen."""
    return S.topk_core(_self(), rows, length, t, method)


def bitonic(rows: int, width: int, payload: int) -> Cost:
    """``sorting.bitonic`` on CrypTen."""
    return S.bitonic(_self(), rows, width, payload)


def topk_auto(rows: int, length: int, t: int, method: str = "auto") -> Cost:
    """``sorting.topk_auto`` on CrypTen: the method ``protocols.mpc.topk.choose_method`` picks."""
    return S.topk_auto(_self(), rows, length, t, method)


def _self():
    import sys

    return sys.modules[__name__]


def equal(n: int) -> Cost:
    """Pi_equal: one vectorised equality of n elements (step ``equal``)."""
    return equal_zero(n).labelled("equal")


def onehot(rows: int, width: int, classes: int) -> Cost:
    """Pi_onehot: r t c equalities at once (step ``onehot``)."""
    return equal_zero(rows * width * classes).labelled("onehot")


def topk(rows: int, length: int, t: int, method: str = "auto") -> Cost:
    """Pi_topk (step ``topk``): ``topk_auto``."""
    return topk_auto(rows, length, t, method).labelled("topk")


def softmax(rows: int, cols: int) -> Cost:
    """exp of rows x cols, reciprocal of rows, then the (rows x cols) * (rows x 1) product."""
    return exp(rows * cols) + reciprocal(rows) + mul(rows * cols, rows, rows * cols)


def gate(tokens: int, hidden: int, experts: int, top_k: int, method: str = "auto") -> Cost:
    """Pi_gate: steps ``logits`` (matmul m x d x E), ``topk`` (over the E logits by ``method``:
    ``sorting.topk_onehots``), ``softmax``
    (m x E), ``select`` (one-hots m x k x E times scores m x 1 x E)."""
    m, d, e, k = tokens, hidden, experts, top_k
    return (matmul(m, d, e).labelled("logits")
            + S.topk_onehots(_self(), m, e, k, method).labelled("topk")
            + softmax(m, e).labelled("softmax")
            + mul(m * k * e, m * e, m * k * e).labelled("select"))


# -- the rest of the backend vocabulary (backend.CostBackend) that moe.py composes ------------------
def bmm(batch: int, m: int, k: int, n: int, left_batched: bool = True, right_batched: bool = True) -> Cost:
    """A (batched) Beaver matmul (batch x m x k) @ (batch x k x n); an operand that is not batched is
    broadcast and opened once: opens (batch?) m k + (batch?) k n elements each way, triple batch m n."""
    return mul((batch if left_batched else 1) * m * k, (batch if right_batched else 1) * k * n, batch * m * n)


def bmm_sum(batch: int, m: int, k: int, n: int) -> Cost:
    """sum_b A_b @ B_b: privmoe's protocol runs the batched product and sums locally (``bmm``)."""
    return bmm(batch, m, k, n)


def wmm(batch: int, m: int, k: int, n: int, left_batched: bool = True) -> Cost:
    """Products with the server's weights: privmoe's CrypTen runs secret-share the weights, so this is
    ``bmm`` with the weights batched (one matrix per expert)."""
    return bmm(batch, m, k, n, left_batched, True)


def sigmoid(n: int) -> Cost:
    """CrypTen's sigmoid ("reciprocal" method), read from its source:
    ltz (8 rounds) -> |x| = x * (1 - 2 ltz) (1 mul) -> exp(-|x|) with the DEFAULT 8 iterations (CrypTen
    calls exp before its own temp_override) -> reciprocal with 3 Newton-Raphson iterations from the public
    0.75 (the first is local; two of square + mul) -> ``where`` = two multiplications.
    23 rounds, 47 n elements each way, 29 n offline."""
    return (less_than_zero(n) + mul(n, n) + exp(n, 8) + (square(n) + mul(n, n)) * 2 + mul(n, n) * 2)


def silu(n: int) -> Cost:
    """x * sigmoid(x): 24 rounds."""
    return sigmoid(n) + mul(n, n)


def open_values(n: int) -> Cost:
    """Open n shared values to both parties: each sends its share of each (1 round, 8 n bytes each way)."""
    return Cost.symmetric(1, B * n)


def mux_bits(n_bits: int, n_data: int, n_out: int | None = None) -> Cost:
    """Multiply n_bits shared bits by n_data shared values (either may be broadcast; n_out results):
    on CrypTen, a Beaver product with no truncation."""
    return mul(n_bits, n_data, max(n_bits, n_data) if n_out is None else n_out)


def eq_binary(n: int) -> Cost:
    """n equalities left in the binary domain (XOR shares, no B2A): the 6-level AND tree only,
    6 rounds, 12 n elements each way, 6 n offline."""
    return Cost.symmetric(6, B * 12 * n, B * 6 * n)
