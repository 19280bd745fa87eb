"""The ``paper`` accounting: the pipelines the CryptoMoE authors measured, op by op, on the cheetah units.

CryptoMoE's published communication (Zhou et al., NeurIPS 2025, Table 2, and the dispatch/combine table of
the authors' OpenReview response) was measured by running a JAX program on SPU with the Cheetah protocol:
``output/flax_moe.py`` of the authors' benchmark repository (github.com/Tianshi-Xu/CryptoMOE). That
program is not privmoe's protocol: it is what the published numbers measure. This module writes its op
sequence once, each op with the size it takes, over the ``cheetah`` backend's unit costs (one set of unit
costs for every row; ``cheetah.py`` says where each comes from). The protocols as specified are
``moe.py`` (the ``protocol`` accounting); ``privmoe reproduce`` shows both beside the published numbers.

Symbols: m tokens, d hidden, f expert FFN width, E experts, k top-k, t capacity.

* gate (``gate_routing``): logits x W_g with W_g secret-shared (SPU shares the server's weights): a
  shared m x d x E product; top-k of the E logits per token (SPU's top-k sorts each row); softmax over
  the k top values: a max over k (k - 1 comparisons and selects per token), exp (m k), one reciprocal per
  token, products (m k).
* dispatch (``pro3_addmask``): ``equal(K, e)`` for every expert (E k m equalities with a public value);
  the bits to arithmetic for ``zero_mask * 10`` (E k m) and ``zero_mask * score`` (a bit times a value,
  E k m); the top-t of the k m masked priorities of each expert (top-k over E rows of k m); ``floor(index
  / k)`` (a product by the public 1/k and a floor, E t); two one-hots of the selected indices, over k m
  (E t k m outputs) and over m (E t m); tokens = one-hot_m x (a shared (E t) x m x d product); scores =
  one-hot_km . masked scores per expert (E shared t x k m x 1 products: SPU runs a batched dot as one
  call per batch element).
* experts (``swiglu_batched``): the authors' batched proxy: ONE weight matrix for all E t rows (their
  ``expert_upproj[0]``): up and gate projections (E t) x d x f, GeLU (E t f: their runs used GeLU, not
  SiLU), the product of the two (E t f), the down projection (E t) x f x d; all shared products.
* combine: scores times outputs (E t d products) and one-hot_m^T x outputs (m x (E t) x d).
* dense (``baseline2``): the gate; every expert on all m tokens, one call per expert (``swiglu``:
  E m x d x f products ...); the one-hot of K over E (m k E outputs); routing weights = scores . one-hot
  (m products 1 x k x E); output = weights . expert outputs (m products 1 x E x d).
* insecure (``insecure_baseline``, in the per-expert ``swiglu`` run Table 2 reports): the gate; every
  expert on t rows; outputs scaled by public scores and summed by a public matrix: local.
* CipherPrune-style: not in the authors' public code or logs. privmoe's own compaction network
  (``moe.cipherprune_dispatch`` / ``cipherprune_combine``) stands between the authors' gate and experts.

Not charged: SPU's one-off set-up (OT expansion, HE keys) and the truncation after a product, which the
authors' logs show to be below one byte per output element.
"""
from __future__ import annotations

from . import cheetah as CH
from . import moe as M
from .backend import SpuBackend
from .cost import Cost

ACTIVATIONS = ("gelu", "silu")


def gate(B: SpuBackend, m: int, d: int, E: int, k: int) -> Cost:
    """``gate_routing``: shared logits, top-k over E, softmax over the k top values."""
    return (B.matmul(m, d, E).labelled("logits")
            + B.topk_op(m, E, k).labelled("topk")
            + (B.select(m * (k - 1)) + B.exp(m * k) + B.reciprocal(m) + B.mul(m * k)).labelled("softmax"))


def dispatch(B: SpuBackend, m: int, d: int, E: int, k: int, t: int) -> Cost:
    """``pro3_addmask``'s token dispatch (module docstring), with the step labels of ``moe.cryptomoe_dispatch``
    where the two do the same thing (``mux``: the masks; ``dispatch_matmul``: tokens = one-hot_m x)."""
    n = k * m
    return ((B.equal_zero(E * n)).labelled("equal")
            + (B.b2a(E * n) + B.mux(E * n)).labelled("mux")
            + B.topk_op(E, n, t).labelled("topk")
            + (B.mul(E * t) + B.less_than_zero(E * t)).labelled("floor")
            + (B.onehot_op(E * t, n) + B.onehot_op(E * t, m)).labelled("onehot")
            + B.matmul(E * t, m, d).labelled("dispatch_matmul")
            + B.bmm(E, t, n, 1).labelled("scores"))


