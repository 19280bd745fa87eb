"""Column-block packing and the block-diagonal ciphertext x plaintext matmul shared by BOLT and
CryptoMoE's batch packing (they differ only in which rows share a ciphertext).

Layout: R rows (a power of two) per column; a ciphertext of S slots holds c = S / R column blocks;
column j of the packed matrix sits in block j mod c of input ciphertext j div c. n_in = ceil(d_in / c)
input and n_out = ceil(d_out / c) output ciphertexts. Row rho multiplies by the weight matrix of its own
expert (``expert_of_row``; -1 = padding row, weight 0).

Product (the diagonal method on blocks): with rot(v, s)[x] = v[x + s],
    out_q = sum_i sum_r rot(in_i, r R) * P_{i,r,q},   P_{i,r,q}[block j, row rho] = B_{e(rho)}[i c + (j+r) mod c, q c + j]
Block j of rot(in_i, r R) holds input column i c + (j + r) mod c. Only shifts r that pair a valid input
column (a_i = columns in ct i) with a used output block (b_q = columns in ct q) are needed:
{(x - j) mod c : x < a_i, j < b_q}, min(c, a_i + b_q - 1) of them; the other shifts are never computed.
(A diagonal that is zero only because the server's weights are zero is still multiplied: the count
must not depend on the weights.)

* plain: rotations sum_i (min(c, a_i + b_max - 1) - 1) (each rotated input reused for every output);
* ``bsgs``: r = g b + u (baby u < b, giant g < ceil(c / b)); baby rotations of each input, products with
  pre-rotated plaintexts, one giant rotation per non-empty group g >= 1 of each output:
  rotations n_in (b - 1) + sum_q (#non-empty groups g >= 1). The baby step b is the power of two
  b <= c that minimises that count (the smaller on a tie), as BOLT (Pang et al., S&P 2024, section 4)
  tunes it: the baseline is as strong as its authors make it. Every baby step is taken, so on narrow
  matrices BSGS can cost more than the plain method.
pt_mults = sum_{i,q} min(c, a_i + b_q - 1) and ct_adds = sum_q (products_q - 1) in both.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from functionalities.errors import PublicParameterError


def pow2(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(n))) if n > 1 else 1


@dataclass(frozen=True)
class Layout:
    slots: int
    rows: int
    d_in: int
    d_out: int

    def __post_init__(self):
        if self.rows > self.slots:
            raise PublicParameterError(
                f"{self.rows} packed rows exceed the {self.slots} slots of a ciphertext: raise poly_degree")

    @property
    def blocks(self) -> int:
        return self.slots // self.rows

    @property
    def n_in(self) -> int:
        return -(-self.d_in // self.blocks)

    @property
    def n_out(self) -> int:
        return -(-self.d_out // self.blocks)

    def cols_in(self, i: int) -> int:
        return min(self.blocks, self.d_in - i * self.blocks)

    def cols_out(self, q: int) -> int:
        return min(self.blocks, self.d_out - q * self.blocks)

    @lru_cache(maxsize=1 << 14)
    def shifts(self, i: int, q: int) -> tuple[int, ...]:
        """The shifts r in [0, c) that pair a valid column of input i with a used block of output q (sorted;
        cached: the products ask for them per giant step)."""
        c, a, b = self.blocks, self.cols_in(i), self.cols_out(q)
        if a + b - 1 >= c:
            return tuple(range(c))
        return tuple(np.unique((np.arange(a)[:, None] - np.arange(b)[None, :]) % c).tolist())

    @lru_cache(maxsize=None)
    def needed(self, q: int) -> frozenset[int]:
        """The shifts output q needs from any input."""
        return frozenset().union(*(self.shifts(i, q) for i in range(self.n_in)))

    def bsgs_rotations(self, b: int) -> int:
        """Rotations of the BSGS product with baby step b: n_in (min(b, c) - 1) babies plus, per output,
        one giant per non-empty group g >= 1."""
        giants = 0
        for q in range(self.n_out):
            giants += len({r // b for r in self.needed(q)} - {0})
        return self.n_in * (min(b, self.blocks) - 1) + giants

    @lru_cache(maxsize=None)
    def baby(self) -> int:
        """BSGS baby step: the power of two b <= c with the fewest rotations (the smaller on a tie)."""
        candidates = [1 << e for e in range(int(math.log2(self.blocks)) + 1)]
        return min(candidates, key=lambda b: (self.bsgs_rotations(b), b))


def pack_inputs(A: np.ndarray, layout: Layout) -> list[np.ndarray]:
    """A (R, d_in) integers mod t (padding rows already 0) -> n_in slot vectors."""
    R, c = layout.rows, layout.blocks
    out = []
    for i in range(layout.n_in):
        v = np.zeros(layout.slots, dtype=np.uint64)
        for j in range(layout.cols_in(i)):
            v[j * R:(j + 1) * R] = A[:, i * c + j]
        out.append(v)
    return out


def unpack_outputs(vectors: list[np.ndarray], layout: Layout) -> np.ndarray:
    """n_out slot vectors -> (R, d_out)."""
    R, c = layout.rows, layout.blocks
    out = np.zeros((R, layout.d_out), dtype=np.uint64)
    for q, v in enumerate(vectors):
        for j in range(layout.cols_out(q)):
            out[:, q * c + j] = v[j * R:(j + 1) * R]
    return out


def diagonal(B: np.ndarray, expert_of_row: np.ndarray, layout: Layout, i: int, r: int, q: int) -> np.ndarray:
    """P_{i,r,q} as a slot vector (module docstring); B is (E, d_in, d_out) mod t."""
    c, R = layout.blocks, layout.rows
    j = np.arange(c)
    in_col = i * c + (j + r) % c
    out_col = q * c + j
    ok = (in_col < layout.d_in) & (out_col < layout.d_out) & (j < layout.cols_out(q))
    e = np.maximum(expert_of_row, 0)
    vals = B[e[:, None], np.minimum(in_col, layout.d_in - 1)[None, :], np.minimum(out_col, layout.d_out - 1)[None, :]]
    vals = vals * ok[None, :] * (expert_of_row >= 0)[:, None]            # (R, c)
    return np.ascontiguousarray(vals.T).reshape(-1).astype(np.uint64)


def rotation_steps(layout: Layout, bsgs: bool) -> set[int]:
    """Exactly the rotation steps the product uses (the Galois keys the client prepares and sends): the
    needed shifts (plain); with BSGS the baby steps and the giant steps of the NON-EMPTY groups only (a
    group none of whose shifts is needed is never rotated, so it gets no key)."""
    R, c = layout.rows, layout.blocks
    needed = {r for i in range(layout.n_in) for q in range(layout.n_out) for r in layout.shifts(i, q)}
    if not bsgs:
        return {r * R for r in needed if r}
    b = layout.baby()
    giants = {r // b for r in needed if r // b}
    return {u * R for u in range(1, min(b, c))} | {g * b * R for g in giants}


def matmul(be, cts: list, B: np.ndarray, expert_of_row: np.ndarray, layout: Layout, bsgs: bool,
           cache: dict | None = None) -> list:
    """Encrypted packed A (``cts``) times plaintext per-row weights -> n_out ciphertexts of A B.
    ``cache``: the server's encodings of these weights' diagonals (``HEBackend.encode_weights``), filled
    on first use and reused by later queries with the same weights, rows and layout (the weights do not
    change between queries: encoding is then off the online path); None: encode per product."""
    R, c = layout.rows, layout.blocks
    outs = []

    def plain(key, build):
        if cache is None:
            return build
        if key not in cache:
            cache[key] = be.encode_weights(build)
        return cache[key]
    if not bsgs:
        rotated: dict[tuple[int, int], object] = {}
        for i, ct in enumerate(cts):
            need = sorted({r for q in range(layout.n_out) for r in layout.shifts(i, q)})
            for r in need:
                rotated[i, r] = ct if r == 0 else be.rotate(ct, r * R)
        for q in range(layout.n_out):
            acc = None
            for i in range(len(cts)):
                for r in layout.shifts(i, q):
                    prod = be.multiply_plain(rotated[i, r], plain(
                        (i, r, q), lambda i=i, r=r, q=q: diagonal(B, expert_of_row, layout, i, r, q)))
                    acc = prod if acc is None else be.add(acc, prod)
            outs.append(acc)
        return outs
    b = layout.baby()
    giants = -(-c // b)
    babies: dict[tuple[int, int], object] = {}
    for i, ct in enumerate(cts):
        for u in range(min(b, c)):
            babies[i, u] = ct if u == 0 else be.rotate(ct, u * R)
    for q in range(layout.n_out):
        acc = None
        wanted = [set(layout.shifts(i, q)) for i in range(len(cts))]
        for g in range(giants):
            part = None
            for i in range(len(cts)):
                needed = wanted[i]
                for u in range(min(b, c)):
                    r = g * b + u
                    if r >= c or r not in needed:
                        continue
                    # pre-rotate the plaintext right by g b R so that rotating the sum left restores it
                    p = (lambda i=i, r=r, q=q, g=g:
                         np.roll(diagonal(B, expert_of_row, layout, i, r, q), g * b * R))
                    prod = be.multiply_plain(babies[i, u], plain((i, r, q, g), p))
                    part = prod if part is None else be.add(part, prod)
            if part is None:
                continue
            if g:
                part = be.rotate(part, g * b * R)
            acc = part if acc is None else be.add(acc, part)
        outs.append(acc)
    return outs


def products_per_answer(layout: Layout) -> int:
    """The most plaintext products one output ciphertext sums (``sum_i |shifts(i, q)|``, max over q): with
    ``protocols/he/flooding.circuit_bits`` the worst-case noise of an answer before switching down."""
    return max(sum(len(layout.shifts(i, q)) for i in range(layout.n_in)) for q in range(layout.n_out))
