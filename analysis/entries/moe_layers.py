"""Registry entries: the MoE layer end to end -- ``cryptomoe.moe``, ``dense.moe`` and the negative control
``insecure.moe``. All three take the client's x and the server's W_g, U, V, D and return (y, K, W) shared;
the check opens the routing and then compares y given it (``analysis/moe_checks.py``)."""
from hypothesis import strategies as st

import protocols.mpc.cipherprune_moe as CPM
import protocols.mpc.cryptomoe_moe as CM
import protocols.mpc.dense_moe as DM
import protocols.mpc.insecure_moe as IM
import protocols.mpc.secmoe_moe as SM
from analysis.cost_models import cheetah, crypten
from analysis.cost_models import moe as M
from analysis.cost_models import moe_paper as MP
from analysis.entries._moe_params import ALIASES, GATE_TOPK_DEFAULTS, TOPK_DEFAULTS, derive_capacity, derive_topk
from analysis.entries.cryptomoe_dispatch import derive_dispatch_topk
from analysis.moe_checks import check_layer, layer_bad_cases, layer_bound, layer_errors, layer_inputs, layer_specs
from analysis.entry import Entry, register
from analysis.strategies import routing_params
from functionalities.moe import moe_layer, validate
from protocols.mpc.cryptomoe_combine import choose_variant

DEFAULTS = {"tokens": 8, "hidden": 4, "ffn": 4, "experts": 4, "top_k": 2, "capacity": None, "capacity_factor": 2.0,
            "accounting": "protocol"}
HYBRID_DEFAULTS = {"linear": "shares", "bsgs": False, "he_backend": "seal", "he_poly_degree": SM.POLY_DEGREE}
#: ``linear`` (``protocols/mpc/moe_common.LINEARS``): "shares" -- the experts' linears as Beaver products on
#: secret-shared weights; "he" -- the server's plaintext weights through HE (``protocols/he/hybrid_linear``:
#: CryptoMoE's batch matmul, BOLT per expert for dense and CipherPrune-style, +- ``bsgs``), on
#: ``he_backend`` (seal | sim) at ``he_poly_degree`` (SecMoE's parameters: 45-bit t)
#: ``accounting`` (cheetah projections only): "protocol" = the protocol as specified (``moe.py``: the
#: server's weights in plaintext, ciphertext x plaintext products); "paper" = the pipeline the CryptoMoE
#: authors measured (``moe_paper.py``: their op sequence, shared weights, batched-expert proxy, GeLU)
ACCOUNTINGS = ("protocol", "paper")
LEAK = ("tokens", "hidden", "ffn", "experts", "top_k")
HYBRID_LEAK = ("linear", "bsgs", "he_poly_degree")


def _validate(semantics):
    def v(p, i):
        validate(p["tokens"], p["hidden"], p["ffn"], p["experts"], p["top_k"], p.get("capacity"), semantics,
                 i.get("x"), i.get("w_g"), i.get("U"), i.get("V"), i.get("D"))
        check_accounting(p)
        check_hybrid(p)
    return v


def check_hybrid(p) -> None:
    """``linear`` in ``LINEARS``; with "he": ``he_backend`` seal | sim, HE parameters that exist;
    ``accounting=paper`` is the authors' pipeline, which has no ``linear`` choice. A real run also needs the
    hybrid linears' ranges (``protocols/he/hybrid_linear.check_ranges``), which the protocol checks itself:
    costs are projected beyond them (the target models)."""
    from functionalities.errors import PublicParameterError
    from protocols.mpc.moe_common import LINEARS

    linear = p.get("linear", "shares")
    if linear not in LINEARS:
        raise PublicParameterError(f"linear must be one of {LINEARS}, got {linear!r}")
    if linear == "he":
        if p.get("he_backend") not in ("seal", "sim"):
            raise PublicParameterError(f"he_backend must be seal or sim, got {p.get('he_backend')!r}")
        if p.get("accounting", "protocol") != "protocol":
            raise PublicParameterError("linear=he is the protocol accounting; accounting=paper is the authors' "
                                       "pipeline")
        SM.he_params(p["he_poly_degree"])


def check_accounting(p) -> None:
    """``accounting`` is one of ``ACCOUNTINGS``."""
    if p.get("accounting", "protocol") not in ACCOUNTINGS:
        from functionalities.errors import PublicParameterError

        raise PublicParameterError(f"accounting must be one of {ACCOUNTINGS}, got {p['accounting']!r}")


def _crypten_only_protocol(p) -> None:
    """The ``crypten`` model is exact for privmoe's own run: there is no paper pipeline to count on it."""
    if p.get("accounting", "protocol") != "protocol":
        from functionalities.errors import PublicParameterError

        raise PublicParameterError("accounting=paper is a cheetah projection of the authors' pipeline; "
                                   "the crypten model counts privmoe's own run (accounting=protocol)")


