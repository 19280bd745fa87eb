"""Backends ``seal`` and ``sim``: closed-form operation counts of the HE matmul protocols.

Both backends perform the same operations, so one formula serves both (tests: SEAL == simulator ==
formula). Notation (protocols/he/packing.py): S = N/2 slots, t^ = 2^ceil(log2 t); a group of R packed
rows (BOLT: each expert, R = t^; batch: all experts, R = 2^ceil(log2(E t^))) has c = S/R column blocks,
n_in = ceil(d_in/c) inputs with a_i columns and n_out = ceil(d_out/c) outputs with b_q columns.
``cnt(a, b) = min(c, a + b - 1)`` shifts pair a valid input column with a used output block.

    pt_mults  = sum_{i,q} cnt(a_i, b_q)
    ct_adds   = sum_q (sum_i cnt(a_i, b_q) - 1) + 2 n_out        (accumulation + the mask + the
                                                             re-randomisation of ``conceal``)
    rotations = sum_i (cnt(a_i, b_0) - 1)                         (plain: every rotated input reused)
              = n_in (min(b, c) - 1) + sum_q G_q                  (bsgs: babies + non-empty giant groups,
                                                             b the power of two with the fewest rotations)
    key_switches = rotations; ciphertexts = n_in + n_out; rounds = 2 (client -> server -> client)
    bytes client->server = n_in (N L 8 + 64) (seeded symmetric), server->client = n_out 2 N L' 8.

With ``sizes`` (a backend's ``wire_sizes``: what its serialization of one query, answer and key blob
measures, ``protocols/he/interface.WireSizes``) the bytes are the run's SERIALIZED bytes on the wire:
n_in queries client->server, n_out answers server->client, and ``key_bytes`` = parameters + public key +
Galois keys for the distinct Galois elements the protocol prepares (once per run). Without ``sizes`` the
bytes are the formula above (the papers' accounting, used by the published-numbers comparison).
"""
from __future__ import annotations

import math
from dataclasses import replace

from protocols.he.interface import HEParams
from protocols.he.matmul import PACKINGS

from .cost import Cost


def _pow2(n: int) -> int:
    return 1 << max(0, math.ceil(math.log2(n))) if n > 1 else 1


def _cols(total: int, c: int) -> list[tuple[int, int]]:
    """(columns, how many ciphertexts have that many) for ``total`` columns in blocks of c."""
    full, rest = divmod(total, c)
    return ([(c, full)] if full else []) + ([(rest, 1)] if rest else [])


def _group_cost(S: int, R: int, d_in: int, d_out: int, bsgs: bool) -> Cost:
    from functionalities.errors import PublicParameterError

    if R > S:
        raise PublicParameterError(f"{R} packed rows exceed the {S} slots: raise poly_degree")
    c = S // R
    ins, outs = _cols(d_in, c), _cols(d_out, c)
    n_in, n_out = sum(k for _, k in ins), sum(k for _, k in outs)
    cnt = lambda a, b: min(c, a + b - 1)   # noqa: E731
    pt = sum(ki * kq * cnt(a, b) for a, ki in ins for b, kq in outs)
    adds = sum(kq * (sum(ki * cnt(a, b) for a, ki in ins) - 1) for b, kq in outs) + 2 * n_out
    if not bsgs:
        rot = sum(ki * (cnt(a, min(c, d_out)) - 1) for a, ki in ins)
    else:
        rot = min(_bsgs_rotations(c, n_in, ins, outs, 1 << e) for e in range(int(math.log2(c)) + 1))
    return Cost(rotations=rot, key_switches=rot, pt_mults=pt, ct_adds=adds, ciphertexts=n_in + n_out), n_in, n_out


def _bsgs_rotations(c: int, n_in: int, ins: list[tuple[int, int]], outs: list[tuple[int, int]], baby: int) -> int:
    """BSGS rotations with baby step ``baby``: n_in (min(baby, c) - 1) + non-empty giant groups per output."""
    return n_in * (min(baby, c) - 1) + sum(kq * _nonempty_giants(c, baby, [a for a, _ in ins], b) for b, kq in outs)


