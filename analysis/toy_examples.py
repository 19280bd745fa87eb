"""The papers' toy examples, run for real when the docs are built (``<!-- privmoe:table ... -->``).

``matmul_toy``: CryptoMoE's (Xu et al., NeurIPS 2025, §5) batch-matmul example -- E = 2 experts, t = 2
rows each, d_in = d_out = 4, 8 slots (N = 16 on the slot simulator) -- through every packing, as two
parties with everything on the wire: the operations each one performed, the ciphertexts and serialized
bytes its Meter recorded, whether the shares sum to A_e B_e, and whether the entry's cost model
(``analysis/cost_models/he.py``) gives the same counts and bytes. The paper's point: BOLT needs 6 rotations, the batch packing 2.
(CryptoMoE's Fig. 4 routing toy is on the dispatch page: ``privmoe explain cryptomoe.dispatch --input``.)
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from protocols.he.interface import HEParams
from simulators.he import SimBackend

#: the toy's inputs (the docs page prints them): A_0 = [[1, 2, 3, 4], [5, 6, 7, 8]], B_e = arange % 5
TOY_A = np.arange(1, 17).reshape(2, 2, 4)
TOY_B = np.arange(1, 33).reshape(2, 4, 4) % 5


def matmul_toy(poly_degree: int = 16, seed: int = 0) -> pd.DataFrame:
    """One row per packing (bolt, bolt + BSGS, batch, batch + BSGS), each a real two-party run on the slot
    simulator with every key and ciphertext serialized on the wire: measured counts, rotation steps, bytes
    each way and key bytes, ``correct`` (shares sum to A_e B_e mod t) and ``model == run`` (every count and
    byte against the entry's cost model)."""
    import torch

    from analysis import harness, registry

    rows = []
    for name, packing, bsgs in (("bolt.matmul", "bolt", False), ("bolt.matmul", "bolt", True),
                                ("cryptomoe.matmul", "batch", False), ("cryptomoe.matmul", "batch", True)):
        entry = registry.get(name)
        params = entry.resolve({"experts": 2, "capacity": 2, "d_in": 4, "d_out": 4, "poly_degree": poly_degree,
                                "bsgs": bsgs})
        run = harness.run_real(entry, params, {"A": torch.tensor(TOY_A), "B": torch.tensor(TOY_B)}, seed=seed,
                               backend="sim")
        t = SimBackend(HEParams(poly_degree)).plain_modulus
        want = np.einsum("eti,eio->eto", TOY_A, TOY_B) % t
        rotations = Counter(op for op in run.counts["ops"] if op.startswith("rotate"))
        got = harness.measured(run)
        rows.append({"packing": packing + (" + BSGS" if bsgs else ""),
                     "rotations": got["rotations"],
                     "rotation ops": ", ".join(f"{k} ×{v}" for k, v in sorted(rotations.items())) or "none",
                     "pt_mults": got["pt_mults"], "ct_adds": got["ct_adds"], "ciphertexts": got["ciphertexts"],
                     "rounds": got["rounds"], "bytes c→s": got["bytes_client_to_server"],
                     "bytes s→c": got["bytes_server_to_client"], "key bytes": got["key_bytes"],
                     "correct": bool(np.array_equal(run.outputs.numpy(), want)),
                     "model == run": not harness.cost_mismatches(entry, params, run, "sim")})
    return pd.DataFrame(rows)
