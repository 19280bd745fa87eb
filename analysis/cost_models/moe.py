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


def cipherprune_dispatch(B: CostBackend, m: int, d: int, E: int, k: int, t: int, onehot: bool = True) -> Cost:
    """Priorities, the compaction of (score, token index, x row) rows, one-hot of the carried token
    indices (not in the layer: ``onehot=False``). ~ t k m compare-and-swaps of d + 2 elements per
    expert: O(E k m t d)."""
    out = priorities(B, m, E, k) + swap_forward(B, E, k * m, t, 1 + d).labelled("compact")
    return out + B.equal_zero(E * t * m).labelled("onehot") if onehot else out


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


def hybrid_linear(B: CostBackend, E: int, rows: int, d_in: int, d_out: int, packing: str, bsgs: bool, params,
                  sizes=None) -> Cost:
    """``protocols/he/hybrid_linear.linear``: shares (E, rows, d_in) times the server's plaintext weights.
    ``to_he`` (``to_client``: 8 E rows d_in bytes, 1 round; ``encrypt``: n_in queries, 1 round, one
    add_plain each), the ct x pt product (``he.matmul``'s rotations, products, additions -- the masks and
    ``conceal``'s re-randomisation included), ``answer`` (n_out answers, 1 round), ``lift`` of E rows d_out
    residues; the rescale is a local truncation. ``sizes``: the run's serialized sizes; else the formula
    (seeded N L 8 + 64, answers 2 N L' 8)."""
    from protocols.he.hybrid_linear import plan

    from .he import matmul as he_matmul

    counts = he_matmul(E, rows, d_in, d_out, params.poly_degree, bsgs, packing, params)
    he_matmul_cost = Cost(rotations=counts.rotations, key_switches=counts.key_switches, pt_mults=counts.pt_mults,
                          ct_adds=counts.ct_adds)
    layouts = plan(E, rows, d_in, d_out, packing, params.slots)
    n_in, n_out = sum(lay.n_in for _, lay in layouts), sum(lay.n_out for _, lay in layouts)
    query = sizes.query if sizes is not None else params.seeded_ciphertext_bytes()
    answer = sizes.answer if sizes is not None else params.response_bytes()
    to_client = Cost(rounds=1, bytes_server_to_client=8 * E * rows * d_in).labelled("to_client")
    encrypt = Cost(rounds=1, ct_adds=n_in, ciphertexts=n_in, bytes_client_to_server=n_in * query).labelled("encrypt")
    answers = Cost(rounds=1, ciphertexts=n_out, bytes_server_to_client=n_out * answer).labelled("answer")
    return (to_client + encrypt).labelled("to_he") + he_matmul_cost + answers + lift(B, E * rows * d_out)


def hybrid_keys(E: int, rows: int, d: int, f: int, packing: str, bsgs: bool, shared_input: bool, params,
                sizes) -> Cost:
    """The HE link's public material (``key_bytes``, once per layer): parameters, public key and the Galois
    keys of both products' rotation steps (``protocols/mpc/expert.he_steps``); 0 without ``sizes``."""
    if sizes is None:
        return Cost()
    from protocols.mpc.expert import he_steps

    from .he import galois_elements

    steps = he_steps(E, rows, d, f, params.slots, packing, bsgs, shared_input)
    return Cost(key_bytes=sizes.params + sizes.public_key
                + sizes.galois_keys(galois_elements(steps, set(), params.poly_degree, params.slots)))


def expert_ffn_he(B: CostBackend, E: int, rows: int, d: int, f: int, packing: str, bsgs: bool, params,
                  sizes=None, shared_input: bool = False) -> Cost:
    """``protocols/mpc/expert.expert_ffn_he``: ``up`` (:func:`hybrid_linear` to 2f columns per expert; with
    ``shared_input`` one product of the rows with every expert's columns side by side: 2 f E), ``silu``,
    ``gate_mul`` on shares, ``down`` (per expert, f -> d), plus the link's keys (:func:`hybrid_keys`)."""
    up = (hybrid_linear(B, 1, rows, d, 2 * f * E, packing, bsgs, params, sizes) if shared_input
          else hybrid_linear(B, E, rows, d, 2 * f, packing, bsgs, params, sizes))
    n = E * rows * f
    return (up.labelled("up")
            + B.silu(n).labelled("silu")
            + B.mul(n, n, n).labelled("gate_mul")
            + hybrid_linear(B, E, rows, f, d, packing, bsgs, params, sizes).labelled("down")
            + hybrid_keys(E, rows, d, f, packing, bsgs, shared_input, params, sizes))