def _nonempty_giants(c: int, baby: int, a_list: list[int], b: int) -> int:
    """Groups g >= 1 whose shifts [g baby, g baby + baby) meet a needed set {-(b-1) .. a-1} mod c."""
    needed = set()
    for a in a_list:
        needed |= set(range(c)) if a + b - 1 >= c else {s % c for s in range(-(b - 1), a)}
    return sum(1 for g in range(1, -(-c // baby)) if any(g * baby + u in needed for u in range(baby) if g * baby + u < c))


def galois_elements(steps: set[int], elements: set[int], poly_degree: int, slots: int) -> int:
    """Distinct Galois elements behind row-rotation ``steps`` (3^s mod 2N) and explicit ``elements``: the
    number of Galois keys a backend prepares (``SealBackend.prepare_galois``)."""
    return len(set(elements) | {pow(3, s % slots, 2 * poly_degree) for s in steps if s % slots})


def on_the_wire(cost: Cost, n_in: int, n_out: int, sizes, n_keys: int, coeffs: bool = False,
                relin: bool = False) -> Cost:
    """``cost`` with its bytes replaced by serialized sizes (module docstring); ``relin``: the protocol
    multiplies ciphertexts, so the key material carries relinearisation keys too."""
    return replace(cost, bytes_client_to_server=n_in * (sizes.query_coeffs if coeffs else sizes.query),
                   bytes_server_to_client=n_out * sizes.answer,
                   key_bytes=sizes.params + sizes.public_key + sizes.galois_keys(n_keys)
                   + (sizes.relin_keys if relin else 0))


def matmul(experts: int, capacity: int, d_in: int, d_out: int, poly_degree: int, bsgs: bool, packing: str,
           params: HEParams | None = None, slots: int | None = None, sizes=None) -> Cost:
    """The counts and bytes of ``protocols/he/matmul.he_matmul`` for a packing (module docstring).

    ``slots`` overrides the slots per ciphertext: ``None`` is what privmoe runs (one BFV row, N/2);
    ``poly_degree`` is the papers' convention (CryptoMoE's toy and rebuttal count N slots per ciphertext,
    as if both rows formed one cyclic vector -- which BFV's rotations do not provide in one key switch)."""
    if packing not in PACKINGS:
        raise ValueError(f"packing must be one of {PACKINGS}")
    params = params or HEParams(poly_degree)
    S, t_hat = slots or params.slots, _pow2(capacity)
    groups = [t_hat] * experts if packing == "bolt" else [_pow2(experts * t_hat)]
    total, n_in, n_out = Cost(), 0, 0
    for R in set(groups):
        one, i, o = _group_cost(S, R, d_in, d_out, bsgs)
        k = groups.count(R)
        total, n_in, n_out = total + one * k, n_in + i * k, n_out + o * k
    out = total + Cost(rounds=2, bytes_client_to_server=n_in * params.seeded_ciphertext_bytes(),
                       bytes_server_to_client=n_out * params.response_bytes())
    if sizes is None:
        return out
    from protocols.he.matmul import groups
    from protocols.he.packing import Layout, rotation_steps

    steps = set().union(*(rotation_steps(Layout(S, R, d_in, d_out), bsgs)
                          for _, R in groups(experts, capacity, packing)))
    return on_the_wire(out, n_in, n_out, sizes, galois_elements(steps, set(), poly_degree, S))


def bolt_matmul(experts: int, capacity: int, d_in: int, d_out: int, poly_degree: int, bsgs: bool = False,
                params: HEParams | None = None, sizes=None) -> Cost:
    """Entry ``bolt.matmul`` (``protocols/he/bolt_matmul.py``): :func:`matmul` with BOLT's packing."""
    return matmul(experts, capacity, d_in, d_out, poly_degree, bsgs, "bolt", params, sizes=sizes)


def cryptomoe_matmul(experts: int, capacity: int, d_in: int, d_out: int, poly_degree: int, bsgs: bool = False,
                     params: HEParams | None = None, sizes=None) -> Cost:
    """Entry ``cryptomoe.matmul`` (``protocols/he/cryptomoe_matmul.py``): :func:`matmul` with the batch packing."""
    return matmul(experts, capacity, d_in, d_out, poly_degree, bsgs, "batch", params, sizes=sizes)


def nexus_matmul(experts: int, capacity: int, d_in: int, d_out: int, poly_degree: int, pack: int = 256,
                 params: HEParams | None = None, sizes=None) -> Cost:
    """``protocols/he/nexus_matmul.matmul`` (entry ``nexus.matmul``): V = E t d_in values, n_in = ceil(V / p) compressed ciphertexts of
    p = min(pack, N) coefficients; rows = floor(S / d_out) rows per folded output, o = ceil(t / rows)
    outputs per expert.
        key switches = n_in (p - 1) [expansion automorphisms] + E (t - o) [fold rotations]
        rotations    = E (t - o)
        pt_mults     = n_in (p - 1) [monomials] + V [constant x weight row]
        ct_adds      = 2 n_in (p - 1) + E t (d_in - 1) + E (t - o) + 2 E o [mask, re-randomisation]
        ciphertexts  = n_in + E o; rounds 2; bytes as for the other matmuls."""
    params = params or HEParams(poly_degree)
    p = min(pack, poly_degree)
    values = experts * capacity * d_in
    n_in = -(-values // p)
    rows = params.slots // d_out
    o = -(-capacity // rows)
    n_out = experts * o
    folds = experts * (capacity - o)
    out = Cost(rounds=2, rotations=folds, key_switches=n_in * (p - 1) + folds, pt_mults=n_in * (p - 1) + values,
               ct_adds=2 * n_in * (p - 1) + experts * capacity * (d_in - 1) + folds + 2 * n_out,
               ciphertexts=n_in + n_out, bytes_client_to_server=n_in * params.seeded_ciphertext_bytes(),
               bytes_server_to_client=n_out * params.response_bytes())
    if sizes is None:
        return out
    from protocols.he.nexus_matmul import expansion_elements, fold_steps

    n_keys = galois_elements(fold_steps(params.slots, d_out, min(rows, capacity)),
                             expansion_elements(poly_degree, p) if p > 1 else set(), poly_degree, params.slots)
    return on_the_wire(out, n_in, n_out, sizes, n_keys, coeffs=True)


def encrypted_matvec(rows: int, cols: int) -> Cost:
    """``protocols/he/encrypted_linear.matvec``: [[W]] (rows x cols) times [[x]] -> [[y]] (cols values): one
    ciphertext x ciphertext product, one relinearisation, L = ceil(log2 rows) rotate-and-add steps.
        ct_mults 1; relinearizations 1; rotations L; key_switches L + 1; ct_adds L."""
    from protocols.he.encrypted_linear import levels

    depth = levels(rows)
    return Cost(ct_mults=1, relinearizations=1, rotations=depth, key_switches=depth + 1, ct_adds=depth)


def nexus_published(experts: int, capacity: int, d_in: int, d_out: int, poly_degree: int) -> Cost:
    """NEXUS as its authors specify the matmul (Zhang et al., NDSS 2025, section 4), per expert (no two
    experts share a ciphertext: their tokens and weights differ): the client's t d_in values travel as
    coefficients, ceil(t d_in / N) ciphertexts, each expanded into one ciphertext per value by a tree of
    automorphisms (N - 1 key switches per full ciphertext); the t d_out results are packed back into
    ceil(t d_out / N) ciphertexts by LWE packing (N - 1 key switches each). All are automorphisms: no
    slot rotation. privmoe's ``nexus`` instead expands across experts and folds slot-encoded results
    with rotations, which needs about half the key switches."""
    n_in = -(-capacity * d_in // poly_degree)
    n_out = -(-capacity * d_out // poly_degree)
    params = HEParams(poly_degree)
    ks = experts * (n_in + n_out) * (poly_degree - 1)
    return Cost(rounds=2, key_switches=ks, ciphertexts=experts * (n_in + n_out),
                bytes_client_to_server=experts * n_in * params.seeded_ciphertext_bytes(),
                bytes_server_to_client=experts * n_out * params.response_bytes())
