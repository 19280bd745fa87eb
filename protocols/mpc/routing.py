"""Shared building blocks of the MoE dispatch protocols (CryptoMoE and CipherPrune use the same ones).

``priorities``: steps 1-2 of CryptoMoE's Algorithm 1 -- ``M[e, c] = [K_flat[c] == e]`` (E k m equalities
against public expert numbers) and ``S = M * W_flat`` (one multiplication; M is an integer bit, so no
truncation). ``token_onehot``: the one-hot over the m tokens of shared token indices (t m equalities per
expert).
"""
from __future__ import annotations

import torch

from protocols.crypten_shim import MPCTensor
from protocols.runtime import step

from .primitives import equal


def priorities(K: MPCTensor, W: MPCTensor, experts: int) -> MPCTensor:
    """K (m, k) shared ints, W (m, k) shared scores -> S (E, k m) shared: ``1{K = e} * W``.

    Steps ``equal`` (E k m equalities: 7 rounds) and ``mux`` (one multiplication of E k m by k m)."""
    k_flat, w_flat = K.reshape(-1), W.reshape(1, -1)
    with step("equal"):
        M = equal(k_flat.unsqueeze(0).expand(experts, k_flat.shape[0]),
                  torch.arange(experts, dtype=torch.long).unsqueeze(1))
    with step("mux"):
        return M * w_flat


def token_onehot(T: MPCTensor, tokens: int) -> MPCTensor:
    """T (..., t) shared token indices -> (..., t, m) shared one-hot (step ``onehot``: one equality each)."""
    with step("onehot"):
        return equal(T.unsqueeze(-1).expand(*T.shape, tokens), torch.arange(tokens, dtype=torch.long))
