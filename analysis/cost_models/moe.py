"""Cost structure of the MoE protocols, written ONCE for every backend.

Each function takes a backend module ``B`` (``crypten`` -- exact for our runs -- or ``cheetah`` -- the
papers' stack) providing the primitive vocabulary ``backend.CostBackend`` (``equal_zero(n)``,
``less_than_zero(n)``, ``mul(n_x, n_y, n_out)``, ``bmm``, ``bmm_sum``, ``wmm``, ``mux_bits``, ``topk_auto``,
``silu``, ``gate`` ...: the names of the protocols they cost), and mirrors the protocol's schedule step by
step, with the protocol's step labels. A function is named after the registry entry whose cost it is
(``piecewise.activation`` -> ``piecewise_activation``, ``he.lift`` -> ``lift``).

These are the ``protocol`` accounting: the protocols as specified (the server's weights enter through
``wmm``: on ``cheetah`` a ciphertext x plaintext product, on ``crypten`` the shared weights privmoe's runs
use). The pipelines the papers' authors measured are ``moe_paper.py`` (the ``paper`` accounting).

Symbols: m tokens, d hidden, f ffn, E experts, k top-k, t capacity, n = k m candidates.
"""
from __future__ import annotations

from .backend import CostBackend
from .cost import Cost


def swap_pairs(n: int, t: int) -> list[int]:
    """Pairs per time step of the pipelined bubble network (``protocols/mpc/swap_network``): pass i < P
    (P = min(t, n - 1)) is active at time tau when 2 i <= tau <= n - 2 + i; T = n - 2 + P steps."""
    passes = min(t, n - 1)
    return [sum(1 for i in range(passes) if 2 * i <= tau <= n - 2 + i) for tau in range(max(0, n - 2 + passes))]


def priorities(B: CostBackend, m: int, E: int, k: int) -> Cost:
    """``equal`` (E k m equalities) + ``mux`` (E k m products with the broadcast k m scores)."""
    n = k * m
    return B.equal_zero(E * n).labelled("equal") + B.mux_bits(E * n, n, E * n).labelled("mux")


def cryptomoe_dispatch(B: CostBackend, m: int, d: int, E: int, k: int, t: int, method: str = "auto") -> Cost:
    """Algorithm 1: priorities, top-t of k m per expert (its label is the token index: //k is free),
    one-hot (E t m equalities), the dispatch matmul (E t m) @ (m d), x broadcast.
    O(E k m log(k m) min(t, log(k m)) + E t m) + one matmul."""
    return (priorities(B, m, E, k)
            + B.topk_auto(E, k * m, t, method).labelled("topk")
            + B.equal_zero(E * t * m).labelled("onehot")
            + B.bmm(E, t, m, d, True, False).labelled("dispatch_matmul"))


def cryptomoe_combine(B: CostBackend, m: int, d: int, E: int, t: int, variant: str) -> Cost:
    """Algorithm 2. ``scores_first``: R = O^T * S' (E m t by E t) then R y (batched);
    ``outputs_first``: y * S' (E t d by E t) then O^T y'. Difference: E t (m - d) elements each way."""
    if variant == "scores_first":
        return (B.mux_bits(E * m * t, E * t, E * m * t).labelled("scale")      # O is 0/1: no truncation
                + B.bmm_sum(E, m, t, d).labelled("combine_matmul"))
    if variant == "outputs_first":
        return (B.mul(E * t * d, E * t, E * t * d).labelled("scale")
                + B.bmm_sum(E, m, t, d).labelled("combine_matmul"))
    raise ValueError(f"unknown combine variant {variant!r}")


def swap_forward(B: CostBackend, E: int, n: int, t: int, width: int) -> Cost:
    """The compaction network on (key, payload of ``width``): per time step with p pairs, E p
    comparisons and one multiplexer of E p bits by E p (1 + width) differences."""
    total = Cost()
    for p in swap_pairs(n, t):
        total = total + B.less_than_zero(E * p) + B.mux_bits(E * p, E * p * (1 + width))
    return total


