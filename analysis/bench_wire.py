"""Benchmark (not a test): HE on the wire, measured.

    python -m analysis.bench_wire [--out analysis/data/wire.csv] [--no-hosts]

For each HE entry at two sizes (SEAL, thread runtime, seed 0): the serialized bytes each way and the key
bytes the Meter recorded beside the entry's model (``model == Meter``), and -- unless ``--no-hosts`` -- the
same run as two processes through ``privmoe run`` over loopback: the bytes the loopback interface carried
(``/proc/net/dev``, both directions, TCP/IP and gloo framing included) beside the Meter's online and key
bytes; and what the answers' noise flooding costs (answers, width b, the answer prime it keeps, the noise
budget the client measured after it). The dealer's offline bytes are shown apart: the dealer runs beside the server, so only the
client's part (a seed) crosses the network; frame headers and the set-up seeds are not payload, which is
why tiny runs show a ratio well above 1.
``zstd_table`` measures SEAL's zstd mode against the default uncompressed blobs, per kind of blob.
"""
from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from analysis import harness, registry
from analysis.strategies import draw_example_inputs

OUT = Path(__file__).parent / "data" / "wire.csv"
#: (entry, public parameters): a small size and a larger one, at N = 8192 (the smallest ring whose answers
#: can be noise-flooded), SecMoE's encrypted compute at N = 16384 (``protocols/mpc/secmoe_moe.he_params``)
CASES = [
    ("bolt.matmul", {}), ("bolt.matmul", {"experts": 4, "capacity": 8, "d_in": 64, "d_out": 64,
                                          "poly_degree": 8192, "bsgs": True}),
    ("cryptomoe.matmul", {}), ("cryptomoe.matmul", {"experts": 4, "capacity": 8, "d_in": 64, "d_out": 64,
                                                    "poly_degree": 8192, "bsgs": True}),
    ("nexus.matmul", {"pack": 4}), ("nexus.matmul", {"experts": 2, "capacity": 4, "d_in": 16, "d_out": 16,
                                                     "pack": 32}),
    ("he.lift", {}), ("he.lift", {"n": 256}),
    ("secmoe.moe", {}), ("secmoe.moe", {"tokens": 8, "experts": 8}),
    ("reshared.moe", {}), ("reshared.moe", {"tokens": 8, "experts": 8}),
    ("cryptomoe.moe", {"linear": "he", "tokens": 4, "experts": 2}), ("cryptomoe.moe", {"linear": "he", "bsgs": True}),
    ("dense.moe", {"linear": "he", "tokens": 4, "experts": 2}), ("cipherprune.moe", {"linear": "he", "tokens": 4}),
]


