"""Pi_moe, SecMoE (AAAI'26) select-then-compute, as published (spec: ``moe[exact]``; entry ``secmoe.moe``).

Instead of moving tokens to experts, obliviously SELECT each (token, slot)'s expert weights under HE and
compute on them ENCRYPTED, so no weight ever crosses the network and communication does not grow with E.
SecMoE drops nothing: k > 1 is one selection per (token, slot) pair, weighted by W and summed.

1. ``gate``     -- CrypTen: K, W (protocols/mpc/gate.py).
2. ``onehot``   -- r[j, s, e] = [K[j, s] == e] in the BINARY domain: XOR shares b0 (client), b1 (server);
   6 AND rounds, no B2A -- the B2A happens under HE in step 3.
3. ``select``   -- HE (BFV; the client's keys, sent once: phase ``keys``). Per pair the client encrypts b0,
   one block of d f slots per expert (G = the largest power of two <= min(E, S / (d f)) experts per
   ciphertext), and sends it; for W in (U, V, D) the server computes Enc(r W) = Enc(b0) [(1 - 2 b1) W] +
   [b1 W] -- since r = b0 + b1 - 2 b0 b1 this is the B2A with no interaction, folded into ONE plaintext
   product -- and a rotate-and-add tree over the G blocks: [[W_sel]] = Enc(sum_e r_e W_e) in block 0
   (row-major). They stay at the server.
4. ``up``       -- shares -> HE: ``x_to_he`` (``protocols/he/encrypt_shares``: the server's share under a
   2^-40 statistical mask to the client, the client encrypts x + r replicated f times per row, one
   ciphertext per token, the server subtracts r); then per pair [[x U_sel]] and [[x V_sel]]
   (``protocols/he/encrypted_linear.matvec``: one ciphertext product, one relinearisation, a log2 d
   rotate-and-add tree each); HE -> shares: ``answer`` -- masked (uniform mod t, the server's
   ``("secmoe", "answer masks")`` generator), concealed (``protocols/he/flooding.py``, with the ciphertext-
   product bound ``encrypted_linear.noise_bits``), sent; the client decrypts: 2 answers per pair.
5. ``lift_up``  -- residues mod t -> Z_2^64 shares (``protocols/he/lift``, one batched comparison) of
   x W at scale 2^32, truncated to 2^16 (CrypTen's local truncation: one truncation as in a Beaver product).
6. ``silu``, ``gate_mul`` -- on shares: g = silu(h1) h2 (as ``protocols/mpc/expert.py``).
7. ``down``     -- shares -> HE (``g_to_he``: g replicated d times, one ciphertext per pair), [[g D_sel]],
   masked and answered (1 per pair); ``lift_down`` as in 5.
8. ``combine``  -- y_j = sum_s W[j, s] out[j, s].

HE parameters (``he_params``): N = 16384, four 60-bit data primes and a 60-bit special prime, t a 45-bit
batching prime, answers switched down to 2 primes. Why: the products x W carry both fixed-point scales (2^32)
and sum d (f) of them: t must exceed 2 max(d X W, f G W) 2^32 (X = 1, W = 1/2, G = (d/2)^2 the bound on g;
``check_dims``); one ciphertext product on top of the selection's plaintext product leaves a worst-case noise
of about 2^127 (``encrypted_linear.noise_bits``), more than N = 8192's modulus holds; dropping two of the four
data primes before answering brings it under SEAL's rounding, so the answers are floodable at 2^-40
(``flooding.plan``: 4 bits to spare).

Outputs y (m, d), K, W shared. Leakage: m, d, d_ff, E, k and the HE parameters. Keys and ciphertexts travel
serialized through the metered communicator (``protocols/he/channel.py``): threads, processes and two hosts.
"""
from __future__ import annotations


import numpy as np
import torch

from functionalities.errors import PublicParameterError
from functionalities.fixed_point import encode
from protocols.crypten_shim import BinarySharedTensor, MPCTensor, current_party
from protocols.he import channel as he_channel
from protocols.he import encrypted_linear as EL
from protocols.he import flooding
from protocols.he.encrypt_shares import encrypt_shares
from protocols.he.hybrid_linear import check_ranges
from protocols.he.interface import HEBackend, HEParams
from protocols.he.to_shares import first, rescale, to_shares
from protocols.runtime import step
from protocols.runtime.ledger import client_key