def experts(B: SpuBackend, E: int, rows: int, d: int, f: int, batched: bool, activation: str = "gelu") -> Cost:
    """SwiGLU on E x ``rows`` rows: ``batched`` is the authors' proxy (one weight matrix for all rows,
    ``swiglu_batched``), otherwise one call per expert (``swiglu``)."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation must be one of {ACTIVATIONS}, got {activation!r}")
    n = E * rows * f
    act = B.gelu(n) if activation == "gelu" else B.silu(n)
    if batched:
        up, down = B.matmul(E * rows, d, f) * 2, B.matmul(E * rows, f, d)
    else:
        up, down = B.bmm(E, rows, d, f) * 2, B.bmm(E, rows, f, d)
    return up.labelled("up") + act.labelled(activation) + B.mul(n).labelled("gate_mul") + down.labelled("down")


def combine(B: SpuBackend, m: int, d: int, E: int, t: int) -> Cost:
    """Scores times expert outputs, then the one-hot's transpose times them."""
    return B.mul(E * t * d).labelled("scale") + B.matmul(m, E * t, d).labelled("combine_matmul")


def cryptomoe_layer(B: SpuBackend, m: int, d: int, f: int, E: int, k: int, t: int,
                    activation: str = "gelu") -> Cost:
    """CryptoMoE as the authors ran it: gate, ``pro3_addmask``'s dispatch, the batched experts, combine."""
    return (gate(B, m, d, E, k).labelled("gate") + dispatch(B, m, d, E, k, t).labelled("dispatch")
            + experts(B, E, t, d, f, True, activation).labelled("experts")
            + combine(B, m, d, E, t).labelled("combine"))


def dense_layer(B: SpuBackend, m: int, d: int, f: int, E: int, k: int, activation: str = "gelu") -> Cost:
    """``baseline2``: every expert on every token, weights by one-hot, combine by batched dots."""
    return (gate(B, m, d, E, k).labelled("gate")
            + experts(B, E, m, d, f, False, activation).labelled("experts")
            + B.onehot_op(m * k, E).labelled("onehot")
            + B.bmm(m, 1, k, E).labelled("weights")
            + B.bmm(m, 1, E, d).labelled("combine"))


def insecure_layer(B: SpuBackend, m: int, d: int, f: int, E: int, k: int, t: int, activation: str = "gelu") -> Cost:
    """``insecure_baseline`` (per-expert SwiGLU): the gate and each expert on t rows; the rest is local."""
    return gate(B, m, d, E, k).labelled("gate") + experts(B, E, t, d, f, False, activation).labelled("experts")


def cipherprune_layer(B: SpuBackend, m: int, d: int, f: int, E: int, k: int, t: int,
                      activation: str = "gelu") -> Cost:
    """The authors' gate and batched experts around privmoe's CipherPrune-style compaction (module
    docstring: the authors' own CipherPrune-style pipeline is not public)."""
    return (gate(B, m, d, E, k).labelled("gate")
            + M.cipherprune_dispatch(B, m, d, E, k, t).labelled("dispatch")
            + experts(B, E, t, d, f, True, activation).labelled("experts")
            + M.cipherprune_combine(B, m, d, E, k, t).labelled("combine"))


#: the op classes of an SPU profile (HLO ops) and the leaf steps of this module that fall in each
OP_CLASSES = {
    "matmul": (("pphlo.dot", "pphlo.dot_general"),
               ("logits", "dispatch_matmul", "scores", "up", "down", "combine_matmul", "weights", "combine")),
    "top-k": (("pphlo.custom_call: mhlo.topk",), ("topk",)),
    "equality": (("pphlo.equal",), ("equal", "onehot")),
    "nonlinear and products": (("pphlo.tanh", "pphlo.multiply", "pphlo.exponential", "pphlo.reciprocal",
                                "pphlo.floor", "pphlo.reduce", "pphlo.less", "pphlo.select"),
                               ("softmax", "mux", "floor", "gelu", "silu", "gate_mul", "scale", "compact",
                                "uncompact")),
}


def by_op_class(cost: Cost) -> dict[str, int]:
    """Bytes of a layer cost per ``OP_CLASSES`` class, from its leaf steps (every leaf must fall in one)."""
    names = [n for n, _ in cost.steps]
    leaves = [(n, c) for n, c in cost.steps if not any(o.startswith(n + "/") for o in names)]
    out = {k: 0 for k in OP_CLASSES}
    for name, c in leaves:
        leaf = name.rsplit("/", 1)[-1]
        cls = [k for k, (_, steps) in OP_CLASSES.items() if leaf in steps]
        if len(cls) != 1:
            raise ValueError(f"step {name!r} is in no op class (or in several)")
        out[cls[0]] += c.bytes
    return out


LAYERS = {"cryptomoe": cryptomoe_layer, "dense": dense_layer, "insecure": insecure_layer,
          "cipherprune": cipherprune_layer}


def layer(name: str, m: int, d: int, f: int, E: int, k: int, t: int | None = None, activation: str = "gelu",
          B: SpuBackend = CH) -> Cost:
    """One of ``LAYERS`` at the given sizes (``t`` is ignored by ``dense``)."""
    if name not in LAYERS:
        raise ValueError(f"unknown layer {name!r} (known: {', '.join(LAYERS)})")
    if name == "dense":
        return dense_layer(B, m, d, f, E, k, activation)
    if t is None:
        raise ValueError(f"layer {name!r} needs the capacity t")
    return LAYERS[name](B, m, d, f, E, k, t, activation)