def _ideal(semantics):
    def f(p, i):
        out = moe_layer(i["x"], i["w_g"], i["U"], i["V"], i["D"], p["top_k"], semantics, p.get("capacity"))
        return out.y, out.K, out.W
    return f


def _small_params():
    return routing_params(max_tokens=3, max_experts=3, with_ffn=True)


def _hybrid(B, p) -> dict:
    """The ``linear`` keywords of a layer's cost model: on ``crypten`` with the run's serialized sizes."""
    if p.get("linear", "shares") == "shares":
        return {}
    params = SM.he_params(p["he_poly_degree"])
    sizes = _he_class(p).wire_sizes(params) if B is crypten else None
    return {"linear": "he", "bsgs": bool(p.get("bsgs")), "he_params": params, "sizes": sizes}


def _layer_cost(B, paper, protocol):
    """A layer's cost function on backend ``B``: ``paper(B, p)`` for ``accounting=paper`` (cheetah only),
    else ``protocol(B, p)`` with the ``linear`` keywords (``_hybrid``)."""
    def f(p):
        if B is crypten:
            _crypten_only_protocol(p)
        if p.get("accounting") == "paper":
            return paper(B, p)
        return protocol(B, p, **_hybrid(B, p))
    return f


def _shape(p) -> tuple:
    return p["tokens"], p["hidden"], p["ffn"], p["experts"], p["top_k"]


def _cryptomoe_cost(B):
    return _layer_cost(B, lambda B, p: MP.cryptomoe_layer(B, *_shape(p), p["capacity"]),
                       lambda B, p, **h: M.cryptomoe_moe(B, *_shape(p), p["capacity"],
                                                         choose_variant(p["tokens"], p["hidden"]),
                                                         method=p.get("topk", "auto"),
                                                         gate_method=p.get("gate_topk", "auto"), **h))


def _dense_cost(B):
    return _layer_cost(B, lambda B, p: MP.dense_layer(B, *_shape(p)),
                       lambda B, p, **h: M.dense_moe(B, *_shape(p), gate_method=p.get("gate_topk", "auto"), **h))


def _cipherprune_cost(B):
    return _layer_cost(B, lambda B, p: MP.cipherprune_layer(B, *_shape(p), p["capacity"]),
                       lambda B, p, **h: M.cipherprune_moe(B, *_shape(p), p["capacity"],
                                                           gate_method=p.get("gate_topk", "auto"), **h))


def _derive_gate(p: dict) -> dict:
    """``derive_topk`` for the gate's top-k (k of E per token, with one-hots): parameter ``gate_topk``."""
    return derive_topk(p, p["tokens"], p["experts"], p["top_k"], key="gate_topk", onehots=True)


def _layer_real(protocol, balanced: bool, topk: tuple[str, ...] = ()):
    """The real run of a layer with a ``linear`` choice: shared weights for "shares", the server's plaintext
    ones (``own``) for "he"; ``topk``: the top-t method parameters the layer takes (``topk`` for its dispatch,
    ``gate_topk`` for its gate)."""
    def real(p, s, own):
        he = (_he_class(p), SM.he_params(p["he_poly_degree"])) if p.get("linear") == "he" else None
        extra = (p["capacity"],) if balanced else ()
        method = {key: p.get(key, "auto") for key in topk}
        return protocol(s["x"], s["w_g"], s["U"], s["V"], s["D"], p["top_k"], *extra, linear=p.get("linear", "shares"),
                        he=he, server_weights=own if "U" in own else None, bsgs=bool(p.get("bsgs")), **method)
    return real


def layer_contrast(extra: dict | None = None):
    """Every token to expert 0 vs token j to expert j (m = d = E = 3, k = 1), same expert weights."""
    def make():
        import torch

        g = torch.Generator().manual_seed(0)
        ex = {n: (torch.rand(s, generator=g) - 0.5) for n, s in (("U", (3, 3, 2)), ("V", (3, 3, 2)), ("D", (3, 2, 3)))}
        params = {"tokens": 3, "hidden": 3, "ffn": 2, "experts": 3, "top_k": 1, **(extra or {})}
        one = {"x": torch.full((3, 3), 0.5), "w_g": torch.tensor([[1.0, -1, -1]] * 3), **ex}
        spread = {"x": torch.eye(3), "w_g": torch.eye(3), **ex}
        return params, one, spread
    return make


