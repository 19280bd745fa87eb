"""The papers' published numbers privmoe reproduces: the only numbers of the reproduction typed by hand.

Sources (cited by key in every row of ``privmoe reproduce``):

* ``CryptoMoE Table 2``: Zhou, Xu, Hong, Wu and Li, "CryptoMoE: Privacy-Preserving and Scalable Mixture of
  Experts Inference via Balanced Expert Routing", NeurIPS 2025 (arXiv 2511.01197), Table 2: communication
  of one MoE layer per token, MB = 10^6 bytes, m = 128 tokens, d = 2048, t = floor(f k m / E).
* ``CryptoMoE rebuttal``: the authors' response to the reviewers (OpenReview forum 8pEqukyGrj, NeurIPS
  2025): the dispatch/combine table (DeepSeekMoE: m = 128, E = 64, k = 6, d = 2048, t = 12 as stated) and
  the matmul table (E = 64, t = 32, d_in = d_out = 2048, N = 8192).
* ``SecMoE``: Shen et al., "SecMoE", AAAI 2026 (arXiv 2601.06790): its claims.

Model sizes: ``MODELS`` (the models' configurations; d = 2048 for all three).
"""
from __future__ import annotations

from dataclasses import dataclass, field

TABLE2 = "CryptoMoE Table 2"
REBUTTAL = "CryptoMoE rebuttal"
SECMOE = "SecMoE"

#: the models of the papers' evaluation (shared experts are not part of the routed MoE layer)
MODELS = {
    "DeepSeekMoE-16B": dict(hidden=2048, experts=64, top_k=6, ffn=1408),
    "OLMoE-7B": dict(hidden=2048, experts=64, top_k=8, ffn=1024),
    "Qwen-MoE-14B": dict(hidden=2048, experts=60, top_k=4, ffn=1408),
}
TOKENS = 128


@dataclass(frozen=True)
class Published:
    """One published number: where it is from, what it measures, at which parameters, its value."""

    key: str
    source: str
    quantity: str
    value: float
    unit: str
    params: dict = field(default_factory=dict)


def _table2() -> list[Published]:
    cells = {  # model: insecure, dense, CipherPrune-style f=1, CryptoMoE f=1, CryptoMoE f=2 (MB per token)
        "DeepSeekMoE-16B": (31.3, 310.9, 182.0, 39.1, 71.9),
        "OLMoE-7B": (29.7, 232.0, 93.0, 42.2, 75.0),
        "Qwen-MoE-14B": (19.5, 291.4, 288.3, 25.8, 47.7),
    }
    out = []
    for model, (ins, dense, cp, cm1, cm2) in cells.items():
        base = {"model": model, "tokens": TOKENS, **MODELS[model]}
        for layer, f, v in (("insecure", 1.0, ins), ("dense", None, dense), ("cipherprune", 1.0, cp),
                            ("cryptomoe", 1.0, cm1), ("cryptomoe", 2.0, cm2)):
            name = {"insecure": "Insecure", "dense": "Dense", "cipherprune": "CipherPrune-style",
                    "cryptomoe": "CryptoMoE"}[layer]
            label = name if f is None else f"{name} t={f:.1f}"
            params = {**base, "layer": layer, **({} if f is None else {"capacity_factor": f})}
            out.append(Published(f"table2/{model}/{layer}" + ("" if f is None else f"/f{f:g}"), TABLE2,
                                 f"{model} layer, {label}: communication per token", v, "MB/token", params))
    return out


_DS = {"model": "DeepSeekMoE-16B", "tokens": TOKENS, "hidden": 2048, "experts": 64, "top_k": 6, "capacity": 12}
_MM = {"experts": 64, "capacity": 32, "d_in": 2048, "d_out": 2048, "poly_degree": 8192}

PUBLISHED: list[Published] = _table2() + [
    Published("rebuttal/dispatch/cipherprune", REBUTTAL, "CipherPrune-style dispatch, communication",
              9.67, "GB", _DS),
    Published("rebuttal/combine/cipherprune", REBUTTAL, "CipherPrune-style combine, communication", 6.44, "GB", _DS),
    Published("rebuttal/dispatch/cryptomoe", REBUTTAL, "CryptoMoE dispatch, communication", 0.89, "GB", _DS),
    Published("rebuttal/combine/cryptomoe", REBUTTAL, "CryptoMoE combine, communication", 0.72, "GB", _DS),
    Published("rebuttal/matmul/bolt/rotations", REBUTTAL, "BOLT+BSGS matmul, rotations", 15360, "rotations",
              {**_MM, "method": "BOLT+BSGS"}),
    Published("rebuttal/matmul/nexus/key_switches", REBUTTAL,
              "NEXUS matmul, rotations (all automorphisms: key switches)", 8388480, "key switches",
              {**_MM, "method": "NEXUS"}),
    Published("rebuttal/matmul/batch/rotations", REBUTTAL, "CryptoMoE batch matmul (+BSGS), rotations", 1024,
              "rotations", {**_MM, "method": "batch+BSGS"}),
    Published("rebuttal/matmul/bolt/bytes", REBUTTAL, "BOLT+BSGS matmul, communication", 0.482, "GB",
              {**_MM, "method": "BOLT+BSGS"}),
    Published("rebuttal/matmul/nexus/bytes", REBUTTAL, "NEXUS matmul, communication", 0.482, "GB",
              {**_MM, "method": "NEXUS"}),
    Published("rebuttal/matmul/batch/bytes", REBUTTAL, "CryptoMoE batch matmul (+BSGS), communication", 0.482, "GB",
              {**_MM, "method": "batch+BSGS"}),
    Published("rebuttal/matmul/ciphergpt/bytes", REBUTTAL, "CipherGPT (VOLE) matmul, communication", 106.5, "GB",
              {**_MM, "method": "CipherGPT"}),
    Published("secmoe/experts_32_to_128", SECMOE,
              "SecMoE layer communication, 128 experts over 32 experts (claim: about constant)", 1.0, "ratio",
              {"tokens": TOKENS, "hidden": 2048, "ffn": 1408, "top_k": 2, "experts": (32, 128)}),
    Published("secmoe/gelu_reduction", SECMOE, "SecMoE's GeLU: communication saved against BumbleBee's GeLU",
              0.81, "fraction", {"n": TOKENS * 1408}),
]


def by_key() -> dict[str, Published]:
    return {p.key: p for p in PUBLISHED}
