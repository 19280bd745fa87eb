"""Registry entry: ``gate`` (router: softmax(x W_g), top-k experts and their scores).

The check is per example and per element (``analysis/error_bounds.py``: rules T, E, G, X, N, S there), at
the example's actual values; ULP = 2^-16.

* logits: x W_g is one Beaver matmul of exactly encoded inputs and one truncation (T), so each real logit
  is one of the two grid neighbours of the exact logit (G).
* experts K: comparisons of the real logits are exact, so K is valid iff, for every chosen c and
  unchosen r, the upper neighbour of l_c is >= the lower neighbour of l_r (K-check; a tie of real
  logits goes to the lower index).
* scores W = G[K] (the one-hot select is exact, E), G = softmax at the real logits minus their max
  (``error_bounds.softmax_bound``): y_j = l'_j - l'_top (<= 4 grid candidates, exactly 0 for the top
  expert); e_j = CrypTen exp (X: (1 + y/2^8)^(2^8), noise D_8 at each candidate), the exp approximation's
  own error |Q_i - p_i| with Q = A(y*) / sum A(y*) evaluated exactly; the normalisation (S) cancels a
  common relative error: (N_i (1 - Q_i) + Q_i sum_{j != i} N_j) / s_lo; 1/s by 10 Newton-Raphson steps
  (N) from 3 exp(1 - 2 s) + 0.003, whose residual U_10 / s_lo multiplies e_i; G_i = e_i inv adds one
  truncation (T):
  ``|W - p[K]| <= |Q - p| + (N (1 - Q) + Q (sum N - N)) / s_lo + (A + N) U_10 / s_lo + 1 ULP``.

``error_bound(params)`` is the older domain-wide a-priori bound (every truncation aligned, every exp at its
worst on [-64, 0]: ``(E + 1) eps_exp + 18 ULP``, 0.15 at E = 8, vacuous from E = 59 on); the report shows
it beside the observed error, the check does not use it.
"""
from hypothesis import strategies as st
import torch

import functionalities.gate as F
import protocols.mpc.gate as P
from analysis import error_bounds as EB
from analysis.cost_models import cheetah, crypten
from analysis.entries._moe_params import TOPK_DEFAULTS, derive_topk
from analysis.entry import BadCase, Entry, InputSpec, register
from analysis.strategies import tensor
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError
from functionalities.fixed_point import ULP
from protocols.mpc.topk import ONEHOT_METHODS, choose_onehot_method

EPS_EXP = 0.00106 + (2**8 * (4 / 2**8 + 2) + 2 * (2**8 - 1)) * ULP


def error_bound(p) -> float:
    """A-priori (domain-wide) bound on |W_real - G_ideal[K_real]| (module docstring); not used by ``check``."""
    return (p["experts"] + 1) * EPS_EXP + 18 * ULP


def parts(ideal, real, p, inputs):
    """[Part W] (elementwise |W_real - G_ideal[K_real]| and its bound), or the K problems (strings)."""
    k_real, w_real = real
    logits = F.gate_logits(inputs["x"], inputs["w_g"])
    scores = F.gate_scores(inputs["x"], inputs["w_g"])
    if tuple(k_real.shape) != (p["tokens"], p["top_k"]) or tuple(w_real.shape) != (p["tokens"], p["top_k"]):
        return [f"K shape {tuple(k_real.shape)}, W shape {tuple(w_real.shape)}"]
    problems = []
    lo, hi = EB.neighbours(logits)
    for j in range(p["tokens"]):
        chosen = [int(e) for e in k_real[j]]
        if len(set(chosen)) != len(chosen) or not all(0 <= e < p["experts"] for e in chosen):
            problems.append(f"token {j}: K = {chosen} is not k distinct experts")
            continue
        rest = [e for e in range(p["experts"]) if e not in chosen]
        if rest and float(hi[j, chosen].min()) < float(lo[j, rest].max()):
            problems.append(f"token {j}: K = {chosen} is not a top-{p['top_k']} of logits {logits[j].tolist()} "
                            "(not even with each logit at either grid neighbour)")
    if problems:
        return problems
    bound, valid = EB.softmax_bound(logits, k_real[:, 0])
    if not bool(valid.all()):
        return [f"token {j}: the reciprocal's initial residual bound reaches 1 (CrypTen's initial guess fails "
                "for a sum of exps near 256): no bound derived" for j in (~valid).nonzero().reshape(-1).tolist()]
    return [EB.part("W", w_real, scores.gather(1, k_real), bound.gather(1, k_real))]