def swap_reverse(B: CostBackend, E: int, n: int, t: int, width: int) -> Cost:
    """Replaying the stored swap bits backwards on rows of ``width``: one multiplexer per time step."""
    total = Cost()
    for p in swap_pairs(n, t):
        total = total + B.mux_bits(E * p, E * p * width)
    return total


def cipherprune_dispatch(B: CostBackend, m: int, d: int, E: int, k: int, t: int) -> Cost:
    """Priorities, the compaction of (score, token index, x row) rows, one-hot of the carried token
    indices. ~ t k m compare-and-swaps of d + 2 elements per expert: O(E k m t d)."""
    return (priorities(B, m, E, k)
            + swap_forward(B, E, k * m, t, 1 + d).labelled("compact")
            + B.equal_zero(E * t * m).labelled("onehot"))


def cipherprune_combine(B: CostBackend, m: int, d: int, E: int, k: int, t: int) -> Cost:
    """Scale y by the kept scores, then undo the swaps on d-wide rows (no comparisons)."""
    return (B.mul(E * t * d, E * t, E * t * d).labelled("scale")
            + swap_reverse(B, E, k * m, t, d).labelled("uncompact"))


def expert_ffn(B: CostBackend, E: int, rows: int, d: int, f: int, x_batched: bool,
               weights: str = "server") -> Cost:
    """SwiGLU for E experts on ``rows`` rows each: ``up`` (x [U|V]: one matmul to 2f), ``silu`` on E rows
    f, ``gate_mul`` (E rows f), ``down`` (@ D). ``weights``: "server" (the server's own weights: ``wmm``)
    or "shared" (weights that are themselves shares, e.g. SecMoE's selected weights: ``bmm``)."""
    if weights not in ("server", "shared"):
        raise ValueError(f"weights must be 'server' or 'shared', got {weights!r}")
    n = E * rows * f
    if weights == "server":
        up, down = B.wmm(E, rows, d, 2 * f, x_batched), B.wmm(E, rows, f, d)
    else:
        up, down = B.bmm(E, rows, d, 2 * f, x_batched, True), B.bmm(E, rows, f, d)
    return (up.labelled("up")
            + B.silu(n).labelled("silu")
            + B.mul(n, n, n).labelled("gate_mul")
            + down.labelled("down"))


def cryptomoe_moe(B: CostBackend, m: int, d: int, f: int, E: int, k: int, t: int, variant: str) -> Cost:
    """gate -> dispatch -> experts on E x t rows -> combine."""
    return (B.gate(m, d, E, k).labelled("gate")
            + cryptomoe_dispatch(B, m, d, E, k, t).labelled("dispatch")
            + expert_ffn(B, E, t, d, f, True).labelled("experts")
            + cryptomoe_combine(B, m, d, E, t, variant).labelled("combine"))


def dense_moe(B: CostBackend, m: int, d: int, f: int, E: int, k: int) -> Cost:
    """gate -> weights (m k E by m k) -> every expert on all m tokens (x broadcast) -> combine
    (E m d by E m)."""
    return (B.gate(m, d, E, k).labelled("gate")
            + B.mux_bits(m * k * E, m * k, m * k * E).labelled("weights")
            + expert_ffn(B, E, m, d, f, False).labelled("experts")
            + B.mul(E * m * d, E * m, E * m * d).labelled("combine"))


def cipherprune_moe(B: CostBackend, m: int, d: int, f: int, E: int, k: int, t: int) -> Cost:
    """The CipherPrune-style layer: gate -> compaction dispatch -> experts on E x t rows -> the combine
    that replays the compaction backwards."""
    return (B.gate(m, d, E, k).labelled("gate")
            + cipherprune_dispatch(B, m, d, E, k, t).labelled("dispatch")
            + expert_ffn(B, E, t, d, f, True).labelled("experts")
            + cipherprune_combine(B, m, d, E, k, t).labelled("combine"))