def layer_entry(name: str, semantics: str, summary: str, real, hybrid: bool = False, **fields) -> Entry:
    """A MoE-layer entry: the fields every layer shares (spec, validation, input owners, check, bound,
    doc, bad cases) are set here; ``hybrid``: the layer takes ``linear`` (``HYBRID_DEFAULTS``); ``fields``
    adds or overrides the rest."""
    exact = semantics == "exact"
    defaults = {k: v for k, v in DEFAULTS.items() if not exact or k not in ("capacity", "capacity_factor")}
    base = dict(name=name, functionality=f"moe[{semantics}]", kind="mpc", summary=summary,
                ideal=_ideal(semantics), real=real, validate=_validate(semantics), input_specs=layer_specs,
                defaults={**defaults, **(HYBRID_DEFAULTS if hybrid else {})},
                aliases=ALIASES, params_strategy=_small_params, inputs_strategy=layer_inputs,
                check=check_layer(semantics), errors=layer_errors(semantics), error_bound=layer_bound,
                leakage=(LEAK if exact else LEAK + ("capacity",)) + (HYBRID_LEAK if hybrid else ()),
                doc="docs/protocols/moe.md",
                bad_cases=layer_bad_cases(balanced=not exact),
                contrast=layer_contrast(None if exact else {"capacity": 1, "capacity_factor": 2.0}))
    if hybrid:
        base.update(kind="hybrid", plain_inputs=True)
    base.update(fields)
    return Entry(**base)


def _both(cost) -> dict:
    """``cost(B)`` on ``crypten`` and ``cheetah``."""
    return {"crypten": cost(crypten), "cheetah": cost(cheetah)}


register(layer_entry(
    "cryptomoe.moe", "balanced",
    "CryptoMoE layer: gate, balanced dispatch (capacity t), SwiGLU experts on E x t rows (linear=he: HE batch "
    "matmul on the server's plaintext weights), combine",
    _layer_real(CM.moe, True, topk=("topk", "gate_topk")), hybrid=True, derive=lambda p: _derive_gate(derive_dispatch_topk(p)),
    costs=_both(_cryptomoe_cost), defaults={**DEFAULTS, **HYBRID_DEFAULTS, **TOPK_DEFAULTS, **GATE_TOPK_DEFAULTS}))

register(layer_entry(
    "dense.moe", "exact", "dense baseline: every expert on every token, zero weight for unselected experts "
    "(linear=he: BOLT on the server's plaintext weights)",
    _layer_real(DM.moe, False, topk=("gate_topk",)), hybrid=True, costs=_both(_dense_cost), derive=_derive_gate,
    defaults={**{k: v for k, v in DEFAULTS.items() if k not in ("capacity", "capacity_factor")}, **HYBRID_DEFAULTS,
              **GATE_TOPK_DEFAULTS},
    params_strategy=lambda: _small_params().map(lambda p: {k: v for k, v in p.items() if k != "capacity"})))

register(layer_entry(
    "cipherprune.moe", "balanced",
    "CipherPrune-style layer: gate, compaction dispatch (capacity t), SwiGLU experts on E x t rows (linear=he: "
    "BOLT per expert), the swaps replayed backwards",
    _layer_real(CPM.moe, True, topk=("gate_topk",)), hybrid=True, derive=lambda p: _derive_gate(derive_capacity(p)),
    costs=_both(_cipherprune_cost), defaults={**DEFAULTS, **HYBRID_DEFAULTS, **GATE_TOPK_DEFAULTS}))

register(layer_entry(
    "insecure.moe", "exact",
    "NEGATIVE CONTROL: routing opened, per-expert counts visible; must fail the obliviousness check",
    lambda p, s: IM.moe(s["x"], s["w_g"], s["U"], s["V"], s["D"], p["top_k"]),
    costs={},   # its cost depends on the (opened) routing: no closed form in the public parameters
    params_strategy=lambda: st.fixed_dictionaries({"tokens": st.integers(2, 3), "hidden": st.integers(1, 2),
                                                   "ffn": st.integers(1, 2), "experts": st.integers(2, 3),
                                                   "top_k": st.just(1)}),
    negative_control=True))


# -- SecMoE: select-then-compute (hybrid MPC + HE) ------------------------------------------------------
import protocols.mpc.reshared_moe as RM  # noqa: E402
from protocols.he.interface import HEParams  # noqa: E402


def _he_class(p):
    """The run's HE backend class: SEAL, or the slot simulator (``simulators/he.py``) with the same counts and
    SEAL's serialized sizes."""
    from protocols.he.seal_backend import SealBackend
    from simulators.he import SimBackend

    return SealBackend if p["he_backend"] == "seal" else SimBackend


