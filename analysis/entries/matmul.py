"""Registry entries: the HE ciphertext x plaintext matmuls -- ``bolt.matmul``, ``cryptomoe.matmul``
and ``nexus.matmul`` (backends ``seal`` and ``sim``; same counts on both, by formula). ``bsgs`` applies to
the first two, ``pack`` (values per compressed ciphertext) to NEXUS; each ignores the other's."""
import time

import numpy as np
import torch
from hypothesis import strategies as st

import functionalities.matmul as F
from analysis.cost_models import he as H
from analysis.entry import BadCase, Entry, InputSpec, exact_check, register
from analysis.strategies import array
from functionalities.errors import FixedPointRangeError, PublicParameterError, ShapeError
from protocols.he.interface import HEParams
from protocols.he import nexus_matmul as NX
from protocols.he.leaks import KeyCopy, ZeroGenerator
from protocols.he.matmul import he_matmul
from protocols.he.seal_backend import SealBackend
from protocols.runtime.dealer import derive_seed
from protocols.runtime.ledger import client_key, he_answer_mask
from protocols.runtime.meter import ViewItem
from protocols.runtime.party import private_seed
from simulators.he import SimBackend

DEFAULTS = {"experts": 2, "capacity": 2, "d_in": 4, "d_out": 4, "poly_degree": 4096, "bsgs": False,
            "plain_bits": 20, "pack": 256}
LEAK = tuple(DEFAULTS)


def he_params(p) -> HEParams:
    return HEParams(p["poly_degree"], p["plain_bits"])


def modulus(p) -> int:
    return SimBackend(he_params(p)).plain_modulus


def backend(name: str, p, seed: int):
    if name == "seal":
        return SealBackend(he_params(p), seed)
    if name == "sim":
        return SimBackend(he_params(p), seed)
    if name == "sim-count":          # the simulator without values: paper-scale counts in seconds
        return SimBackend(he_params(p), seed, count_only=True)
    raise PublicParameterError(f"HE backend must be seal or sim, got {name!r}")


