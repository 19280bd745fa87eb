"""Pi_matmul, NEXUS (NDSS'25) ciphertext x plaintext matmul, applied per expert (nothing amortises).

NEXUS is built to amortise one plaintext weight over many inputs; in MoE every expert has its own tokens
and weights. The structure (``docs/protocols/matmul.md``; NEXUS, Zhang et al., NDSS 2025):
1. client: all experts' A values, pre-multiplied by 2^-l mod t, as polynomial COEFFICIENTS, up to
   ``pack`` (a power of two <= N) per ciphertext (coefficient encoding: N L 8 + 64 bytes each);
2. server, ``expand``: each compressed ciphertext becomes one ciphertext per value by the query-expansion
   tree: level j (j < l = log2 pack) maps every ciphertext c to c + tau(c) and (c - tau(c)) x^(-2^j), with
   tau the automorphism x -> x^(N/2^j + 1); leaf k encrypts the constant 2^l a_k 2^-l = a_k.
   A ciphertext of 2^l slots costs 2^l - 1 automorphisms (key switches), 2^l - 1 monomial products and
   2 (2^l - 1) additions;
3. server, ``product``: a constant polynomial times a batch-encoded plaintext scales every slot, so row i
   of A_e B_e = sum_j Enc(a_ij) * B_e[j, :] (t d_in plaintext products per expert);
4. server, ``fold``: rows of d_out slots are packed floor(S / d_out) to a ciphertext by rotating row r
   right by r d_out (one key switch per packed row after the first), masked (HE -> shares) and returned.
Leakage: E, t, d_in, d_out, N. Noise: the expansion tree is the deep part; ``pack`` bounds its depth.
"""
from __future__ import annotations

import numpy as np

from protocols.he.interface import HEBackend
from protocols.he.matmul import HEMatmulRun, account, finish, generator, respond
from protocols.runtime.meter import PartyMeter


def plan(experts: int, capacity: int, d_in: int, d_out: int, slots: int, pack: int):
    """(values per compressed ciphertext, #compressed, rows per folded ciphertext, #outputs per expert)."""
    if d_out > slots:
        from functionalities.errors import PublicParameterError

        raise PublicParameterError(f"d_out = {d_out} exceeds the {slots} slots of a ciphertext")
    values = experts * capacity * d_in
    n_in = -(-values // pack)
    rows = slots // d_out
    return values, n_in, rows, -(-capacity // rows)


def expansion_elements(n: int, pack: int) -> set[int]:
    levels = pack.bit_length() - 1
    return {n // (1 << j) + 1 for j in range(levels)}


def fold_steps(slots: int, d_out: int, rows: int) -> set[int]:
    """Right rotation by r d_out = left rotation by S - r d_out."""
    return {(slots - r * d_out) % slots for r in range(1, rows)}


def expand(be: HEBackend, ct, pack: int) -> list:
    """One compressed ciphertext -> ``pack`` ciphertexts of constants (module docstring, step 2)."""
    n = be.params.poly_degree
    cts = [ct]
    level = 0
    while len(cts) < pack:
        elt = n // (1 << level) + 1
        nxt_a, nxt_b = [], []
        for c in cts:
            tau = be.apply_galois(c, elt)
            nxt_a.append(be.add(c, tau))
            nxt_b.append(be.multiply_monomial(be.sub(c, tau), -(1 << level)))
        cts = nxt_a + nxt_b
        level += 1
    # after level j, position p < 2^(j+1) holds the coefficients = p (mod 2^(j+1)), the one = p at x^0:
    # the leaves come out in coefficient order
    return cts


def _row(weights: np.ndarray, slots: int) -> np.ndarray:
    """A weight row in the first d_out slots, zeros after."""
    w = np.zeros(slots, dtype=np.uint64)
    w[: len(weights)] = weights
    return w


def matmul(be: HEBackend, A: np.ndarray, B: np.ndarray, pack: int = 256,
           rng: np.random.Generator | int = 0) -> HEMatmulRun:
    """A (E, t, d_in), B (E, d_in, d_out) mod t -> shares of every A_e B_e; ``rng``: the server's mask
    generator or its seed."""
    experts, capacity, d_in = A.shape
    d_out = B.shape[-1]
    n, slots, t_mod = be.params.poly_degree, be.params.slots, be.plain_modulus
    pack = min(pack, n)
    if pack & (pack - 1):
        raise ValueError("pack must be a power of two")
    values, n_in, rows, per_expert = plan(experts, capacity, d_in, d_out, slots, pack)
    be.prepare_galois(expansion_elements(n, pack) if pack > 1 else set(), fold_steps(slots, d_out, rows))
    A = A.astype(np.uint64) % np.uint64(t_mod)
    B = B.astype(np.uint64) % np.uint64(t_mod)
    inv = pow(pack, -1, t_mod)
    flat = (A.reshape(-1).astype(object) * inv % t_mod).astype(np.uint64)
    client, server = PartyMeter("client"), PartyMeter("server")
    rng = generator(rng)
    with client.step("matmul"), server.step("matmul"):
        sent = [be.encrypt_coeffs(flat[i * pack:(i + 1) * pack]) for i in range(n_in)]          # 1.
        leaves = [leaf for ct in sent for leaf in expand(be, ct, pack)][:values]               # 2.
        def value_ct(e: int, i: int, j: int):
            return leaves[(e * capacity + i) * d_in + j]
        outs = []
        for e in range(experts):
            row_cts = []
            for i in range(capacity):                                                           # 3.
                acc = None
                for j in range(d_in):
                    prod = be.multiply_plain(value_ct(e, i, j), lambda e=e, j=j: _row(B[e, j], slots))
                    acc = prod if acc is None else be.add(acc, prod)
                row_cts.append(acc)
            for q in range(per_expert):                                                         # 4.
                group = row_cts[q * rows:(q + 1) * rows]
                acc = group[0]
                for r, c in enumerate(group[1:], start=1):
                    acc = be.add(acc, be.rotate(c, (slots - r * d_out) % slots))
                outs.append(acc)
        outs, masks = respond(be, outs, rng)
        account(be, n_in, len(outs), client, server, be.params.seeded_ciphertext_bytes())
        noise = [be.noise_budget(o) for o in outs]
        got = [be.decrypt(o) for o in outs]
    c_share = np.zeros((experts, capacity, d_out), dtype=np.uint64)
    s_share = np.zeros_like(c_share)
    for e in range(experts):
        for q in range(per_expert):
            for r in range(min(rows, capacity - q * rows)):
                i = q * rows + r
                c_share[e, i] = got[e * per_expert + q][r * d_out:(r + 1) * d_out]
                s_share[e, i] = (np.uint64(t_mod) - masks[e * per_expert + q][r * d_out:(r + 1) * d_out]) % np.uint64(t_mod)
    meter, counts, budget = finish(be, n_in, len(outs), client, server, noise)
    return HEMatmulRun(c_share, s_share, meter, counts, budget)