def _secmoe_cost(B):
    """crypten: the exact closed form of the run (its HE parameters, serialized sizes); cheetah: the same
    structure with the MPC parts at SPU/Cheetah unit costs and the papers' HE byte formulas. Where one
    weight matrix exceeds a ciphertext (d f > S: the target models) both are the projection
    ``moe.secmoe_moe_large``. SecMoE's ``accounting=paper`` is the same protocol (the paper's compute phase
    is what runs)."""
    def f(p):
        if B is crypten:
            _crypten_only_protocol(p)
        params = SM.he_params(p["he_poly_degree"])
        if p["hidden"] * p["ffn"] > params.slots:      # beyond the real protocol's layout: the projection
            return M.secmoe_moe_large(B, p["tokens"], p["hidden"], p["ffn"], p["experts"], p["top_k"], params,
                                      p.get("gate_topk", "auto"))
        sizes = _he_class(p).wire_sizes(params) if B is crypten else None
        return M.secmoe_moe(B, p["tokens"], p["hidden"], p["ffn"], p["experts"], p["top_k"], params, sizes,
                            p.get("gate_topk", "auto"))
    return f


def _reshared_cost(B):
    """crypten: the run's HE parameters and serialized sizes; cheetah: the papers' N = 8192."""
    def f(p):
        if B is crypten:
            _crypten_only_protocol(p)
        n = p["he_poly_degree"] if B is crypten else max(8192, p["he_poly_degree"])
        sizes = _he_class(p).wire_sizes(HEParams(n)) if B is crypten else None
        return M.reshared_moe(B, p["tokens"], p["hidden"], p["ffn"], p["experts"], p["top_k"], HEParams(n), sizes,
                              p.get("gate_topk", "auto"))
    return f


def _he_validate(real_params):
    def validate(p, i):
        _validate("exact")(p, i)
        if p["he_backend"] not in ("seal", "sim"):
            from functionalities.errors import PublicParameterError

            raise PublicParameterError(f"he_backend must be seal or sim, got {p['he_backend']!r}")
        check_accounting(p)
        real_params(p)
    return validate


def _secmoe_params(p):
    """The HE parameters must exist; a real run also needs ``protocols/mpc/secmoe_moe.check_dims`` (ranges,
    d f <= S), which the protocol checks itself: costs are projected beyond it."""
    SM.he_params(p["he_poly_degree"])


register(layer_entry(
    "secmoe.moe", "exact",
    "SecMoE: select each (token, slot)'s expert weights under HE, compute on them ENCRYPTED (ct x ct)",
    lambda p, s, own: SM.moe(s["x"], s["w_g"], s["U"], s["V"], s["D"], p["top_k"],
                             (_he_class(p), SM.he_params(p["he_poly_degree"])), own if "U" in own else None,
                             p.get("gate_topk", "auto")),
    kind="hybrid", plain_inputs=True, validate=_he_validate(_secmoe_params),
    defaults={"tokens": 4, "hidden": 4, "ffn": 4, "experts": 4, "top_k": 2, "he_backend": "seal",
              "he_poly_degree": SM.POLY_DEGREE, "accounting": "protocol", **GATE_TOPK_DEFAULTS}, derive=_derive_gate,
    costs={"crypten": _secmoe_cost(crypten), "cheetah": _secmoe_cost(cheetah)},
    params_strategy=lambda: _small_params().map(
        lambda p: {**{k: v for k, v in p.items() if k != "capacity"}, "he_backend": "seal",
                   "he_poly_degree": SM.POLY_DEGREE}),
    leakage=LEAK + ("he_poly_degree",), doc="docs/protocols/secmoe_moe.md",
    contrast=layer_contrast({"he_backend": "sim", "he_poly_degree": SM.POLY_DEGREE})))

register(layer_entry(
    "reshared.moe", "exact",
    "baseline: SecMoE's HE selection, then the selected weights RE-SHARED and one SwiGLU on shares",
    lambda p, s, own: RM.moe(s["x"], s["w_g"], s["U"], s["V"], s["D"], p["top_k"],
                             (_he_class(p), HEParams(p["he_poly_degree"])), own if "U" in own else None,
                             p.get("gate_topk", "auto")),
    kind="hybrid", plain_inputs=True, validate=_he_validate(lambda p: HEParams(p["he_poly_degree"])),
    defaults={"tokens": 4, "hidden": 4, "ffn": 4, "experts": 4, "top_k": 2, "he_backend": "seal",
              "he_poly_degree": 8192, "accounting": "protocol", **GATE_TOPK_DEFAULTS}, derive=_derive_gate,
    costs={"crypten": _reshared_cost(crypten), "cheetah": _reshared_cost(cheetah)},
    params_strategy=lambda: _small_params().map(
        lambda p: {**{k: v for k, v in p.items() if k != "capacity"}, "he_backend": "seal", "he_poly_degree": 8192}),
    leakage=LEAK + ("he_poly_degree",), doc="docs/protocols/reshared_moe.md",
    contrast=layer_contrast({"he_backend": "sim", "he_poly_degree": 8192})))