def insecure_moe_balanced(B: CostBackend, m: int, d: int, f: int, E: int, k: int, t: int) -> Cost:
    """The insecure baseline with the routing opened and every expert given t tokens (the balanced load
    the papers' insecure runs assume): gate -> open K and W (2 m k values) -> experts on E x t rows; gathering
    tokens and weighting the outputs by opened routing are local. ``insecure.moe``'s real cost depends on
    the opened counts; this is the count-free projection."""
    return (B.gate(m, d, E, k).labelled("gate")
            + B.open_values(2 * m * k).labelled("open_routing")
            + expert_ffn(B, E, t, d, f, True).labelled("experts"))


def secmoe_activation(B: CostBackend, n: int, breakpoints: int) -> Cost:
    """``secmoe.activation``, SecMoE select-then-compute: ``compare`` (n (P+1) comparisons), coefficient
    fetch (public: free), ``square`` (n), ``evaluate`` (a1 x and a2 x^2: one product of 2n by 2n)."""
    return (B.less_than_zero(n * breakpoints).labelled("compare") + B.square(n).labelled("square")
            + B.mul(2 * n, 2 * n, 2 * n).labelled("evaluate"))


def piecewise_activation(B: CostBackend, n: int, breakpoints: int) -> Cost:
    """``piecewise.activation``, the baseline: ``compare``, ``square``, every piece's value (public
    coefficients: free), ``mux`` of the n (P+2) segment bits with the n (P+2) values."""
    segs = n * (breakpoints + 1)
    return (B.less_than_zero(n * breakpoints).labelled("compare") + B.square(n).labelled("square")
            + B.mux_bits(segs, segs, segs).labelled("mux"))


def lift(B: CostBackend, n: int) -> Cost:
    """``he.lift`` of n residues (``protocols/he/lift.py``): u = c + s is compared with both thresholds
    ceil(t/2) and ceil(3t/2) in one ``less_than_zero`` of 2n elements (step ``lift``)."""
    return B.less_than_zero(2 * n).labelled("lift")