errors = EB.Errors(parts)
check = errors.check


def sizes():
    """The gate's public sizes (its negative controls draw these: their leaks do not depend on the method)."""
    return st.integers(1, 8).flatmap(lambda e: st.fixed_dictionaries({
        "tokens": st.integers(1, 4), "hidden": st.integers(1, 4), "experts": st.just(e),
        "top_k": st.one_of(st.just(1), st.just(e), st.integers(1, e))}))


def _params():
    return sizes().flatmap(lambda p: st.sampled_from(ONEHOT_METHODS).map(lambda m: {**p, "topk": m}))


def _inputs(p):
    # x entries bounded so each token's L1 norm <= GATE_L1; repeated values make tied logits likely
    xb = F.GATE_L1 / p["hidden"]
    xs = st.one_of(st.sampled_from([0.0, 1.0, -1.0, xb, -xb]), st.floats(-xb, xb, allow_nan=False))
    ws = st.one_of(st.sampled_from([0.0, 0.5, -0.5, F.GATE_W, -F.GATE_W]), st.floats(-F.GATE_W, F.GATE_W, allow_nan=False))
    return st.fixed_dictionaries({"x": tensor((p["tokens"], p["hidden"]), xs),
                                  "w_g": tensor((p["hidden"], p["experts"]), ws)}).map(_clip_l1)


def _clip_l1(i):
    x = i["x"]
    norms = x.abs().sum(-1, keepdim=True)
    scale = torch.where(norms > F.GATE_L1, F.GATE_L1 / norms, torch.ones_like(norms))
    # toward zero: flooring a negative entry would raise its magnitude and the norm past GATE_L1 (d > 32)
    return {"x": torch.trunc(x * scale * 2**16) / 2**16, "w_g": i["w_g"]}


register(Entry(
    name="gate",
    functionality="gate",
    kind="mpc",
    summary="MoE router: logits x W_g, top-k experts of the logits, softmax scores at those experts",
    ideal=lambda p, i: F.gate(i["x"], i["w_g"], p["top_k"]),
    real=lambda p, s: P.gate(s["x"], s["w_g"], p["top_k"], p.get("topk", "auto")),
    validate=lambda p, i: (F.validate(p["tokens"], p["hidden"], p["experts"], p["top_k"], i.get("x"), i.get("w_g")),
                           choose_onehot_method(p["experts"], p["top_k"], p.get("topk", "auto"))),
    input_specs=lambda p: [InputSpec("x", 0, (p["tokens"], p["hidden"])),
                           InputSpec("w_g", 1, (p["hidden"], p["experts"]))],
    defaults={"tokens": 4, "hidden": 8, "experts": 8, "top_k": 2, **TOPK_DEFAULTS},
    derive=lambda p: derive_topk(p, p["tokens"], p["experts"], p["top_k"], onehots=True),
    costs={"crypten": lambda p: crypten.gate(p["tokens"], p["hidden"], p["experts"], p["top_k"], p.get("topk", "auto")),
           "cheetah": lambda p: cheetah.gate(p["tokens"], p["hidden"], p["experts"], p["top_k"], p.get("topk", "auto"))},
    params_strategy=_params,
    inputs_strategy=_inputs,
    check=check,
    errors=errors,
    error_bound=error_bound,
    leakage=("tokens", "hidden", "experts", "top_k"),
    doc="docs/protocols/gate.md",
    intermediates=lambda p, i: {"logits": F.gate_logits(i["x"], i["w_g"]), "K": F.gate(i["x"], i["w_g"], p["top_k"])[0],
                                "G": F.gate_scores(i["x"], i["w_g"])},
    bad_cases=[
        BadCase("k > E", lambda p, i: ({**p, "top_k": p["experts"] + 1}, i), PublicParameterError),
        BadCase("unknown top-k method", lambda p, i: ({**p, "topk": "merge"}, i), PublicParameterError),
        BadCase("W_g wrong shape", lambda p, i: (p, {**i, "w_g": torch.zeros(p["hidden"] + 1, p["experts"])}),
                ShapeError),
        BadCase("x has NaN", lambda p, i: (p, {**i, "x": i["x"] * float("nan")}), FixedPointRangeError),
        BadCase("W_g out of range", lambda p, i: (p, {**i, "w_g": i["w_g"] * 0 + 2.0}), FixedPointRangeError),
    ],
))
