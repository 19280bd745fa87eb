"""Shares -> HE (``protocols/he/encrypt_shares.py``): Z_2^64 shares of bounded values become ciphertexts
of them mod t at the server, on SEAL and on the simulator, at the bound's edges; the message the client
receives is masked (it moves with the server's randomness); the shape of the exchange."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from protocols.he import channel
from protocols.he import encrypted_linear as EL
from protocols.he.encrypt_shares import MAX_BITS, encrypt_shares
from protocols.he.interface import HEParams
from protocols.he.seal_backend import SealBackend
from protocols.mpc.sharing import share_input
from protocols.runtime import run_two_party
from protocols.runtime.ledger import he_answer_mask
from simulators.he import SimBackend

PARAMS = HEParams(8192)
COLS = 3


def _party(cls):
    def fn(party, own):
        n = 6
        x = share_input(own.get("x"), 0, (n,), integer=True)
        end = channel.open(cls, PARAMS)
        layout = lambda v: [EL.replicate(v, COLS, PARAMS.slots)]          # noqa: E731
        cts = encrypt_shares(x, end, layout)
        if party.rank == 1:                      # echo for the test: the server sends the ciphertexts back
            channel.send(end, [end.backend.to_bytes(c) for c in cts], he_answer_mask(end.backend.plain_modulus))
            return None
        blobs, _ = channel.receive(end, 1)
        return end.backend.decrypt(end.backend.from_bytes(blobs[0]))
    return fn


@pytest.mark.parametrize("cls", [SealBackend, SimBackend], ids=["seal", "sim"])
def test_shares_become_a_ciphertext_of_the_value_mod_t(cls):
    edge = (1 << MAX_BITS) - 1
    x = torch.tensor([0, 1, -1, edge, -edge, 12345], dtype=torch.long)
    for seed in range(3):
        run = run_two_party(_party(cls), ({"x": x}, {}), seed=seed, timeout=120)
        got = run.outputs[0]
        t = cls(PARAMS).plain_modulus
        want = EL.replicate(np.array([int(v) % t for v in x.tolist()], dtype=np.uint64), COLS, PARAMS.slots)
        assert np.array_equal(got, want), seed
        totals = run.meter.totals("encrypt_shares/to_client")
        assert totals["bytes_server_to_client"] == 6 * 8 and totals["bytes_client_to_server"] == 0
        enc = run.meter.totals("encrypt_shares/encrypt")
        assert enc["bytes_client_to_server"] == cls.wire_sizes(PARAMS).query


def test_the_clients_message_moves_with_the_servers_randomness():
    x = torch.tensor([5, -5, 0, 7, 8, 9], dtype=torch.long)
    seen = []
    for server_seed in (1, 2):
        run = run_two_party(_party(SimBackend), ({"x": x}, {}), seed=0, record_views=True,
                            private_seeds=(10, server_seed))
        item = next(it for it in run.meter.views["client"] if it.step.endswith("to_client"))
        assert item.protect.source == "statistical mask" and item.protect.owner == "server"
        seen.append(item.values.numpy().view(np.uint64).copy())
    delta = (seen[0] - seen[1]).view(np.int64).astype(np.float64)
    assert np.all(np.abs(delta) > 2.0 ** 40)


def test_bits_beyond_the_statistical_bound_are_refused():
    def fn(party, own):
        x = share_input(own.get("x"), 0, (1,), integer=True)
        end = channel.open(SimBackend, PARAMS)
        return encrypt_shares(x, end, lambda v: [EL.replicate(v, 1, PARAMS.slots)], bits=MAX_BITS + 1)
    with pytest.raises(ValueError, match="statistical mask"):
        run_two_party(fn, ({"x": torch.tensor([1])}, {}), timeout=30)