def layer_experts(B: CostBackend, E: int, rows: int, d: int, f: int, x_batched: bool, linear: str, packing: str,
                  bsgs: bool, he_params, sizes, shared_input: bool = False) -> Cost:
    """A layer's ``experts`` step on either stack (``protocols/mpc/moe_common.experts_step``)."""
    if linear == "shares":
        return expert_ffn(B, E, rows, d, f, x_batched)
    if linear == "he":
        return expert_ffn_he(B, E, rows, d, f, packing, bsgs, he_params, sizes, shared_input)
    raise ValueError(f"linear must be 'shares' or 'he', got {linear!r}")


def cryptomoe_moe(B: CostBackend, m: int, d: int, f: int, E: int, k: int, t: int, variant: str,
                  linear: str = "shares", bsgs: bool = False, he_params=None, sizes=None, method: str = "auto",
                  gate_method: str = "auto") -> Cost:
    """gate (its top-k by ``gate_method``) -> dispatch (its top-t by ``method``) -> experts on E x t rows
    (``linear="he"``: the batch matmul, ``he_params``) -> combine."""
    return (B.gate(m, d, E, k, gate_method).labelled("gate")
            + cryptomoe_dispatch(B, m, d, E, k, t, method).labelled("dispatch")
            + layer_experts(B, E, t, d, f, True, linear, "batch", bsgs, he_params, sizes).labelled("experts")
            + cryptomoe_combine(B, m, d, E, t, variant).labelled("combine"))


def dense_moe(B: CostBackend, m: int, d: int, f: int, E: int, k: int, linear: str = "shares", bsgs: bool = False,
              he_params=None, sizes=None, gate_method: str = "auto") -> Cost:
    """gate -> weights (m k E by m k) -> every expert on all m tokens (x broadcast; ``linear="he"``: BOLT,
    ``up`` one product with every expert's columns) -> combine (E m d by E m). ``gate_method``: the gate's top-k."""
    return (B.gate(m, d, E, k, gate_method).labelled("gate")
            + B.mux_bits(m * k * E, m * k, m * k * E).labelled("weights")
            + layer_experts(B, E, m, d, f, False, linear, "bolt", bsgs, he_params, sizes,
                            shared_input=True).labelled("experts")
            + B.mul(E * m * d, E * m, E * m * d).labelled("combine"))