def secmoe_he_select(m: int, k: int, E: int, block: int, params, sizes=None) -> Cost:
    """SecMoE's HE selection (protocols/mpc/secmoe_moe.py step 3), per (token, slot) pair p = m k:
    G = the largest power of two <= min(E, floor(S / block)) experts per ciphertext, ch = ceil(E / G),
    l = log2 G.
        inputs p ch (seeded), answers 3 p; rotations = key switches = 3 p ch l;
        pt_mults 3 p ch; ct_adds 3 p ch (1 + l) + 3 p (ch - 1) + 3 p (masks) + 3 p (re-randomisation,
        ``conceal``); 2 rounds.
    ``sizes`` (the run's backend's ``wire_sizes``): bytes are the serialized queries and answers and
    ``key_bytes`` the client's public material (Galois keys for the l tree steps); else the formula."""
    import math

    S = params.slots
    if block > S:
        return secmoe_he_select_large(m, k, E, block, params)
    per = 1 << (min(E, S // block).bit_length() - 1)      # a power of two: the tree never wraps
    ch = -(-E // per)
    lv = per.bit_length() - 1
    p = m * k
    rot = 3 * p * ch * lv
    out = Cost(rounds=2, bytes_client_to_server=p * ch * params.seeded_ciphertext_bytes(),
               bytes_server_to_client=3 * p * params.response_bytes(), rotations=rot, key_switches=rot,
               pt_mults=3 * p * ch, ct_adds=3 * p * ch * (1 + lv) + 3 * p * (ch - 1) + 6 * p,
               ciphertexts=p * ch + 3 * p)
    if sizes is None:
        return out
    from analysis.cost_models.he import galois_elements, on_the_wire

    steps = {(block << i) % S for i in range(lv)}
    return on_the_wire(out, p * ch, 3 * p, sizes, galois_elements(steps, set(), params.poly_degree, S))


def secmoe_moe(B: CostBackend, m: int, d: int, f: int, E: int, k: int, he_params, sizes=None) -> Cost:
    """gate -> binary one-hot (m k E equalities without B2A) -> HE selection -> lift (3 m k d f values,
    two comparisons each) -> one SwiGLU per (token, slot) on the selected weights -> combine."""
    p = m * k
    return (B.gate(m, d, E, k).labelled("gate")
            + B.eq_binary(p * E).labelled("onehot")
            + secmoe_he_select(m, k, E, d * f, he_params, sizes).labelled("select")
            + lift(B, 3 * p * d * f)
            + expert_ffn(B, p, 1, d, f, True, weights="shared").labelled("ffn")
            + B.mul(p * d, p, p * d).labelled("combine"))


def secmoe_he_select_large(m: int, k: int, E: int, block: int, params) -> Cost:
    """PROJECTION ONLY (the real protocol refuses d f > S): the layout SecMoE needs when one expert's
    d f weights span q = ceil(d f / S) ciphertexts. The client packs all p E selection bits in
    ceil(p E / S) ciphertexts (communication independent of E up to that packing); the server broadcasts
    each (pair, expert) bit to a full ciphertext (one unit-vector product + log2 S rotate-and-add), then
    per weight tensor and slice multiplies and accumulates over the experts (B2A folded in, as in the small
    layout): 3 q E products per pair. Answers: 3 q per pair. Server work grows with E and with d f."""
    import math

    S, p = params.slots, m * k
    q = -(-block // S)
    logs = int(math.log2(S))
    n_in = -(-(p * E) // S)
    rot = p * E * logs
    return Cost(rounds=2, bytes_client_to_server=n_in * params.seeded_ciphertext_bytes(),
                bytes_server_to_client=3 * q * p * params.response_bytes(), rotations=rot, key_switches=rot,
                pt_mults=p * E * (1 + 3 * q), ct_adds=p * E * logs + 3 * q * p * 2 * E + 6 * q * p,
                ciphertexts=n_in + 3 * q * p)


def secmoe_moe_encrypted(B: CostBackend, m: int, d: int, f: int, E: int, k: int, he_params) -> Cost:
    """PROJECTION ONLY (not implemented; the real protocol re-shares the weights): SecMoE's compute phase
    with the selected weights kept ENCRYPTED under the client's key. Per linear layer the client sends
    Enc(its share of the input) and the server answers the masked product (its own share times
    Enc(W_sel) plaintext-wise, the client's share ciphertext-wise: ct x ct products, not counted here),
    so only activations travel:
      ``select``: the selection bits only (no weights come back);
      ``up``:   client -> ceil(m d / S) inputs, server -> ceil(2 p f / S) answers (2 rounds);
      ``silu``, ``gate_mul`` on shares (p f);  ``down``: ceil(p f / S) up, ceil(p d / S) back (2 rounds);
      ``combine`` as in the re-shared variant. HE operation counts are left at 0 (communication only)."""
    from .cost import Cost as _C

    S, p = he_params.slots, m * k
    sel = secmoe_he_select(m, k, E, d * f, he_params)
    select = _C(rounds=1, bytes_client_to_server=sel.bytes_client_to_server)
    up = _C(rounds=2, bytes_client_to_server=-(-m * d // S) * he_params.seeded_ciphertext_bytes(),
            bytes_server_to_client=-(-2 * p * f // S) * he_params.response_bytes())
    down = _C(rounds=2, bytes_client_to_server=-(-p * f // S) * he_params.seeded_ciphertext_bytes(),
              bytes_server_to_client=-(-p * d // S) * he_params.response_bytes())
    n = p * f
    return (B.gate(m, d, E, k).labelled("gate") + B.eq_binary(p * E).labelled("onehot")
            + select.labelled("select") + up.labelled("up") + B.silu(n).labelled("silu")
            + B.mul(n, n, n).labelled("gate_mul") + down.labelled("down")
            + B.mul(p * d, p, p * d).labelled("combine"))
