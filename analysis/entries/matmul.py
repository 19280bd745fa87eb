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
from protocols.he import bolt_matmul as BM
from protocols.he import cryptomoe_matmul as CM
from protocols.he.matmul import he_matmul
from protocols.he.seal_backend import SealBackend
from simulators.he import SimBackend, SimCountBackend

DEFAULTS = {"experts": 2, "capacity": 2, "d_in": 4, "d_out": 4, "poly_degree": 8192, "bsgs": False,
            "plain_bits": 20, "pack": 256}
LEAK = tuple(DEFAULTS)


def he_params(p) -> HEParams:
    return HEParams(p["poly_degree"], p["plain_bits"])


def modulus(p) -> int:
    return SimBackend(he_params(p)).plain_modulus


def backend_class(name: str):
    """The HE backend class of a run: SEAL, or the slot simulator (same counts; its own serialization)."""
    if name == "seal":
        return SealBackend
    if name == "sim":
        return SimBackend
    if name == "sim-count":              # the simulator without values (frames of SEAL's sizes): paper scale
        return SimCountBackend
    raise PublicParameterError(f"HE backend must be seal or sim, got {name!r}")


def sizes(name: str, p):
    """What one serialized query, answer and key blob weighs on that backend (``wire_sizes``)."""
    return backend_class(name).wire_sizes(he_params(p))


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


def real(packing: str, wrap=None):
    """The two-party protocol (``party_matmul``; every key and ciphertext on the wire): the client holds A,
    the server B; ``backend`` is the run's HE backend name. ``wrap`` (negative controls only, e.g.
    ``protocols/he/leaks.key_copy``) composes the backend class with a leak."""
    def run(p, own, backend_name):
        from protocols.crypten_shim import current_party

        cls = backend_class(backend_name) if wrap is None else wrap(backend_class(backend_name))
        X = own["A"] if current_party().rank == 0 else own["B"]
        shape = (p["experts"], p["capacity"], p["d_in"], p["d_out"])
        if packing == "nexus":
            return NX.party_matmul(X.numpy(), shape, p["pack"], cls, he_params(p))
        module = BM if packing == "bolt" else CM
        return module.party(X.numpy(), shape, p["bsgs"], cls, he_params(p))
    return run


def check(ideal, real, p, inputs, run_noise=None):
    return exact_check(ideal, real, p, inputs, 0.0)


def params_strategy():
    return st.fixed_dictionaries({
        "experts": st.integers(1, 4), "capacity": st.integers(1, 5), "d_in": st.integers(1, 12),
        "d_out": st.integers(1, 12), "poly_degree": st.just(8192), "bsgs": st.booleans(),
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
    """NEXUS's expansion tree is the slow part on SEAL: packs <= 32 in generic runs (tests/test_he.py runs a
    256-value pack once). N = 8192: the smallest ring whose answers can be noise-flooded
    (``protocols/he/flooding.py``)."""
    return params_strategy().flatmap(
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

    def cost(backend_name):            # the cost function of the entry's stem (bolt_matmul, ...)
        def f(p):
            last = p["pack"] if packing == "nexus" else p["bsgs"]
            return model(p["experts"], p["capacity"], p["d_in"], p["d_out"], p["poly_degree"], last, he_params(p),
                         sizes=sizes(backend_name, p))
        return f
    return Entry(
        name=name, functionality="matmul", kind="he", summary=summary,
        ideal=lambda p, i: F.matmul(i["A"], i["B"], modulus(p)),
        real=real(packing), validate=validate, plain_inputs=True,
        input_specs=lambda p: [InputSpec("A", 0, (p["experts"], p["capacity"], p["d_in"]), integer=True),
                               InputSpec("B", 1, (p["experts"], p["d_in"], p["d_out"]), integer=True)],
        defaults=dict(DEFAULTS), costs={"seal": cost("seal"), "sim": cost("sim")},
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