def cipherprune_moe(B: CostBackend, m: int, d: int, f: int, E: int, k: int, t: int, linear: str = "shares",
                    bsgs: bool = False, he_params=None, sizes=None, gate_method: str = "auto") -> Cost:
    """The CipherPrune-style layer (``protocols/mpc/cipherprune_moe.py``): gate -> compaction dispatch
    (no one-hot) -> experts on E x t rows (``linear="he"``: BOLT per expert) -> the combine that replays the
    compaction backwards."""
    return (B.gate(m, d, E, k, gate_method).labelled("gate")
            + cipherprune_dispatch(B, m, d, E, k, t, onehot=False).labelled("dispatch")
            + layer_experts(B, E, t, d, f, True, linear, "bolt", bsgs, he_params, sizes).labelled("experts")
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


def reshared_moe(B: CostBackend, m: int, d: int, f: int, E: int, k: int, he_params, sizes=None,
                 gate_method: str = "auto") -> Cost:
    """``reshared.moe`` (``protocols/mpc/reshared_moe.py``): gate -> binary one-hot (m k E equalities without
    B2A) -> HE selection, every selected weight masked and answered -> lift (3 m k d f values, two comparisons
    each) -> one SwiGLU per (token, slot) on the selected weights -> combine."""
    p = m * k
    return (B.gate(m, d, E, k, gate_method).labelled("gate")
            + B.eq_binary(p * E).labelled("onehot")
            + secmoe_he_select(m, k, E, d * f, he_params, sizes).labelled("select")
            + lift(B, 3 * p * d * f)
            + expert_ffn(B, p, 1, d, f, True, weights="shared").labelled("ffn")
            + B.mul(p * d, p, p * d).labelled("combine"))


def secmoe_select(m: int, k: int, E: int, block: int, params) -> tuple[Cost, int, int]:
    """SecMoE's selection when the selected weights STAY encrypted (``protocols/mpc/secmoe_moe.select``):
    p = m k pairs, G, ch, l as in :func:`secmoe_he_select`; the client's p ch queries (1 round), the server's
    products and trees, no answers:
        pt_mults 3 p ch; ct_adds 3 p ch (1 + l) + 3 p (ch - 1); rotations = key switches = 3 p ch l.
    -> (the cost without bytes, the queries, the tree's depth l)."""
    S, p = params.slots, m * k
    per = 1 << (min(E, S // block).bit_length() - 1)
    ch = -(-E // per)
    lv = per.bit_length() - 1
    rotations, products = 3 * p * ch * lv, 3 * p * ch
    return (Cost(rounds=1, rotations=rotations, key_switches=rotations, pt_mults=products,
                 ct_adds=products * (1 + lv) + 3 * p * (ch - 1), ciphertexts=p * ch), p * ch, lv)


def encrypted_layer(B: CostBackend, values: int, queries: int, rows: int, cols: int, products: int,
                    label: str, query: int, answer: int) -> Cost:
    """One encrypted linear layer of SecMoE's compute phase (``secmoe_moe``, steps ``up`` / ``down``):
    shares -> HE of ``values`` (``<label>/to_client``: the server's masked share, 8 bytes each, 1 round;
    ``<label>/encrypt``: ``queries`` seeded queries, 1 round; one add_plain each), ``products`` encrypted
    matvecs of rows x cols (``he.encrypted_matvec``), their answers (a mask and ``conceal``'s
    re-randomisation each: 2 additions; 1 round) and the lift of ``products cols`` residues. ``query``,
    ``answer``: the bytes of one query and one answer."""
    from .he import encrypted_matvec

    to_client = Cost(rounds=1, bytes_server_to_client=8 * values).labelled("to_client")
    encrypt = Cost(rounds=1, ct_adds=queries, ciphertexts=queries,
                   bytes_client_to_server=queries * query).labelled("encrypt")
    answers = Cost(rounds=1, ct_adds=2 * products, ciphertexts=products,
                   bytes_server_to_client=products * answer).labelled("answer")
    return ((to_client + encrypt).labelled(label) + encrypted_matvec(rows, cols) * products + answers
            + lift(B, products * cols))


def secmoe_moe(B: CostBackend, m: int, d: int, f: int, E: int, k: int, he_params, sizes=None,
               gate_method: str = "auto") -> Cost:
    """``secmoe.moe`` (``protocols/mpc/secmoe_moe.py``), SecMoE as published: gate -> binary one-hot ->
    HE selection (the selected weights stay encrypted) -> ``up``: x to HE (m ciphertexts), 2 encrypted
    matvecs (d x f) per pair, 2 p answers -> ``lift_up`` (a local truncation: free) -> ``silu``,
    ``gate_mul`` on p f shares -> ``down``: g to HE (p ciphertexts), one matvec (f x d) per pair, p answers
    -> ``lift_down`` -> ``combine``. No weight travels: communication grows with m, k, d, f, not with E.
    ``sizes`` (the run's backend's ``wire_sizes``): bytes are the serialized queries and answers and
    ``key_bytes`` the client's public material (Galois keys for the selection tree and both matvec trees,
    relinearisation keys); without it the papers' formulas (seeded N L 8 + 64, answers 2 N L' 8)."""
    from protocols.he import encrypted_linear as EL

    from .he import galois_elements

    p, S = m * k, he_params.slots
    query = sizes.query if sizes is not None else he_params.seeded_ciphertext_bytes()
    answer = sizes.answer if sizes is not None else he_params.response_bytes()
    select, n_sel, lv = secmoe_select(m, k, E, d * f, he_params)
    up = encrypted_layer(B, m * d, m, d, f, 2 * p, "x_to_he", query, answer)
    down = encrypted_layer(B, p * f, p, f, d, p, "g_to_he", query, answer)
    steps = {(d * f << i) % S for i in range(lv)} | EL.steps(d, f) | EL.steps(f, d)
    keys = (sizes.params + sizes.public_key + sizes.galois_keys(galois_elements(steps, set(), he_params.poly_degree, S))
            + sizes.relin_keys) if sizes is not None else 0
    select = select + Cost(bytes_client_to_server=n_sel * query, key_bytes=keys)
    n = p * f
    return (B.gate(m, d, E, k, gate_method).labelled("gate")
            + B.eq_binary(p * E).labelled("onehot")
            + select.labelled("select")
            + up.labelled("up")
            + B.silu(n).labelled("silu")
            + B.mul(n, n, n).labelled("gate_mul")
            + down.labelled("down")
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


def _pow2_floor(n: int) -> int:
    return 1 << (max(1, n).bit_length() - 1)


def secmoe_moe_large(B: CostBackend, m: int, d: int, f: int, E: int, k: int, he_params,
                     gate_method: str = "auto") -> Cost:
    """PROJECTION (the real ``secmoe.moe`` needs d f <= S and refuses larger): SecMoE's encrypted compute when
    one expert's weight matrix spans several ciphertexts (the three target models: d f ~ 2.9 M values,
    S = 8192 slots). The natural extension of the protocol that runs, with the activations sent COMPACTLY
    (the server replicates them by rotations, as a careful implementation would: client-side replication
    would send q ciphertexts per token):
      ``select``: the p E selection bits in ceil(p E / S) queries (1 round); the selected weights stay
        encrypted (``secmoe_he_select_large``'s products and trees, no answers);
      ``up``: x to HE (8 m d bytes to the client, ceil(m d / S) queries), the server replicates each x_i
        over its f slots (one unit-vector product + log2 f rotate-and-adds per value), then per pair and
        weight q = ceil(d / R) slice products (R = the largest power of two <= S / f rows per slice), each
        relinearised and summed by a log2 R tree, the q slices added; 2 p answers (f <= S values each);
      ``silu``, ``gate_mul`` on p f shares; ``down``: the same with g (p f values, R = pow2 <= S / d rows of
        D per slice), p answers; ``combine``.
    Bytes: the papers' formulas (seeded queries N L 8 + 64, answers 2 N L' 8); key material is not counted."""
    S, p = he_params.slots, m * k
    query, answer = he_params.seeded_ciphertext_bytes(), he_params.response_bytes()
    sel = secmoe_he_select_large(m, k, E, d * f, he_params)
    select = Cost(rounds=1, bytes_client_to_server=sel.bytes_client_to_server, rotations=sel.rotations,
                  key_switches=sel.key_switches, pt_mults=sel.pt_mults, ciphertexts=-(-(p * E) // S),
                  ct_adds=sel.ct_adds - 6 * sel.ciphertexts + 6 * -(-(p * E) // S))

    def layer(values: int, rows: int, cols: int, products: int, label: str) -> Cost:
        R = _pow2_floor(S // cols)
        q = -(-rows // R)
        lv_r, lv_c = R.bit_length() - 1, max(0, (cols - 1).bit_length())
        queries = -(-values // S)
        to_client = Cost(rounds=1, bytes_server_to_client=8 * values).labelled("to_client")
        encrypt = Cost(rounds=1, bytes_client_to_server=queries * query, ciphertexts=queries,
                       ct_adds=queries).labelled("encrypt")
        replicate = Cost(pt_mults=values, rotations=values * lv_c, key_switches=values * lv_c, ct_adds=values * lv_c)
        mats = products * q
        matvec = Cost(ct_mults=mats, relinearizations=mats, rotations=mats * lv_r, key_switches=mats * (lv_r + 1),
                      ct_adds=mats * lv_r + products * (q - 1))
        answers = Cost(rounds=1, bytes_server_to_client=products * answer, ciphertexts=products,
                       ct_adds=2 * products).labelled("answer")
        return (to_client + encrypt).labelled(label) + replicate + matvec + answers + lift(B, products * cols)

    n = p * f
    return (B.gate(m, d, E, k, gate_method).labelled("gate") + B.eq_binary(p * E).labelled("onehot")
            + select.labelled("select")
            + layer(m * d, d, f, 2 * p, "x_to_he").labelled("up")
            + B.silu(n).labelled("silu") + B.mul(n, n, n).labelled("gate_mul")
            + layer(n, f, d, p, "g_to_he").labelled("down")
            + B.mul(p * d, p, p * d).labelled("combine"))


def secmoe_gelu(B: CostBackend, n: int, breakpoints: int = 5) -> Cost:
    """``secmoe.gelu``, SecMoE's Protocol 2 (``protocols/mpc/secmoe_gelu.py``): ``compare`` (the n P
    differences x - P_i in ONE batched comparison; the segment one-hot from neighbouring bits and the
    coefficient row from the public table are local), ``square`` (n), ``evaluate`` (a1 x and a2 x^2: one
    product of 2n by 2n). P = 5 breakpoints, 6 pieces. On ``crypten``: 10 rounds, 8 n (27 P + 5) bytes each
    way, 8 n (14 P + 3) offline (P = 5: 1120 n and 584 n)."""
    return (B.less_than_zero(n * breakpoints).labelled("compare") + B.square(n).labelled("square")
            + B.mul(2 * n, 2 * n, 2 * n).labelled("evaluate"))
