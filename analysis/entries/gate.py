"""Registry entry: ``gate`` (router: softmax(x W_g), top-k experts and their scores).

Error bound (the ``check`` below), with ULP = 2^-16:

* logits: one Beaver matmul and one local truncation of each share -> ``eps_logit = 2 ULP``.
* experts K: exact comparisons of the real logits, so K is a valid top-k of the ideal logits up to
  ``2 eps_logit``: every chosen expert's ideal logit >= every unchosen one's minus 2 eps_logit.
* scores W: exp(y) = (1 + y/2^8)^(2^8) for y = l - max in [-2 GATE_L1 GATE_W, 0] = [-64, 0] is off by at
  most 0.00106 (max over y in [-256, 0] of |e^y - (1 + y/256)^256|; below -256 the approximation breaks,
  which the declared input range rules out); truncation errors: y carries 4 ULP, y/2^8 one
  more local truncation (2 ULP), and each of the 8 squarings of a value <= 1 at most doubles the error
  and adds 2 ULP: ``eps_exp = 0.00106 + (2^8 (4/2^8 + 2) + 2 (2^8 - 1)) ULP``. The sum of E exps is >= 1
  (the max's exp is ~1), so 1/s moves by at most E eps_exp, and after Newton-Raphson (converged: the
  initial guess is within its basin for s <= 256 = MAX_EXPERTS) at most 16 ULP of truncation residue:
  ``eps_W = (E + 1) eps_exp + 16 ULP + 2 ULP``.

This is a worst case (every truncation error aligned): 0.15 at E = 8, and it says nothing (>= 1) from
E = 59 on, where only the K check bites. Real runs are small-scale; the report shows the observed error.
"""
from hypothesis import strategies as st
import torch

import functionalities.gate as F
import protocols.mpc.gate as P
from analysis.cost_models import cheetah, crypten
from analysis.registry import BadCase, Entry, InputSpec, register
from analysis.strategies import tensor
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError
from functionalities.fixed_point import ULP

EPS_LOGIT = 2 * ULP
EPS_EXP = 0.00106 + (2**8 * (4 / 2**8 + 2) + 2 * (2**8 - 1)) * ULP


def error_bound(p) -> float:
    """eps_W: the bound on |W_real - G_ideal[K_real]| (module docstring)."""
    return (p["experts"] + 1) * EPS_EXP + 18 * ULP


def check(ideal, real, p, inputs) -> list[str]:
    """K_real is a top-k of the ideal logits up to 2 eps_logit; W_real within eps_W of the ideal scores."""
    k_real, w_real = real
    logits = F.gate_logits(inputs["x"], inputs["w_g"])
    scores = F.gate_scores(inputs["x"], inputs["w_g"])
    problems = []
    if tuple(k_real.shape) != (p["tokens"], p["top_k"]):
        return [f"K shape {tuple(k_real.shape)}"]
    for j in range(p["tokens"]):
        chosen = [int(e) for e in k_real[j]]
        if len(set(chosen)) != len(chosen) or not all(0 <= e < p["experts"] for e in chosen):
            problems.append(f"token {j}: K = {chosen} is not k distinct experts")
            continue
        rest = [e for e in range(p["experts"]) if e not in chosen]
        if rest and float(logits[j, chosen].min()) < float(logits[j, rest].max()) - 2 * EPS_LOGIT:
            problems.append(f"token {j}: K = {chosen} is not a top-{p['top_k']} of logits {logits[j].tolist()}")
        err = float((w_real[j] - scores[j, chosen]).abs().max())
        if err > error_bound(p):
            problems.append(f"token {j}: |W - G[K]| = {err:.3g} > eps_W = {error_bound(p):.3g}")
    return problems


def _params():
    return st.integers(1, 8).flatmap(lambda e: st.fixed_dictionaries({
        "tokens": st.integers(1, 4), "hidden": st.integers(1, 4), "experts": st.just(e),
        "top_k": st.one_of(st.just(1), st.just(e), st.integers(1, e))}))


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
    return {"x": torch.floor(x * scale * 2**16) / 2**16, "w_g": i["w_g"]}


register(Entry(
    name="gate",
    functionality="gate",
    kind="mpc",
    summary="MoE router: logits x W_g, top-k experts of the logits, softmax scores at those experts",
    ideal=lambda p, i: F.gate(i["x"], i["w_g"], p["top_k"]),
    real=lambda p, s: P.gate(s["x"], s["w_g"], p["top_k"]),
    validate=lambda p, i: F.validate(p["tokens"], p["hidden"], p["experts"], p["top_k"], i.get("x"), i.get("w_g")),
    input_specs=lambda p: [InputSpec("x", 0, (p["tokens"], p["hidden"])),
                           InputSpec("w_g", 1, (p["hidden"], p["experts"]))],
    defaults={"tokens": 4, "hidden": 8, "experts": 8, "top_k": 2},
    costs={"crypten": lambda p: crypten.gate(p["tokens"], p["hidden"], p["experts"], p["top_k"]),
           "cheetah": lambda p: cheetah.gate(p["tokens"], p["hidden"], p["experts"], p["top_k"])},
    params_strategy=_params,
    inputs_strategy=_inputs,
    check=check,
    error_bound=error_bound,
    leakage=("tokens", "hidden", "experts", "top_k"),
    doc="docs/protocols/gate.md",
    intermediates=lambda p, i: {"logits": F.gate_logits(i["x"], i["w_g"]), "K": F.gate(i["x"], i["w_g"], p["top_k"])[0],
                                "G": F.gate_scores(i["x"], i["w_g"])},
    bad_cases=[
        BadCase("k > E", lambda p, i: ({**p, "top_k": p["experts"] + 1}, i), PublicParameterError),
        BadCase("W_g wrong shape", lambda p, i: (p, {**i, "w_g": torch.zeros(p["hidden"] + 1, p["experts"])}),
                ShapeError),
        BadCase("x has NaN", lambda p, i: (p, {**i, "x": i["x"] * float("nan")}), FixedPointRangeError),
        BadCase("W_g out of range", lambda p, i: (p, {**i, "w_g": i["w_g"] * 0 + 2.0}), FixedPointRangeError),
    ],
))
