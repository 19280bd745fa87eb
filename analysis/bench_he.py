"""Benchmark (not a test): HE matmuls on SEAL -- framework overhead and method ratios.

    python -m analysis.bench_he [--experts 8 --capacity 8 --d-in 64 --d-out 64 --poly-degree 8192]

For each protocol (BOLT, BOLT+BSGS, batch, batch+BSGS, NEXUS) at one medium size on SEAL:
* wall time of the whole protocol (packing, encryption, server work, masking, decryption), with the
  Galois key generation timed apart (``keygen_s``: a one-off set-up) and, for the diagonal matmuls, the
  server's weight diagonals encoded once beforehand (``weights_encoded``: its weights do not change
  between queries, ``protocols/he/packing.matmul``'s cache; NEXUS builds its plaintexts per query);
* the sum of the raw SEAL operation times it performed: each operation kind is timed alone on SEAL
  (median of repeats) and multiplied by the protocol's count of it (``conceal``, the answers' circuit
  privacy, is timed as a whole: its public-key encryption, switch and flooding through the serialized
  answer, after an ``add_plain`` that is timed with it);
* the time the run itself spent inside SEAL's calls (``seal_s``: every call of the backend's evaluator,
  encoder, encryptor and decryptor timed where the protocol makes it, with the protocol's own keys --
  e.g. a rotation with hundreds of Galois keys in memory -- and operands);
* overhead = wall / seal_s (privmoe's Python around SEAL: packing, plaintext construction, the flooding's
  serialization and noise; the goal is <= 1.10) and ``overhead_units`` = wall / the raw sum above (an
  estimate: units timed alone, on one key), and rotations and wall time relative to BOLT. One run each,
  same seed; numbers are this machine's.
"""
from __future__ import annotations

import argparse
import time
from collections import Counter

import numpy as np
import pandas as pd

from protocols.he.interface import HEParams
from protocols.he.matmul import he_matmul
from protocols.he.nexus_matmul import matmul as nexus_matmul
from protocols.he.seal_backend import SealBackend


def unit_times(params: HEParams, repeats: int = 20) -> dict[str, float]:
    """Median seconds of each SEAL operation kind, measured alone on fresh operands."""
    be = SealBackend(params)
    be.prepare({1})
    be.prepare_galois({params.poly_degree + 1}, {1})
    be.prepare_relin()
    rng = np.random.default_rng(0)
    vec = rng.integers(0, be.plain_modulus, params.slots, dtype=np.uint64)
    ct, ct2 = be.encrypt(vec), be.encrypt(vec)
    cc = be.encrypt_coeffs(vec[:16])
    ops = {
        "encrypt": lambda: be.encrypt(vec),
        "decrypt": lambda: be.decrypt(ct),
        "add": lambda: be.add(ct, ct2),
        "sub": lambda: be.sub(ct, ct2),
        "add_plain": lambda: be.add_plain(ct, vec),
        "multiply_plain": lambda: be.multiply_plain(ct, vec),
        "rotate": lambda: be.rotate(ct, 1),
        "galois": lambda: be.apply_galois(cc, params.poly_degree + 1),
        "multiply_monomial": lambda: be.multiply_monomial(cc, -1),
        "multiply": lambda: be.multiply(ct, ct2),
        "relinearize": lambda: be.relinearize(product),
        "conceal": lambda: be.conceal(be.add_plain(ct, vec), rng),     # re-randomise, switch down, flood
    }
    product = be.multiply(ct, ct2)
    out = {}
    for name, fn in ops.items():
        times = []
        for _ in range(repeats):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        out[name] = float(np.median(times))
    return out


class _Timed:
    """A SEAL object whose method calls add their seconds to ``clock[0]`` (attributes pass through)."""

    def __init__(self, obj, clock: list[float]):
        self._obj, self._clock = obj, clock

    def __getattr__(self, name):
        attr = getattr(self._obj, name)
        if not callable(attr):
            return attr

        def call(*args, **kwargs):
            start = time.perf_counter()
            try:
                return attr(*args, **kwargs)
            finally:
                self._clock[0] += time.perf_counter() - start
        return call


def timed(be: SealBackend) -> list[float]:
    """Time every SEAL call ``be`` makes from now on: -> the clock (seconds in ``clock[0]``)."""
    clock = [0.0]
    for name in ("evaluator", "encoder", "encryptor", "decryptor"):
        setattr(be, name, _Timed(getattr(be, name), clock))
    return clock


def _kind(op: str) -> str:
    if op.startswith("rotate"):
        return "rotate"
    if op.startswith("galois"):
        return "galois"
    return op


def run(experts=8, capacity=8, d_in=64, d_out=64, poly_degree=8192, seed=0) -> pd.DataFrame:
    params = HEParams(poly_degree)
    units = unit_times(params)
    rng = np.random.default_rng(seed)
    A = rng.integers(0, 1000, (experts, capacity, d_in))
    B = rng.integers(0, 1000, (experts, d_in, d_out))
    rows = []
    for name, fn in [("bolt", lambda be, c: he_matmul(be, A, B, "bolt", False, seed, c)),
                     ("bolt+bsgs", lambda be, c: he_matmul(be, A, B, "bolt", True, seed, c)),
                     ("batch", lambda be, c: he_matmul(be, A, B, "batch", False, seed, c)),
                     ("batch+bsgs", lambda be, c: he_matmul(be, A, B, "batch", True, seed, c)),
                     ("nexus", lambda be, c: nexus_matmul(be, A, B, 256, seed))]:
        cache: dict = {}
        fn(SealBackend(params, seed), cache)          # the server's weights encoded once (offline)
        be = SealBackend(params, seed)
        clock = timed(be)
        start = time.perf_counter()
        r = fn(be, cache if cache else None)
        wall = time.perf_counter() - start - be.keygen_seconds
        ops = Counter(_kind(o) for o in r.counts["ops"])
        raw = sum(units[k] * v for k, v in ops.items())
        rows.append({"protocol": name, "rotations": r.counts["rotations"], "key_switches": r.counts["key_switches"],
                     "pt_mults": r.counts["pt_mults"], "ciphertexts": r.counts["ciphertexts"],
                     "noise_budget": r.noise_budget, "keygen_s": be.keygen_seconds,
                     "weights_encoded": bool(cache), "wall_s": wall,
                     "seal_s": clock[0], "overhead": wall / clock[0], "raw_seal_s": raw,
                     "overhead_units": wall / raw})
    df = pd.DataFrame(rows)
    base = df.set_index("protocol").loc["bolt"]
    df["rotations_vs_bolt"] = df.rotations / base.rotations
    df["time_vs_bolt"] = df.wall_s / base.wall_s
    return df


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m analysis.bench_he", description=__doc__.splitlines()[0])
    ap.add_argument("--experts", type=int, default=8)
    ap.add_argument("--capacity", type=int, default=8)
    ap.add_argument("--d-in", type=int, default=64)
    ap.add_argument("--d-out", type=int, default=64)
    ap.add_argument("--poly-degree", type=int, default=8192)
    a = ap.parse_args(argv)
    df = run(a.experts, a.capacity, a.d_in, a.d_out, a.poly_degree)
    pd.set_option("display.width", 200)
    print(df.to_string(index=False, float_format=lambda v: f"{v:.3f}"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