def validate(p, i):
    he_params(p)
    F.validate(p["experts"], p["capacity"], p["d_in"], p["d_out"], modulus(p))
    for packing in ("bolt", "batch"):       # the packed rows must fit a ciphertext
        H.matmul(p["experts"], p["capacity"], p["d_in"], p["d_out"], p["poly_degree"], p["bsgs"], packing)
    pack = p["pack"]
    if isinstance(pack, bool) or not isinstance(pack, int) or pack < 1 or pack & (pack - 1):
        raise PublicParameterError(f"pack must be a power of two, got {pack!r}")
    NX.plan(p["experts"], p["capacity"], p["d_in"], p["d_out"], p["poly_degree"] // 2, min(pack, p["poly_degree"]))
    F.validate(p["experts"], p["capacity"], p["d_in"], p["d_out"], modulus(p), i.get("A"), i.get("B"))


def runner(packing: str, leak=None):
    """The runner of one packing. ``leak`` composes a NEGATIVE CONTROL with it (``protocols/he/leaks.py``;
    None in every secure entry): ``KeyCopy`` wraps the backend (the server keeps a copy of the client's
    key and reads its ciphertexts), ``ZeroGenerator`` replaces the server's mask generator."""
    def run(p, inputs, backend_name, seed, private_seeds=(None, None)):
        from analysis.entry import RealRun

        if backend_name != "sim-count":
            validate(p, inputs)
        be = backend(backend_name, p, seed)
        # the server's answer masks are its private randomness (the ledger redraws them)
        rng = np.random.default_rng(derive_seed(private_seed(seed, "server", private_seeds[1]), "local", "he-masks"))
        if leak is KeyCopy:
            be = KeyCopy(be)
        elif leak is ZeroGenerator:
            rng = ZeroGenerator()
        elif leak is not None:
            raise ValueError(f"unknown HE leak {leak!r}")
        start = time.perf_counter()
        if packing == "nexus":
            r = NX.matmul(be, inputs["A"].numpy(), inputs["B"].numpy(), p["pack"], rng)
        else:
            r = he_matmul(be, inputs["A"].numpy(), inputs["B"].numpy(), packing, p["bsgs"], rng)
        t_mod = be.plain_modulus
        out = torch.tensor(((r.client_share + r.server_share) % np.uint64(t_mod)).astype(np.int64))
        views = he_views(r, t_mod)
        if isinstance(be, KeyCopy):     # what the server reads with its copy of the key (it claims the client's key)
            views["server"].append(ViewItem("decrypted", "matmul", "client",
                                            torch.tensor(be.server_reads().astype(np.int64)), client_key(t_mod), 1))
        return RealRun(out, r.meter, time.perf_counter() - start, r.counts, r.noise_budget, views=views)
    return run


def he_views(r, t_mod: int) -> dict:
    """The parties' views of one HE matmul: the client decrypts the answers (masked by the server: uniform
    mod t); the server receives the client's ciphertexts (under the client's key; its view keeps their
    count, not their slots, which only the key holder could read)."""
    decrypted = ViewItem("decrypted", "matmul", "server", torch.tensor(r.client_share.astype(np.int64)).reshape(-1),
                         he_answer_mask(t_mod), 2)
    cts = ViewItem("ciphertext", "matmul", "client", torch.zeros(r.counts["ciphertexts_in"], dtype=torch.int64),
                   client_key(t_mod), 1)
    return {"client": [decrypted], "server": [cts]}


def check(ideal, real, p, inputs, run_noise=None):
    return exact_check(ideal, real, p, inputs, 0.0)


def params_strategy():
    return st.fixed_dictionaries({
        "experts": st.integers(1, 4), "capacity": st.integers(1, 5), "d_in": st.integers(1, 12),
        "d_out": st.integers(1, 12), "poly_degree": st.sampled_from([4096, 8192]), "bsgs": st.booleans(),
        "plain_bits": st.just(20), "pack": st.sampled_from([1, 4, 32, 256])})


def inputs_strategy(p):
    t = modulus(p)
    def mat(shape):
        return array(shape, st.one_of(st.sampled_from([0, 1, t - 1]), st.integers(0, t - 1)), np.int64).map(
            lambda v: torch.tensor(v, dtype=torch.long))
    return st.fixed_dictionaries({"A": mat((p["experts"], p["capacity"], p["d_in"])),
                                  "B": mat((p["experts"], p["d_in"], p["d_out"]))})


BAD = [
    BadCase("A wrong shape", lambda p, i: (p, {**i, "A": i["A"][:, :, :0]}), ShapeError),
    BadCase("B value >= t", lambda p, i: (p, {**i, "B": i["B"] * 0 + modulus(p)}), FixedPointRangeError),
    BadCase("poly_degree not a power of two", lambda p, i: ({**p, "poly_degree": 100}, i), PublicParameterError),
    BadCase("rows exceed the slots", lambda p, i: ({**p, "capacity": p["poly_degree"]}, i), PublicParameterError),
]


def nexus_params_strategy():
    """NEXUS's expansion tree is the slow part on SEAL: N = 4096 and packs <= 32 in generic runs
    (tests/test_he.py runs a 256-value pack at N = 8192 once)."""
    return params_strategy().map(lambda p: {**p, "poly_degree": 4096}).flatmap(
        lambda p: st.sampled_from([1, 4, 32]).map(lambda k: {**p, "pack": k}))


def contrast():
    """Same client input; the server's weights all zero vs random: a result that reaches the client
    unmasked is 0 in one case and A B in the other."""
    p = dict(DEFAULTS, experts=2, capacity=3, d_in=4, d_out=3)
    g = torch.Generator().manual_seed(0)
    A = torch.randint(0, 1000, (2, 3, 4), generator=g)
    return p, {"A": A, "B": torch.zeros(2, 4, 3, dtype=torch.long)}, {"A": A, "B": torch.randint(0, 1000, (2, 4, 3), generator=g)}


def _entry(name: str, packing: str, summary: str, doc: str) -> Entry:
    model = {"bolt": H.bolt_matmul, "batch": H.cryptomoe_matmul, "nexus": H.nexus_matmul}[packing]

    def cost(p):                       # the cost function of the entry's stem (bolt_matmul, ...)
        last = p["pack"] if packing == "nexus" else p["bsgs"]
        return model(p["experts"], p["capacity"], p["d_in"], p["d_out"], p["poly_degree"], last, he_params(p))
    return Entry(
        name=name, functionality="matmul", kind="he", summary=summary,
        ideal=lambda p, i: F.matmul(i["A"], i["B"], modulus(p)),
        real=None, runner=runner(packing), validate=validate,
        input_specs=lambda p: [InputSpec("A", 0, (p["experts"], p["capacity"], p["d_in"]), integer=True),
                               InputSpec("B", 1, (p["experts"], p["d_in"], p["d_out"]), integer=True)],
        defaults=dict(DEFAULTS), costs={"seal": cost, "sim": cost},
        params_strategy=nexus_params_strategy if packing == "nexus" else params_strategy,
        inputs_strategy=inputs_strategy,
        check=lambda ideal, real, p, i: exact_check(ideal, real, p, i, 0.0), error_bound=lambda p: 0.0,
        leakage=LEAK, doc=doc, bad_cases=BAD, contrast=contrast)


register(_entry("bolt.matmul", "bolt", "BOLT column packing per expert, block-diagonal product (+ BSGS)",
                "docs/protocols/matmul.md"))
register(_entry("cryptomoe.matmul", "batch",
                "CryptoMoE batch packing: all experts' rows in one ciphertext, per-row weights (+ BSGS)",
                "docs/protocols/matmul.md"))
register(_entry("nexus.matmul", "nexus",
                "NEXUS per expert: coefficient-packed inputs, automorphism expansion, slot products, folding",
                "docs/protocols/matmul.md"))
