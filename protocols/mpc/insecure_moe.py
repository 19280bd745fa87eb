"""Pi_moe, INSECURE baseline: the negative control (spec: ``moe_layer``, semantics ``exact``).

The routing is opened to both parties (step ``open_routing``: K and W revealed), so each expert runs on
exactly the tokens routed to it; only the expert compute stays on shares. Its output is right -- it passes
the equivalence check -- but the number of rows each expert processes, hence the message sizes, reveal
the per-expert counts (which alone reveal the topic of the input). The obliviousness check must catch it.
"""
from __future__ import annotations

import torch

from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .expert import expert_ffn
from .gate import gate
from .moe_common import check_layer
from .sharing import from_ring, ring


def moe(x: MPCTensor, w_g: MPCTensor, U: MPCTensor, V: MPCTensor, D: MPCTensor, top_k: int):
    """-> y (m, d), K (m, k), W (m, k) shared (y right; transcript leaks the routing)."""
    check_layer(x, w_g, U, top_k, None, "exact")
    tokens, hidden = x.shape
    with step("gate"):
        K, W = gate(x, w_g, top_k)
    with step("open_routing"):
        k_open = K.get_plain_text().long()
        w_open = W.get_plain_text()
    y = torch.zeros(tokens, hidden, dtype=torch.long)
    with step("experts"):
        for e in range(U.shape[0]):
            rows, slots = torch.nonzero(k_open == e, as_tuple=True)
            if rows.numel() == 0:
                continue
            out = expert_ffn(from_ring(ring(x)[rows], precision=16), U[e], V[e], D[e])   # (n_e, d)
            weighted = out * w_open[rows, slots].unsqueeze(-1)                            # public scale
            y.index_add_(0, rows, ring(weighted))
    return from_ring(y, precision=16), K, W
