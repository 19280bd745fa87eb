"""A linear layer of SHARES times the server's PLAINTEXT weights by HE: shares -> HE -> ct x pt -> shares.

How the MoE layers run their expert linears with ``linear=he`` (``protocols/mpc/expert.expert_ffn_he``):
the server keeps its weights in plaintext, so the layer's communication does not grow with them.
x (E, rows, d_in) is shared (CrypTen, fixed point at 2^16); the server holds W (E, d_in, d_out).

1. ``to_he`` -- shares -> HE (``protocols/he/encrypt_shares.py``): the server sends its share under a 2^-40
   statistical mask (8 bytes per value, 1 round); the client encrypts x + r packed in the matmul's layout
   (seeded queries, 1 round); the server subtracts r (one ``add_plain`` per query);
2. the server's block-diagonal ct x pt product (``protocols/he/packing.matmul``; BOLT's packing: one group
   per expert, or CryptoMoE's batch packing: all experts' rows in one group; +- BSGS) -- no message;
3. ``answer`` + ``lift`` -- HE -> shares (``protocols/he/to_shares.py``): masked, concealed answers with
   this circuit's own worst-case noise (:func:`pre_bits`), decrypted by the client, lifted to Z_2^64;
4. ``rescale`` -- x W at scale 2^32 -> 2^16: one local truncation, as after a Beaver product (so the error
   is a Beaver product's: the product mod t is exact).

Ranges (:func:`check_ranges`): x W must stay below t/2 at scale 2^32, and a value sent to HE below the
statistical mask's 2^23 (at 2^16). Parameters: the hybrid layers use SecMoE's (N = 16384, 45-bit t,
answers at 2 primes: ``protocols/mpc/secmoe_moe.he_params``): at N = 8192 a 45-bit t (38 bits too) leaves
no room to flood an answer of rotated-then-multiplied inputs (``flooding.circuit_bits``).

Cost (``analysis/cost_models/moe.hybrid_linear``): 3 rounds + the lift's 8; bytes 8 E rows d_in server ->
client, n_in queries, n_out answers; HE counts of ``analysis/cost_models/he.matmul`` plus one ``add_plain``
per query. Leakage: the shapes, the packing, the HE parameters.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from functionalities.errors import PublicParameterError
from functionalities.fixed_point import FRAC_BITS, encode
from functionalities.moe import WEIGHT_RANGE, X_RANGE
from protocols.crypten_shim import MPCTensor, current_party
from protocols.he import flooding
from protocols.he.encrypt_shares import MAX_BITS, encrypt_shares
from protocols.he.matmul import _rows, groups, place, row_experts
from protocols.he.packing import Layout, matmul, pack_inputs, products_per_answer, rotation_steps, unpack_outputs
from protocols.he.to_shares import rescale, to_shares

PACKINGS = ("batch", "bolt")


def plan(experts: int, rows: int, d_in: int, d_out: int, packing: str, slots: int) -> list[tuple[list[int], Layout]]:
    """Which experts share ciphertexts and their layouts (``protocols/he/matmul.groups``); public."""
    if packing not in PACKINGS:
        raise PublicParameterError(f"packing must be one of {PACKINGS}, got {packing!r}")
    return [(members, Layout(slots, R, d_in, d_out)) for members, R in groups(experts, rows, packing)]


def steps(layouts: list[tuple[list[int], Layout]], bsgs: bool) -> set[int]:
    """The rotation steps (Galois keys) the products use."""
    return set().union(*(rotation_steps(lay, bsgs) for _, lay in layouts))


def pre_bits(params, layouts: list[tuple[list[int], Layout]]) -> float:
    """log2 of an answer's worst-case noise before switching down: P products of rotated inputs
    (``flooding.circuit_bits``) and at most P key switches after them (BSGS's giant steps), P the most
    products an answer sums."""
    p = math.log2(max(products_per_answer(lay) for _, lay in layouts))
    return math.log2(2.0 ** flooding.circuit_bits(params, p) + 2.0 ** (p + flooding.key_switch_bits(params)))


def g_bound(hidden: int) -> float:
    """A bound on |g| = |silu(x U) (x V)| <= |x U| |x V| <= (d X W)^2 (silu(z) <= |z|)."""
    return (hidden * X_RANGE * WEIGHT_RANGE) ** 2


def check_ranges(hidden: int, ffn: int, params) -> None:
    """The SwiGLU's linears through HE at ``params``, PublicParameterError naming what fails: g's
    fixed-point encoding within the statistical mask's 2^23 (shares -> HE of the down projection's input);
    x W and g D below t / 2 at scale 2^32."""
    g_bits = math.ceil(math.log2(g_bound(hidden) * 2 ** FRAC_BITS + 1))
    if g_bits > MAX_BITS:
        raise PublicParameterError(f"hidden = {hidden}: |g| may reach {g_bound(hidden):g}, beyond the 2^-40 "
                                   f"statistical mask of shares -> HE (2^{MAX_BITS - FRAC_BITS}); smaller hidden")
    worst = max(hidden * X_RANGE, ffn * g_bound(hidden)) * WEIGHT_RANGE * 2.0 ** (2 * FRAC_BITS)
    t = 2.0 ** (params.plain_bits - 1)
    if 2 * worst >= t:
        raise PublicParameterError(f"hidden = {hidden}, ffn = {ffn}: a product may reach {worst:.3g} at scale 2^32, "
                                   f"beyond t/2 for {params.plain_bits}-bit t")


def linear(x: MPCTensor, W: torch.Tensor | None, d_out: int, end, packing: str, bsgs: bool,
           rng: np.random.Generator | None) -> MPCTensor:
    """x (E, rows, d_in) shared (fixed point, |x| < 2^(23 - 16)); W (E, d_in, d_out) the server's plaintext
    floats (None at the client); ``end``: the run's HE link, opened with :func:`steps`; ``rng``: the
    server's private generator of answer masks (None at the client). -> x W (E, rows, d_out) shared, fixed
    point. Steps ``to_he`` (``to_client``, ``encrypt``), ``answer``, ``lift``."""
    party = current_party()
    experts, rows, d_in = x.shape
    be = end.backend
    t_mod = np.uint64(be.plain_modulus)
    layouts = plan(experts, rows, d_in, d_out, packing, be.params.slots)

    def packed(v: np.ndarray) -> list[np.ndarray]:
        A = v.reshape(experts, rows, d_in)
        return [vec for members, lay in layouts for vec in pack_inputs(_rows(A, members, rows, lay.rows)[0], lay)]

    def read(vectors: list[np.ndarray]) -> np.ndarray:
        out, at = np.zeros((experts, rows, d_out), dtype=np.uint64), 0
        for members, lay in layouts:
            place(out, unpack_outputs(vectors[at:at + lay.n_out], lay), members, rows)
            at += lay.n_out
        return out.reshape(-1)

    cts = encrypt_shares(x.reshape(-1), end, packed, label="to_he")
    outs = None
    if party.rank == 1:
        B = (encode(W).numpy() % int(t_mod)).astype(np.uint64)
        outs, at = [], 0
        for members, lay in layouts:
            outs += matmul(be, cts[at:at + lay.n_in], B, row_experts(members, rows, lay.rows), lay, bsgs)
            at += lay.n_in
    n_out = sum(lay.n_out for _, lay in layouts)
    y = to_shares(end, outs, n_out, read, pre_bits(be.params, layouts), rng)
    return rescale(y).reshape(experts, rows, d_out)
