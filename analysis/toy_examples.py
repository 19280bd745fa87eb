"""The papers' toy examples, run for real when the docs are built (``<!-- privmoe:table ... -->``).

``matmul_toy``: CryptoMoE's (Xu et al., NeurIPS 2025, §5) batch-matmul example -- E = 2 experts, t = 2
rows each, d_in = d_out = 4, 8 slots (N = 16 on the slot simulator) -- through every packing of
``protocols/he/matmul.py``: the operations each one performed, the ciphertexts and bytes its Meter
recorded, whether the shares sum to A_e B_e, and whether the closed form (``analysis/cost_models/he.py``)
gives the same counts. The paper's point: BOLT needs 6 rotations, the batch packing 2.
(CryptoMoE's Fig. 4 routing toy is on the dispatch page: ``privmoe explain cryptomoe.dispatch --input``.)
"""
from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from analysis.cost_models import he as H
from protocols.he.interface import HEParams
from protocols.he.matmul import he_matmul
from simulators.he import SimBackend

#: the toy's inputs (the docs page prints them): A_0 = [[1, 2, 3, 4], [5, 6, 7, 8]], B_e = arange % 5
TOY_A = np.arange(1, 17).reshape(2, 2, 4)
TOY_B = np.arange(1, 33).reshape(2, 4, 4) % 5


def matmul_toy(poly_degree: int = 16, seed: int = 0) -> pd.DataFrame:
    """One row per packing (bolt, bolt + BSGS, batch, batch + BSGS): measured counts, rotation steps, bytes
    each way, ``correct`` (shares sum to A_e B_e mod t) and ``model == run`` (every count and byte)."""
    rows = []
    for packing, bsgs in (("bolt", False), ("bolt", True), ("batch", False), ("batch", True)):
        be = SimBackend(HEParams(poly_degree), seed)
        run = he_matmul(be, TOY_A, TOY_B, packing, bsgs, seed)
        t = np.uint64(be.plain_modulus)
        want = np.einsum("eti,eio->eto", TOY_A, TOY_B) % int(t)
        got = (run.client_share + run.server_share) % t
        rotations = Counter(op for op in run.counts["ops"] if op.startswith("rotate"))
        model = H.matmul(2, 2, 4, 4, poly_degree, bsgs, packing)
        totals = run.meter.totals()
        measured = {"rotations": run.counts["rotations"], "pt_mults": run.counts["pt_mults"],
                    "ct_adds": run.counts["ct_adds"], "rounds": totals["rounds"],
                    "bytes_client_to_server": totals["bytes_client_to_server"],
                    "bytes_server_to_client": totals["bytes_server_to_client"]}
        rows.append({"packing": packing + (" + BSGS" if bsgs else ""),
                     "rotations": measured["rotations"],
                     "rotation ops": ", ".join(f"{k} ×{v}" for k, v in sorted(rotations.items())) or "none",
                     "pt_mults": measured["pt_mults"], "ct_adds": measured["ct_adds"],
                     "ciphertexts in + out": f"{run.counts['ciphertexts_in']} + {run.counts['ciphertexts_out']}",
                     "rounds": measured["rounds"], "bytes c→s": measured["bytes_client_to_server"],
                     "bytes s→c": measured["bytes_server_to_client"],
                     "correct": bool(np.array_equal(got.astype(np.int64), want)),
                     "model == run": all(getattr(model, k) == v for k, v in measured.items())})
    return pd.DataFrame(rows)
