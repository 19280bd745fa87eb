"""Ciphertext x plaintext matmul between the two parties, ending in additive shares mod t (HE -> shares).

1. client: pack its A_e (t x d_in) rows (``packing``), encrypt (symmetric, seeded: N L 8 + 64 bytes per
   ciphertext), send;                                                                  round 1, client -> server
2. server: block-diagonal product with its plaintext B_e (``protocols/he/packing.matmul``), then adds a
   fresh uniform mask R (one add_plain per output) and keeps -R as its share;
   and conceals every answer (re-randomise, switch down, flood the noise: ``protocols/he/flooding.py``);
3. server -> client: the answers (2 N L' 8 bytes each, L' primes after switching down);        round 2
4. client: decrypts A B + R: its share.  Shares: client's + server's = A B (mod t).
The mask is uniform mod t, so the client's decryption is independent of A B; the flooding makes the
decryption noise independent of B up to 2^-40 per answer (the client's view holds that noise: ``noise``).

Rows that are not a power of two are padded (zero rows, weight 0): BOLT pads t to t^ = 2^ceil(log2 t)
per expert; the batch packing stacks the E padded blocks and pads E t^ to a power of two.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

import torch

from protocols.he.interface import HEBackend
from protocols.he.packing import Layout, matmul, pack_inputs, pow2, rotation_steps, unpack_outputs
from protocols.runtime.meter import Meter, PartyMeter

PACKINGS = ("bolt", "batch")


def generator(rng: np.random.Generator | int) -> np.random.Generator:
    """The server's mask generator: a Generator as given, or one seeded with the int."""
    return rng if hasattr(rng, "integers") else np.random.default_rng(rng)


def respond(be: HEBackend, outs: list, rng: np.random.Generator) -> tuple[list, list]:
    """The server's HE -> shares step: add a fresh uniform mask (drawn from ``rng``, the server's private
    generator) to every output (add_plain each), then ``conceal`` it (re-randomise, switch down, flood the
    noise from ``flooding.stream(rng)``: ``protocols/he/flooding.py``); returns the answers and the masks (the server's share
    is minus the mask)."""
    from protocols.he.flooding import stream

    t_mod = be.plain_modulus
    noise = stream(rng)
    masks = [rng.integers(0, t_mod, be.params.slots, dtype=np.uint64) for _ in outs]
    return [be.conceal(be.add_plain(o, m), noise) for o, m in zip(outs, masks)], masks


def account(be: HEBackend, n_in: int, n_out: int, client: PartyMeter, server: PartyMeter, input_bytes: int) -> None:
    """Record the two messages: n_in input ciphertexts (round 1) and n_out masked answers (round 2)."""
    for _ in range(n_in):
        client.on_send("server", input_bytes)
    server.on_recv("client", 0, 1)
    for _ in range(n_out):
        server.on_send("client", be.params.response_bytes())
    client.on_recv("server", 0, 2)


def finish(be: HEBackend, n_in: int, n_out: int, client: PartyMeter, server: PartyMeter, noise: list):
    """Counts dict and minimum noise budget of a finished run."""
    counts = {k: getattr(be.counts, k) for k in ("rotations", "pt_mults", "ct_adds", "key_switches")}
    counts["ciphertexts"] = n_in + n_out
    counts["ciphertexts_in"], counts["ciphertexts_out"] = n_in, n_out
    counts["ops"] = tuple(be.counts.ops)
    budgets = [n for n in noise if n is not None]
    return Meter([client, server]), counts, (min(budgets) if budgets else None)


@dataclass
class HEMatmulRun:
    """Shares (E, t, d_out) mod t of each party, the Meter (messages), op counts, ciphertexts, noise."""

    client_share: np.ndarray
    server_share: np.ndarray
    meter: Meter
    counts: dict
    noise_budget: int | None


def groups(experts: int, capacity: int, packing: str) -> list[tuple[list[int], int]]:
    """Which experts share ciphertexts, and the packed row count R of each group."""
    t_hat = pow2(capacity)
    if packing == "bolt":
        return [([e], t_hat) for e in range(experts)]
    if packing == "batch":
        return [(list(range(experts)), pow2(experts * t_hat))]
    raise ValueError(f"packing must be one of {PACKINGS}")


