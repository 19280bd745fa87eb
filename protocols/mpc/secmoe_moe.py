"""Pi_moe, SecMoE (AAAI'26) select-then-compute on the project's hybrid (spec: ``moe_layer``, ``exact``).

Instead of moving tokens to experts, obliviously SELECT each (token, slot)'s expert weights, then run one
FFN on them. SecMoE drops nothing: k > 1 is one selection per (token, slot), weighted by W and summed.
1. ``gate``     -- CrypTen: K, W (protocols/mpc/gate.py).
2. ``onehot``   -- r[j, s, e] = [K[j, s] == e] in the BINARY domain: XOR shares b0 (client), b1 (server);
   6 AND rounds, no B2A -- the B2A happens under HE in step 3.
3. ``select``   -- HE (BFV; keys are the client's): per (j, s) the client encrypts b0 laid out one block of
   d f slots per expert (G = the largest power of two <= min(E, S / (d f)) experts per ciphertext) and sends it; for W in (U, V, D)
   the server computes Enc(r W) = Enc(b0) * [(1 - 2 b1) W] + [b1 W] -- since r = b0 + b1 - 2 b0 b1 this
   is the B2A with no interaction, folded into ONE plaintext product (two would exhaust BFV's noise
   budget at N = 4096) -- then a rotate-and-add tree over the G blocks (ceil(log2 G) rotations) gives
   Enc(sum_e r_e W_e) in block 0; it masks each (HE -> shares) and answers: 3 per (j, s).
   Communication: m k ceil(E / G) inputs + 3 m k answers -- independent of E while E d f fits a ciphertext;
   server work grows with E.
4. ``lift``     -- the client's decryptions and the server's minus-masks, residues mod t, become Z_2^64
   shares of the selected fixed-point weights (``protocols/he/lift.lift``: one batched comparison).
5. ``ffn``      -- one SwiGLU per (j, s) with the selected (secret) weights (protocols/mpc/expert.py,
   batched over the m k pairs), then ``combine``: y_j = sum_s W[j, s] out[j, s].
Outputs y (m, d), K, W shared. Leakage: m, d, d_ff, E, k and the HE parameters. Keys and ciphertexts
travel serialized through the metered communicator (``protocols/he/channel.py``): threads, processes and
two hosts alike.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from functionalities.fixed_point import FRAC_BITS, encode
from protocols.crypten_shim import BinarySharedTensor, MPCTensor, current_party
from protocols.he import channel as he_channel
from protocols.he.lift import lift
from protocols.he.interface import HEBackend, HEParams
from protocols.runtime import step
from protocols.he import flooding
from protocols.runtime.ledger import client_key, he_answer_mask

from .expert import expert_ffn
from .gate import gate
from .moe_common import check_layer
from .sharing import from_ring, ring, share_input


def layout(experts: int, block: int, slots: int) -> tuple[int, int, int]:
    """(experts per ciphertext G, ciphertexts per (token, slot), rotate-and-add levels). G is the largest
    power of two <= min(E, S / block), so the tree's rotations (block 2^i, i < log2 G) read only slots
    below G block <= S: nothing wraps around the row into block 0."""
    if block > slots:
        from functionalities.errors import PublicParameterError

        raise PublicParameterError(f"d * ffn = {block} exceeds the {slots} slots: raise he_poly_degree")
    per = 1 << (min(experts, slots // block).bit_length() - 1)
    return per, -(-experts // per), per.bit_length() - 1


def onehot_binary(K: MPCTensor, experts: int) -> torch.Tensor:
    """This party's XOR share (0/1 int64) of [K == e] for every e: (m, k, E). 6 rounds."""
    shares = ring(K).unsqueeze(-1).expand(*K.shape, experts)
    diff = shares - torch.arange(experts) if current_party().rank == 0 else shares.clone()
    a = BinarySharedTensor(diff, src=0)
    b = BinarySharedTensor(-diff, src=1)
    return a.eq(b).share & 1


