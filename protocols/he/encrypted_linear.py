"""A linear layer whose WEIGHTS are encrypted too (SecMoE's compute phase, AAAI'26): [[W]] x [[x]] -> [[y]].

SecMoE keeps the selected expert weights encrypted under the client's key (``protocols/mpc/secmoe_moe.py``,
step ``select``: ``Enc(sum_e r_e W_e)`` in block 0 of a ciphertext, W row-major: slot ``i cols + j`` holds
``W[i, j]`` for ``i < rows``, ``j < cols``) and multiplies them by the encrypted activations, ciphertext by
ciphertext, so no weight ever travels. This module is that product on one ciphertext pair:

* ``replicate(x, cols, slots)`` -- the activation layout: slot ``i cols + j`` holds ``x[i]`` (each x_i
  repeated ``cols`` times), zero from ``rows cols`` on;
* ``matvec(be, W, X, rows, cols)`` -- ``multiply`` (one ciphertext x ciphertext product), ``relinearize``
  (one key switch), then a rotate-and-add tree over the rows with steps ``cols 2^l``, ``l < ceil(log2 rows)``:
  slot ``j`` (``j < cols``) ends holding ``sum_i x_i W[i, j]``. Slots ``>= rows cols`` of the product are zero
  (X is zero there), so the tree reads zeros, never the garbage the selection tree leaves in W's other
  blocks, provided ``2^ceil(log2 rows) cols <= slots`` (checked);
* its closed form is ``analysis/cost_models/he.encrypted_matvec``: 1 ``ct_mults``, 1 ``relinearizations``,
  ``L = ceil(log2 rows)`` rotations, ``L + 1`` key switches, ``L`` additions (equal to SEAL's and the
  simulator's counters: ``tests/test_encrypted_linear.py``).

Values are residues mod t: a product of two fixed-point encodings carries both scales (the caller rescales
after converting back to shares). Noise: one ciphertext product on top of its operands'; the caller chooses
parameters where the answer still decrypts and can be flooded (``protocols/he/flooding.py``, whose bound
covers plaintext circuits only).
"""
from __future__ import annotations

import math

import numpy as np

from functionalities.errors import PublicParameterError

#: |v| of a fresh encryption plus the rounding of an add_plain (``protocols/he/flooding.FRESH`` + 1)
FRESH_PLUS = 21.0


def levels(rows: int) -> int:
    """ceil(log2 rows): the rotate-and-add tree's depth (0 for one row)."""
    return max(0, int(rows - 1).bit_length())


def check(rows: int, cols: int, slots: int) -> None:
    """The tree must not wrap: ``2^levels(rows) cols <= slots``; PublicParameterError otherwise."""
    if rows < 1 or cols < 1:
        raise PublicParameterError(f"rows and cols must be >= 1, got {rows} x {cols}")
    if (1 << levels(rows)) * cols > slots:
        raise PublicParameterError(f"a {rows} x {cols} block padded to {1 << levels(rows)} rows exceeds the {slots} "
                                   "slots: raise the HE ring degree")


def steps(rows: int, cols: int) -> set[int]:
    """The rotation steps ``matvec`` uses (public: a function of the shape)."""
    return {cols << level for level in range(levels(rows))}


def replicate(x: np.ndarray, cols: int, slots: int) -> np.ndarray:
    """x (rows,) residues -> (slots,): slot ``i cols + j`` = x[i]; zeros after ``rows cols``."""
    x = np.asarray(x, dtype=np.uint64)
    check(len(x), cols, slots)
    out = np.zeros(slots, dtype=np.uint64)
    out[:len(x) * cols] = np.repeat(x, cols)
    return out


def flatten(W: np.ndarray, slots: int) -> np.ndarray:
    """W (rows, cols) residues -> (slots,) row-major in block 0 (the selection's layout), zeros after."""
    W = np.asarray(W, dtype=np.uint64)
    rows, cols = W.shape
    check(rows, cols, slots)
    out = np.zeros(slots, dtype=np.uint64)
    out[:rows * cols] = W.reshape(-1)
    return out


def _log2_sum(*logs: float) -> float:
    top = max(logs)
    return top + math.log2(sum(2.0 ** (x - top) for x in logs))


def selection_noise_bits(params, tree_levels: int, chunks: int) -> float:
    """log2 of a worst-case bound on the noise of SecMoE's selected weights (``protocols/mpc/secmoe_moe``,
    step ``select``): a fresh query times a plaintext (``N t 20``) plus an add_plain, summed over
    ``2^tree_levels`` blocks by the rotate-and-add tree (one key switch each) and over ``chunks``."""
    n, t_bits = params.poly_degree, params.plain_bits
    key_switch = _key_switch_bits(params)
    one = _log2_sum(math.log2(n) + t_bits + math.log2(20.0), -1.0)
    return math.log2(chunks) + _log2_sum(tree_levels + one, math.log2(max(1, tree_levels)) + key_switch)


def _key_switch_bits(params) -> float:
    """log2 of one key switch's added noise: ``(K - 1) N 20 q_max / p + N`` (p SEAL's special prime)."""
    n, bits = params.poly_degree, params.coeff_bits
    data, special = bits[:-1], bits[-1]
    return _log2_sum(math.log2(max(1, len(bits) - 1)) + math.log2(n) + math.log2(20.0) + max(data) - (special - 1),
                     math.log2(n))


def noise_bits(params, rows: int, operand_bits: float) -> float:
    """log2 of a worst-case bound on :func:`matvec`'s output noise, before masking: the product of an operand
    of noise ``2^operand_bits`` (W) and a fresh one (x: ``FRESH_PLUS``) is at most ``2 N t (|v_W| + |v_x|)``
    (messages below t, N coefficients) plus the relinearisation's key switch; the tree sums ``2^levels``
    copies and adds ``levels`` key switches. What ``flooding.plan(params, pre_bits=...)`` takes."""
    n, t_bits = params.poly_degree, params.plain_bits
    ks = _key_switch_bits(params)
    product = 1 + math.log2(n) + t_bits + _log2_sum(operand_bits, math.log2(FRESH_PLUS))
    depth = levels(rows)
    return _log2_sum(depth + _log2_sum(product, ks), math.log2(max(1, depth)) + ks)


def matvec(be, W_ct, x_ct, rows: int, cols: int):
    """[[W]] (block 0, row-major rows x cols) times [[x replicated]] -> [[y]] with y_j at slot j (j < cols).
    ``be`` must hold relinearisation keys and rotation keys for ``steps(rows, cols)``."""
    check(rows, cols, be.params.slots)
    acc = be.relinearize(be.multiply(W_ct, x_ct))
    for level in range(levels(rows)):
        acc = be.add(acc, be.rotate(acc, cols << level))
    return acc