def _rows(A: np.ndarray, members: list[int], capacity: int, R: int) -> tuple[np.ndarray, np.ndarray]:
    """Stack the members' rows at e_pos * t^ (padding rows 0, expert -1)."""
    t_hat = pow2(capacity)
    packed = np.zeros((R, A.shape[-1]), dtype=np.uint64)
    expert_of_row = np.full(R, -1, dtype=np.int64)
    for pos, e in enumerate(members):
        packed[pos * t_hat:pos * t_hat + capacity] = A[e]
        expert_of_row[pos * t_hat:pos * t_hat + capacity] = e
    return packed, expert_of_row


def row_experts(members: list[int], capacity: int, R: int) -> np.ndarray:
    """Which expert each of the R packed rows belongs to (-1: padding) -- public, no data."""
    t_hat = pow2(capacity)
    expert_of_row = np.full(R, -1, dtype=np.int64)
    for pos, e in enumerate(members):
        expert_of_row[pos * t_hat:pos * t_hat + capacity] = e
    return expert_of_row


def place(share: np.ndarray, rows: np.ndarray, members: list[int], capacity: int) -> None:
    """Copy the unpacked rows of one group into ``share`` (E, t, d_out) at their experts."""
    t_hat = pow2(capacity)
    for pos, e in enumerate(members):
        share[e] = rows[pos * t_hat:pos * t_hat + capacity]


def _residues(X: np.ndarray, t_mod) -> np.ndarray:
    """X as residues mod t: X itself when already in [0, t) (no copy: the weights may be GBs, or a broadcast
    view), else a reduced uint64 copy."""
    X = np.asarray(X)
    if X.size and X.dtype.kind in "iu" and int(X.min()) >= 0 and int(X.max()) < int(t_mod):
        return X
    return X.astype(np.uint64) % t_mod


def party_matmul(X: np.ndarray, shape: tuple[int, int, int, int], packing: str, bsgs: bool, backend_cls,
                 params, compression: str = "none"):
    """The protocol as two parties run it (threads, processes or two hosts), everything on the wire.

    Both parties call it inside a run (``current_party()``): the client with X = A (E, t, d_in), the server
    with X = B (E, d_in, d_out), integers mod t; ``shape`` = (E, t, d_in, d_out) is public. Step
    ``matmul``: the client's public material (phase ``keys``, ``protocols/he/channel.py``), n_in seeded
    query ciphertexts (round 1), n_out masked answers (round 2), each frame the serialized bytes.
    -> this party's :class:`~protocols.mpc.sharing.HeldMod` share (E, t, d_out) mod t; the client's view
    gets its decryptions (claimed masked by the server)."""
    from protocols.crypten_shim import current_party
    from protocols.he import channel
    from protocols.mpc.sharing import HeldMod
    from protocols.runtime import step
    from protocols.runtime.ledger import client_key, he_answer_mask

    party = current_party()
    experts, capacity, d_in, d_out = shape
    plan = [(members, Layout(params.slots, R, d_in, d_out)) for members, R in groups(experts, capacity, packing)]
    n_in = sum(lay.n_in for _, lay in plan)
    n_out = sum(lay.n_out for _, lay in plan)
    share = np.zeros((experts, capacity, d_out), dtype=np.uint64)
    with step("matmul"):
        end = channel.open(backend_cls, params, steps=set().union(*(rotation_steps(lay, bsgs) for _, lay in plan)),
                           compression=compression)
        be = end.backend
        t_mod = np.uint64(be.plain_modulus)
        if party.rank == 0:                                           # client: encrypt, send, decrypt
            A = _residues(X, t_mod)
            channel.send(end, (be.encrypt_bytes(v) for members, lay in plan
                               for v in pack_inputs(_rows(A, members, capacity, lay.rows)[0], lay)),
                         client_key(int(t_mod)))
            answers, claimed = channel.receive(end, n_out, load=True)
            at, noise = 0, []
            for members, lay in plan:
                cts = answers[at:at + lay.n_out]
                at += lay.n_out
                noise += [be.noise_budget(ct) for ct in cts]
                channel.observe(end, cts)
                place(share, unpack_outputs([be.decrypt(ct) for ct in cts], lay), members, capacity)
            end.noise = [n for n in noise if n is not None]
            party.meter.see("decrypted", torch.tensor(share.astype(np.int64)).reshape(-1), "server", claimed,
                            party.meter.clock)
        else:                                                         # server: product, mask, answer
            B = _residues(X, t_mod)
            queries, _ = channel.receive(end, n_in, load=True)
            rng = party.numpy_generator("he", "answer masks")
            at, answers = 0, []
            for members, lay in plan:
                cts = queries[at:at + lay.n_in]
                at += lay.n_in
                outs, masks = respond(be, matmul(be, cts, B, row_experts(members, capacity, lay.rows), lay, bsgs),
                                      rng)
                answers += outs                                       # serialized as they are sent
                place(share, unpack_outputs([(t_mod - m) % t_mod for m in masks], lay), members, capacity)
            channel.send(end, (be.to_bytes(o) for o in answers), he_answer_mask(int(t_mod)))
    return HeldMod(torch.tensor(share.astype(np.int64)), int(t_mod))