from .expert import silu_gate
from .gate import gate
from .moe_common import check_layer
from .sharing import from_ring, ring, share_input

#: the encrypted compute's HE parameters (module docstring)
POLY_DEGREE, PLAIN_BITS, COEFF_BITS, ANSWER_PRIMES = 16384, 45, (60, 60, 60, 60, 60), 2


def he_params(poly_degree: int = POLY_DEGREE) -> HEParams:
    """SecMoE's HE parameters (module docstring): N (default 16384), 45-bit t, four 60-bit data primes and a
    60-bit special prime (300 bits: SEAL's 128-bit limit at N = 16384 is 438), answers at 2 primes."""
    return HEParams(poly_degree, PLAIN_BITS, COEFF_BITS if poly_degree == POLY_DEGREE else None,
                    response_primes=ANSWER_PRIMES)


def layout(experts: int, block: int, slots: int) -> tuple[int, int, int]:
    """(experts per ciphertext G, ciphertexts per (token, slot), rotate-and-add levels). G is the largest
    power of two <= min(E, S / block), so the tree's rotations (block 2^i, i < log2 G) read only slots
    below G block <= S: nothing wraps around the row into block 0."""
    if block > slots:
        raise PublicParameterError(f"d * ffn = {block} exceeds the {slots} slots: raise he_poly_degree")
    per = 1 << (min(experts, slots // block).bit_length() - 1)
    return per, -(-experts // per), per.bit_length() - 1


def tree_steps(experts: int, block: int, slots: int) -> set[int]:
    """The selection tree's rotation steps (public)."""
    _, _, levels = layout(experts, block, slots)
    return {(block << i) % slots for i in range(levels)}


def check_dims(hidden: int, ffn: int, params: HEParams) -> None:
    """The encrypted compute's range conditions (module docstring), PublicParameterError naming the one that
    fails: the hybrid linears' ranges (``protocols/he/hybrid_linear.check_ranges``: g within the statistical
    mask's 2^23, x W and g D below t / 2 at scale 2^32); both product blocks without wrap-around in the
    slots."""
    check_ranges(hidden, ffn, params)
    EL.check(hidden, ffn, params.slots)
    EL.check(ffn, hidden, params.slots)


def onehot_binary(K: MPCTensor, experts: int) -> torch.Tensor:
    """This party's XOR share (0/1 int64) of [K == e] for every e: (m, k, E). 6 rounds."""
    shares = ring(K).unsqueeze(-1).expand(*K.shape, experts)
    diff = shares - torch.arange(experts) if current_party().rank == 0 else shares.clone()
    a = BinarySharedTensor(diff, src=0)
    b = BinarySharedTensor(-diff, src=1)
    return a.eq(b).share & 1


def front(x: MPCTensor, w_g: MPCTensor, top_k: int, experts: int, gate_topk: str = "auto"):
    """Steps ``gate`` (its top-k by ``gate_topk``) and ``onehot`` -> K, W (shared), this party's XOR share of
    the one-hot (m k, E)."""
    with step("gate"):
        K, W = gate(x, w_g, top_k, gate_topk)
    with step("onehot"):
        bits = onehot_binary(K, experts).reshape(-1, experts)
    return K, W, bits


def select(bits: torch.Tensor, end, server_weights: dict | None, experts: int, block: int, pairs: int):
    """The HE selection (module docstring, step 3) on an open HE link ``end``: the client sends its
    queries; the server returns ``[[U_sel]], [[V_sel]], [[D_sel]]`` for every pair (a list of 3 pairs
    ciphertexts, pair-major), the client None."""
    party = current_party()
    be, t_mod = end.backend, end.backend.plain_modulus
    slots = be.params.slots
    per, chunks, levels = layout(experts, block, slots)
    expand = lambda v: np.repeat(v, block)                                     # noqa: E731  e -> block
    if party.rank == 0:
        cts = []
        for p in range(pairs):
            for c in range(chunks):
                v = np.zeros(slots, dtype=np.uint64)
                sel = bits[p, c * per:(c + 1) * per].numpy().astype(np.uint64)
                v[:len(sel) * block] = expand(sel)
                cts.append(be.encrypt_bytes(v))
        he_channel.send(end, cts, client_key(t_mod))
        return None
    blobs, _ = he_channel.receive(end, pairs * chunks)
    cts = [be.from_bytes(b) for b in blobs]
    mats = [(encode(server_weights[name]).reshape(experts, block).numpy() % t_mod).astype(np.uint64)
            for name in ("U", "V", "D")]
    out = []
    for p in range(pairs):
        sums = [None, None, None]
        for c in range(chunks):
            b1 = np.zeros(slots, dtype=np.uint64)
            sel = bits[p, c * per:(c + 1) * per].numpy().astype(np.uint64)
            b1[:len(sel) * block] = expand(sel)
            for i, w in enumerate(mats):
                lay = np.zeros(slots, dtype=np.uint64)
                rows = w[c * per:(c + 1) * per]
                lay[:rows.size] = rows.reshape(-1)
                # r W = b0 (1 - 2 b1) W + b1 W: ONE plaintext product (the B2A folded into W); (1 - 2 b1) W is
                # W or -W mod t (no product: t may exceed 32 bits)
                flipped = np.where(b1 == 1, (t_mod - lay) % t_mod, lay).astype(np.uint64)
                acc = be.add_plain(be.multiply_plain(cts[p * chunks + c], flipped), lay * b1 % t_mod)
                for lv in range(levels):
                    acc = be.add(acc, be.rotate(acc, (block << lv) % slots))
                sums[i] = acc if sums[i] is None else be.add(sums[i], acc)
        out += sums
    return out


def moe(x: MPCTensor, w_g: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor, top_k: int,
        he: tuple[type[HEBackend], HEParams], server_weights: dict | None, gate_topk: str = "auto"):
    """-> y (m, d), K, W shared. ``he`` = (the HE backend class, its HEParams: ``he_params()``): SEAL or the
    slot simulator (the registry entry chooses, so this module needs neither); ``server_weights``: the
    server's plaintext U, V, D (the selection needs them in the clear; None on the client); ``gate_topk``: the
    gate's top-k method (``topk.ONEHOT_METHODS``)."""
    check_layer(x, w_g, U, top_k, None, "exact")
    party = current_party()
    tokens, hidden = x.shape
    experts, _, ffn = U.shape
    block = hidden * ffn
    backend_cls, params = he
    slots = params.slots
    check_dims(hidden, ffn, params)
    per, chunks, levels = layout(experts, block, slots)
    pairs = tokens * top_k
    pre_up = EL.noise_bits(params, hidden, EL.selection_noise_bits(params, levels, chunks))
    pre_down = EL.noise_bits(params, ffn, EL.selection_noise_bits(params, levels, chunks))
    flooding.check(params, pre_bits=max(pre_up, pre_down))
    K, W, bits = front(x, w_g, top_k, experts, gate_topk)
    with step("select"):
        end = he_channel.open(backend_cls, params, relin=True,
                              steps=tree_steps(experts, block, slots) | EL.steps(hidden, ffn) | EL.steps(ffn, hidden))
        sel = select(bits, end, server_weights, experts, block, pairs)
    be = end.backend
    rng = party.numpy_generator("secmoe", "answer masks") if party.rank == 1 else None
    with step("up"):
        xs = encrypt_shares(x.reshape(-1), end, lambda v: [EL.replicate(v[j * hidden:(j + 1) * hidden], ffn, slots)
                                                           for j in range(tokens)], label="x_to_he")
        outs = None
        if party.rank == 1:
            outs = []
            for p in range(pairs):
                xj = xs[p // top_k]
                outs += [EL.matvec(be, sel[3 * p], xj, hidden, ffn), EL.matvec(be, sel[3 * p + 1], xj, hidden, ffn)]
        h = to_shares(end, outs, 2 * pairs, first(ffn), pre_up, rng)
    with step("lift_up"):
        h = rescale(h).reshape(pairs, 2 * ffn)                 # per pair [x U_sel | x V_sel]
    g = silu_gate(h, ffn)
    with step("down"):
        gs = encrypt_shares(g.reshape(-1), end, lambda v: [EL.replicate(v[p * ffn:(p + 1) * ffn], hidden, slots)
                                                           for p in range(pairs)], label="g_to_he")
        outs = None
        if party.rank == 1:
            outs = [EL.matvec(be, sel[3 * p + 2], gs[p], ffn, hidden) for p in range(pairs)]
        y = to_shares(end, outs, pairs, first(hidden), pre_down, rng)
    with step("lift_down"):
        out = rescale(y).reshape(tokens, top_k, hidden)
    with step("combine"):
        y = (out * W.unsqueeze(-1)).sum(1)
    return y, K, W
