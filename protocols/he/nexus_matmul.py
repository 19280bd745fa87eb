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
    """Right rotation by r d_out = left rotation by S - r d_out, for r < ``rows`` (a fold of t rows needs
    r < min(floor(S / d_out), t): keys for exactly those steps)."""
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


def answer(be: HEBackend, compressed: list, B: np.ndarray, capacity: int, pack: int, rng) -> tuple[list, list]:
    """The server's side (steps 2-4): expand the compressed ciphertexts, multiply by B (E, d_in, d_out) mod t,
    fold, mask. -> (masked answers, masks); E per_expert answers in expert order."""
    experts, d_in, d_out = B.shape
    slots = be.params.slots
    values, _, rows, per_expert = plan(experts, capacity, d_in, d_out, slots, pack)
    leaves = [leaf for ct in compressed for leaf in expand(be, ct, pack)][:values]              # 2.
    outs = []
    for e in range(experts):
        row_cts = []
        for i in range(capacity):                                                               # 3.
            acc = None
            for j in range(d_in):
                prod = be.multiply_plain(leaves[(e * capacity + i) * d_in + j], lambda e=e, j=j: _row(B[e, j], slots))
                acc = prod if acc is None else be.add(acc, prod)
            row_cts.append(acc)
        for q in range(per_expert):                                                             # 4.
            group = row_cts[q * rows:(q + 1) * rows]
            acc = group[0]
            for r, c in enumerate(group[1:], start=1):
                acc = be.add(acc, be.rotate(c, (slots - r * d_out) % slots))
            outs.append(acc)
    return respond(be, outs, rng)


def unfold(vectors: list[np.ndarray], experts: int, capacity: int, d_out: int, slots: int) -> np.ndarray:
    """Folded answer (or mask) slot vectors -> (E, t, d_out): row r of output q of expert e is row q rows + r."""
    rows = slots // d_out
    per_expert = -(-capacity // rows)
    out = np.zeros((experts, capacity, d_out), dtype=np.uint64)
    for e in range(experts):
        for q in range(per_expert):
            for r in range(min(rows, capacity - q * rows)):
                out[e, q * rows + r] = vectors[e * per_expert + q][r * d_out:(r + 1) * d_out]
    return out


def party_matmul(X: np.ndarray, shape: tuple[int, int, int, int], pack: int, backend_cls, params,
                 compression: str = "none"):
    """NEXUS as two parties run it, on the wire (see ``protocols/he/matmul.party_matmul`` for the frame
    layout): the client sends ceil(E t d_in / p) seeded coefficient-encoded ciphertexts, the server answers
    E ceil(t / floor(S / d_out)) masked folded ciphertexts. Client X = A (E, t, d_in), server X = B
    (E, d_in, d_out) mod t. -> this party's HeldMod share (E, t, d_out) mod t."""
    import torch

    from protocols.crypten_shim import current_party
    from protocols.he import channel
    from protocols.mpc.sharing import HeldMod
    from protocols.runtime import step
    from protocols.runtime.ledger import client_key, he_answer_mask

    party = current_party()
    experts, capacity, d_in, d_out = shape
    n, slots = params.poly_degree, params.slots
    pack = min(pack, n)
    if pack & (pack - 1):
        raise ValueError("pack must be a power of two")
    values, n_in, rows, per_expert = plan(experts, capacity, d_in, d_out, slots, pack)
    with step("matmul"):
        end = channel.open(backend_cls, params, elements=expansion_elements(n, pack) if pack > 1 else set(),
                           steps=fold_steps(slots, d_out, min(rows, capacity)), compression=compression)
        be = end.backend
        t_mod = be.plain_modulus
        if party.rank == 0:
            A = X.astype(np.uint64) % np.uint64(t_mod)
            inv = pow(pack, -1, t_mod)
            flat = (A.reshape(-1).astype(object) * inv % t_mod).astype(np.uint64)
            channel.send(end, [be.encrypt_coeffs_bytes(flat[i * pack:(i + 1) * pack]) for i in range(n_in)],
                         client_key(t_mod))                                                     # 1.
            blobs, claimed = channel.receive(end, experts * per_expert)
            cts = [be.from_bytes(b) for b in blobs]
            end.noise = [x for x in (be.noise_budget(ct) for ct in cts) if x is not None]
            channel.observe(end, cts)
            share = unfold([be.decrypt(ct) for ct in cts], experts, capacity, d_out, slots)
            party.meter.see("decrypted", torch.tensor(share.astype(np.int64)).reshape(-1), "server", claimed,
                            party.meter.clock)
        else:
            B = X.astype(np.uint64) % np.uint64(t_mod)
            blobs, _ = channel.receive(end, n_in)
            outs, masks = answer(be, [be.from_bytes(b) for b in blobs], B, capacity, pack,
                                 party.numpy_generator("he", "answer masks"))
            channel.send(end, [be.to_bytes(o) for o in outs], he_answer_mask(t_mod))
            share = unfold([(np.uint64(t_mod) - m) % np.uint64(t_mod) for m in masks], experts, capacity, d_out,
                           slots)
    return HeldMod(torch.tensor(share.astype(np.int64)), t_mod)


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
    be.prepare_galois(expansion_elements(n, pack) if pack > 1 else set(), fold_steps(slots, d_out, min(rows, capacity)))
    A = A.astype(np.uint64) % np.uint64(t_mod)
    B = B.astype(np.uint64) % np.uint64(t_mod)
    inv = pow(pack, -1, t_mod)
    flat = (A.reshape(-1).astype(object) * inv % t_mod).astype(np.uint64)
    client, server = PartyMeter("client"), PartyMeter("server")
    rng = generator(rng)
    with client.step("matmul"), server.step("matmul"):
        sent = [be.encrypt_coeffs(flat[i * pack:(i + 1) * pack]) for i in range(n_in)]          # 1.
        outs, masks = answer(be, sent, B, capacity, pack, rng)                                 # 2.-4.
        account(be, n_in, len(outs), client, server, be.params.seeded_ciphertext_bytes())
        noise = [be.noise_budget(o) for o in outs]
        got = [be.decrypt(o) for o in outs]
    c_share = unfold(got, experts, capacity, d_out, slots)
    s_share = unfold([(np.uint64(t_mod) - m) % np.uint64(t_mod) for m in masks], experts, capacity, d_out, slots)
    meter, counts, budget = finish(be, n_in, len(outs), client, server, noise)
    return HEMatmulRun(c_share, s_share, meter, counts, budget)