def he_matmul(be: HEBackend, A: np.ndarray, B: np.ndarray, packing: str, bsgs: bool,
              rng: np.random.Generator | int = 0, cache: dict | None = None) -> HEMatmulRun:
    """LOCAL evaluation (one process, one backend, nothing serialized): A (E, t, d_in), B (E, d_in, d_out)
    integers mod t -> additive shares of every A_e B_e; ``rng``: the server's mask generator (or its seed).
    The operation counts are the protocol's (the same code as :func:`party_matmul`); the Meter it returns
    is written by :func:`account` from the formula sizes, for projections and benchmarks only -- what a
    run measures on the wire is :func:`party_matmul`'s. ``cache``: the server's encoded weight diagonals
    (``protocols/he/packing.matmul``), per group; pass the same dict again for the same B."""
    experts, capacity, d_in = A.shape
    d_out = B.shape[-1]
    t_mod = np.uint64(be.plain_modulus)
    A, B = A.astype(np.uint64) % t_mod, B.astype(np.uint64) % t_mod
    plan = [(members, Layout(be.params.slots, R, d_in, d_out)) for members, R in groups(experts, capacity, packing)]
    be.prepare(set().union(*(rotation_steps(lay, bsgs) for _, lay in plan)))
    client, server = PartyMeter("client"), PartyMeter("server")
    rng = generator(rng)
    c_share = np.zeros((experts, capacity, d_out), dtype=np.uint64)
    s_share = np.zeros_like(c_share)
    noise = []
    with client.step("matmul"), server.step("matmul"):
        sent, replies = [], []
        for members, lay in plan:                                   # 1. client packs and encrypts
            packed, rows_e = _rows(A, members, capacity, lay.rows)
            sent.append((members, lay, rows_e, [be.encrypt(v) for v in pack_inputs(packed, lay)]))
        n_in = sum(len(cts) for *_, cts in sent)
        for members, lay, rows_e, cts in sent:                      # 2. server: product and mask
            group = None if cache is None else cache.setdefault((tuple(members), lay, bsgs), {})
            outs, masks = respond(be, matmul(be, cts, B, rows_e, lay, bsgs, group), rng)
            replies.append((members, lay, outs, masks))
        n_out = sum(len(o) for _, _, o, _ in replies)
        account(be, n_in, n_out, client, server, be.params.seeded_ciphertext_bytes())
        for members, lay, outs, masks in replies:                    # 4. client decrypts
            noise += [be.noise_budget(o) for o in outs]
            got = unpack_outputs([be.decrypt(o) for o in outs], lay)
            neg = unpack_outputs([(t_mod - m) % t_mod for m in masks], lay)
            t_hat = pow2(capacity)
            for pos, e in enumerate(members):
                c_share[e] = got[pos * t_hat:pos * t_hat + capacity]
                s_share[e] = neg[pos * t_hat:pos * t_hat + capacity]
    meter, counts, budget = finish(be, n_in, n_out, client, server, noise)
    return HEMatmulRun(c_share, s_share, meter, counts, budget)