def _hosts(name: str, sets: dict, seed: int = 0, timeout: float = 300.0) -> dict:
    """``privmoe run`` client and server as two processes on loopback; the client's JSON result."""
    from protocols.runtime.launch import free_port

    port = free_port()
    cmd = [sys.executable, "-m", "analysis.cli", "run", "--peer", f"127.0.0.1:{port}", name, "--seed", str(seed),
           "--timeout", str(timeout), "--json"] + (["--set", *[f"{k}={v}" for k, v in sets.items()]] if sets else [])
    server = subprocess.Popen(cmd + ["--party", "server"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    client = subprocess.Popen(cmd + ["--party", "client"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    (out, err), _ = client.communicate(timeout=timeout + 120), server.communicate(timeout=timeout + 120)
    if client.returncode != 0:
        raise RuntimeError(f"privmoe run {name}: {err.strip().splitlines()[-1] if err.strip() else 'failed'}")
    return json.loads(out)


def _flooding_cost(name: str, params: dict, run) -> dict:
    """What circuit privacy costs this run (``protocols/he/flooding.py``): its answers, the flooding width b,
    the bytes the answers carry for it (the second answer prime: unflooded, one prime would decrypt), and
    the smallest noise budget the client measured on an answer (flooded)."""
    from protocols.he import flooding
    from protocols.he.interface import HEParams
    from protocols.he.wire import seal_wire_sizes

    from protocols.mpc.secmoe_moe import he_params as secmoe_params

    n = params.get("poly_degree") or params.get("he_poly_degree")
    if not n or not run.counts:
        return {}
    hybrid = name == "secmoe.moe" or params.get("linear") == "he"
    he = secmoe_params(n) if hybrid else HEParams(n)
    answers = run.counts["ops"].count("decrypt")
    one_prime = seal_wire_sizes(HEParams(n, he.plain_bits, he.coeff_bits, response_primes=1)).answer
    return {"answers": answers, "flood b": flooding.plan(he, pre_bits=_pre_bits(name, params, he)).bits,
            "flooding bytes": answers * (seal_wire_sizes(he).answer - one_prime),
            "budget left (bits)": run.noise_budget}


def _pre_bits(name: str, params: dict, he) -> float | None:
    """The worst-case answer noise the protocol floods for (its ``pre_bits``; None: the plaintext-circuit
    default): SecMoE's ciphertext x ciphertext products, the hybrid layers' own layouts (the widest b)."""
    if name == "secmoe.moe":
        from protocols.he import encrypted_linear as EL
        from protocols.mpc.secmoe_moe import layout

        _, chunks, levels = layout(params["experts"], params["hidden"] * params["ffn"], he.slots)
        sel = EL.selection_noise_bits(he, levels, chunks)
        return max(EL.noise_bits(he, params["hidden"], sel), EL.noise_bits(he, params["ffn"], sel))
    if params.get("linear") == "he":
        from protocols.he.hybrid_linear import pre_bits
        from protocols.mpc.expert import he_layouts

        rows = params["tokens"] if name == "dense.moe" else params["capacity"]
        up, down = he_layouts(params["experts"], rows, params["hidden"], params["ffn"], he.slots,
                              "bolt" if name != "cryptomoe.moe" else "batch", name == "dense.moe")
        return max(pre_bits(he, up), pre_bits(he, down))
    return None


def wire_table(hosts: bool = True, seed: int = 0) -> pd.DataFrame:
    rows = []
    for name, sets in CASES:
        entry = registry.get(name)
        params = entry.resolve(sets)
        backend = "seal" if entry.kind == "he" else "crypten"
        run = harness.run_real(entry, params, draw_example_inputs(entry, params, seed), seed=seed, timeout=300,
                               backend="seal" if entry.kind == "he" else None)
        got = harness.measured(run)
        model = entry.cost(backend, params).to_dict()
        row = {"entry": name, "params": " ".join(f"{k}={v}" for k, v in sets.items()) or "defaults",
               "ciphertexts": got.get("ciphertexts", 0),
               "bytes c->s": got["bytes_client_to_server"], "model c->s": model["bytes_client_to_server"],
               "bytes s->c": got["bytes_server_to_client"], "model s->c": model["bytes_server_to_client"],
               "key bytes": got["key_bytes"], "model key bytes": model["key_bytes"],
               "model == Meter": not harness.cost_mismatches(entry, params, run, backend)}
        row.update(_flooding_cost(name, params, run))
        if hosts:
            res = _hosts(name, sets, seed)
            total = next(r for r in res["steps"] if r["step"] == "total")
            meter_all = total["bytes"] + total["key_bytes"]
            row.update({"Meter online + keys": meter_all, "offline (dealer)": total["offline_bytes"],
                        "loopback bytes": res.get("interface_bytes", -1)})
            if row["loopback bytes"] > 0:
                row["loopback / Meter"] = round(row["loopback bytes"] / meter_all, 3)
        rows.append(row)
    df = pd.DataFrame(rows)
    for col in ("answers", "flood b", "flooding bytes", "budget left (bits)"):
        if col in df:
            df[col] = df[col].astype("Int64")
    return df


def zstd_table(seed: int = 0) -> pd.DataFrame:
    """Per kind of blob at N = 4096 and 8192: SEAL's zstd size over the uncompressed size (measured)."""
    from protocols.he.interface import HEParams
    from protocols.he.seal_backend import SealBackend

    rows = []
    for n in (4096, 8192):
        sizes = {}
        for mode in ("none", "zstd"):
            be = SealBackend(HEParams(n), seed, compression=mode)
            be.prepare({1, 2})
            be.prepare_relin()
            rng = np.random.default_rng(seed)
            values = rng.integers(0, be.plain_modulus, be.params.slots, dtype=np.uint64)
            query = be.encrypt_bytes(values)
            answer = be.to_bytes(be.switch_down(be.add_plain(be.from_bytes(query), values)))
            material = be.public_material()
            sizes[mode] = {"query": len(query), "answer": len(answer), **{k: len(v) for k, v in material.items()}}
        for kind in sizes["none"]:
            rows.append({"N": n, "blob": kind, "none": sizes["none"][kind], "zstd": sizes["zstd"][kind],
                         "zstd / none": round(sizes["zstd"][kind] / sizes["none"][kind], 3)})
    return pd.DataFrame(rows)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--no-hosts", action="store_true", help="skip the two-process privmoe run measurements")
    args = ap.parse_args(argv)
    table = wire_table(hosts=not args.no_hosts)
    table.to_csv(args.out, index=False)
    print(table.to_markdown(index=False))
    print()
    print(zstd_table().to_markdown(index=False))
    print()
    print(flooding_table().to_markdown(index=False))
    print(flooding_plan_table().to_markdown(index=False))
    return 0 if table["model == Meter"].all() else 1



def wire_csv_table(path: str | None = None) -> pd.DataFrame:
    """The last ``python -m analysis.bench_wire`` table (``analysis/data/wire.csv``), for docs/accounting.md."""
    df = pd.read_csv(path or OUT)
    keep = ["entry", "params", "ciphertexts", "bytes c->s", "bytes s->c", "key bytes", "model == Meter",
            "flood b", "flooding bytes", "budget left (bits)", "Meter online + keys", "loopback bytes",
            "loopback / Meter"]
    return df[[c for c in keep if c in df.columns]].set_index("entry")


def flooding_table(seed: int = 0) -> pd.DataFrame:
    """What an answer's decryption noise tells the client, measured through its secret key
    (``SealBackend.answer_noise``), for the server's weights all zero vs uniform: one plaintext product of
    a fresh query, masked and concealed as the matmuls answer -- unflooded (``protocols/he/leaks.unflooded``:
    switched down only, the protocol before circuit privacy) at N = 4096 and 8192, and flooded at N = 8192.
    Columns: SEAL's noise budget, log2 of the largest |noise| coefficient, and the KS p-value of the zero-
    weight noise against the uniform-weight noise (small: the noise tells the weights apart)."""
    from scipy import stats

    from protocols.he.interface import HEParams
    from protocols.he.leaks import unflooded
    from protocols.he.seal_backend import SealBackend

    rows = []
    for n, cls, label in ((4096, unflooded(SealBackend), "switched down only"),
                          (8192, unflooded(SealBackend), "switched down only"),
                          (8192, SealBackend, "re-randomised, switched down, flooded")):
        be = cls(HEParams(n), seed)
        rng = np.random.default_rng(seed)
        slots, t = be.params.slots, be.plain_modulus
        query = rng.integers(0, t, slots, dtype=np.uint64)
        samples = {}
        for weights_label, weights in (("zero", np.zeros(slots, dtype=np.uint64)),
                                       ("uniform", rng.integers(0, t, slots, dtype=np.uint64))):
            mask = rng.integers(0, t, slots, dtype=np.uint64)
            answer = be.conceal(be.add_plain(be.multiply_plain(be.encrypt(query), weights), mask), rng)
            noise = be.answer_noise(answer)
            samples[weights_label] = [float(v) for v in noise]
            rows.append({"N": n, "answer": label, "weights": weights_label,
                         "noise budget (bits)": be.noise_budget(answer),
                         "log2 max |noise|": round(math.log2(max(abs(v) for v in noise)), 1)})
        p = stats.ks_2samp(samples["zero"], samples["uniform"]).pvalue
        rows[-1]["zero vs uniform: KS p"] = rows[-2]["zero vs uniform: KS p"] = f"{p:.2g}"
    return pd.DataFrame(rows)


def flooding_plan_table() -> pd.DataFrame:
    """Where flooding fits (``protocols/he/flooding.plan``, lambda = 40; all from public parameters): the
    worst-case answer noise after switching down, the flooding width b, the decryption capacity
    log2(q'/2t), the bits left unflooded and flooded, and one answer's serialized bytes."""
    from protocols.he import flooding
    from protocols.he.interface import HEParams
    from protocols.he.wire import seal_wire_sizes

    rows = []
    for params in (HEParams(4096), HEParams(8192, response_primes=1), HEParams(8192), HEParams(16384)):
        p = flooding.plan(params)
        keep = params.response_primes or params.data_primes
        rows.append({"N": params.poly_degree, "coefficient bits": " ".join(map(str, params.coeff_bits)),
                     "answer primes": keep, "worst noise (log2)": round(p.bound, 1), "b": p.bits,
                     "capacity (log2)": round(p.capacity, 1), "left unflooded": round(p.unflooded_left, 1),
                     "left flooded": round(p.left, 1), "flooding fits": "yes" if p.fits else "no",
                     "answer bytes": seal_wire_sizes(params).answer})
    return pd.DataFrame(rows)


if __name__ == "__main__":
    sys.exit(main())