def moe(x: MPCTensor, w_g: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor, top_k: int,
        he: tuple[type[HEBackend], HEParams], server_weights: dict | None):
    """-> y (m, d), K, W shared. ``he`` = (the HE backend class, its HEParams): SEAL or the slot simulator
    (the registry entry chooses, so this module needs neither); ``server_weights``: the server's
    plaintext U, V, D (the HE step needs them in the clear; None on the client)."""
    check_layer(x, w_g, U, top_k, None, "exact")
    party = current_party()
    tokens, hidden = x.shape
    experts, _, ffn = U.shape
    block = hidden * ffn
    backend_cls, params = he
    slots = params.slots
    per, chunks, levels = layout(experts, block, slots)
    pairs = tokens * top_k
    with step("gate"):
        K, W = gate(x, w_g, top_k)
    with step("onehot"):
        bits = onehot_binary(K, experts).reshape(pairs, experts)
    with step("select"):
        end = he_channel.open(backend_cls, params, steps={(block << i) % slots for i in range(levels)})
        be, t_mod = end.backend, end.backend.plain_modulus
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
            answers, masked_by = he_channel.receive(end, 3 * pairs)
            received = [be.from_bytes(a) for a in answers]
            end.noise = [x for x in (be.noise_budget(ct) for ct in received) if x is not None]
            he_channel.observe(end, received)
            mine = np.stack([be.decrypt(ct)[:block] for ct in received]).astype(np.int64)
            party.meter.see("decrypted", torch.tensor(mine.reshape(-1)), "server", masked_by, party.meter.clock)
        else:
            blobs, _ = he_channel.receive(end, pairs * chunks)
            cts = [be.from_bytes(b) for b in blobs]
            mats = []
            for name in ("U", "V", "D"):
                w = encode(server_weights[name]).reshape(experts, block).numpy() % t_mod
                mats.append(w.astype(np.uint64))
            rng = party.numpy_generator("secmoe", "answer masks")
            noise = flooding.stream(rng)
            answers, mine = [], []
            for p in range(pairs):
                sums = [None, None, None]
                for c in range(chunks):
                    b1 = np.zeros(slots, dtype=np.uint64)
                    sel = bits[p, c * per:(c + 1) * per].numpy().astype(np.uint64)
                    b1[:len(sel) * block] = expand(sel)
                    flip = (1 + (t_mod - 2) * b1) % t_mod                          # 1 - 2 b1 (mod t)
                    for i, w in enumerate(mats):
                        lay = np.zeros(slots, dtype=np.uint64)
                        rows = w[c * per:(c + 1) * per]
                        lay[:rows.size] = rows.reshape(-1)
                        # r W = b0 (1 - 2 b1) W + b1 W: ONE plaintext product (the B2A folded into W)
                        acc = be.add_plain(be.multiply_plain(cts[p * chunks + c], lay * flip % t_mod),
                                           lay * b1 % t_mod)
                        for lv in range(levels):
                            acc = be.add(acc, be.rotate(acc, (block << lv) % slots))
                        sums[i] = acc if sums[i] is None else be.add(sums[i], acc)
                for s in sums:
                    m = rng.integers(0, t_mod, slots, dtype=np.uint64)
                    answers.append(be.to_bytes(be.conceal(be.add_plain(s, m), noise)))
                    mine.append(((t_mod - m[:block]) % t_mod).astype(np.int64))
            he_channel.send(end, answers, he_answer_mask(t_mod))
            mine = np.stack(mine)
    shape = (pairs * 3 * block,)
    with step("lift"):
        c_sh = share_input(torch.tensor(mine.reshape(-1)) if party.rank == 0 else None, 0, shape, integer=True)
        s_sh = share_input(torch.tensor(mine.reshape(-1)) if party.rank == 1 else None, 1, shape, integer=True)
        weights = lift(c_sh, s_sh, t_mod, precision=FRAC_BITS)
    sel = ring(weights).reshape(pairs, 3, block)
    U_sel = from_ring(sel[:, 0].reshape(pairs, hidden, ffn), precision=FRAC_BITS)
    V_sel = from_ring(sel[:, 1].reshape(pairs, hidden, ffn), precision=FRAC_BITS)
    D_sel = from_ring(sel[:, 2].reshape(pairs, ffn, hidden), precision=FRAC_BITS)
    with step("ffn"):
        xr = from_ring(ring(x).unsqueeze(1).expand(tokens, top_k, hidden).reshape(pairs, 1, hidden),
                       precision=FRAC_BITS)
        out = expert_ffn(xr, U_sel, V_sel, D_sel).reshape(tokens, top_k, hidden)
    with step("combine"):
        y = (out * W.unsqueeze(-1)).sum(1)
    return y, K, W
