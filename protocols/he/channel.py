"""Ciphertexts between the two parties of a hybrid (MPC + HE) protocol.

The client owns the HE keys; ciphertext objects are handed to the server through a per-run side queue
(thread mode: both parties share the run's ``party.shared``), while the Meter records a real frame of
the ciphertexts' formula size over the party-to-party communicator -- so bytes and rounds are counted
exactly like every other message. Process mode (two hosts) would need ciphertext serialisation: a hybrid
protocol refuses it with a clear error.
"""
from __future__ import annotations

import queue

import torch

from protocols.crypten_shim import current_party


class HEChannel:
    """One per run: the client's backend (keys) and the ciphertexts in flight."""

    def __init__(self, backend) -> None:
        self.backend = backend
        self.to_server: queue.Queue = queue.Queue()
        self.to_client: queue.Queue = queue.Queue()
        #: ciphertexts handed over, both directions (a hybrid run's measured ``ciphertexts``)
        self.sent = 0


def channel(make_backend) -> HEChannel:
    """The run's channel (created once, by whichever party asks first)."""
    party = current_party()
    if party.mode != "threads":
        raise NotImplementedError("hybrid HE protocols run in thread mode (ciphertexts travel by reference)")
    with party.shared["lock"]:
        if "he" not in party.shared:
            party.shared["he"] = HEChannel(make_backend())
        return party.shared["he"]


def send(ch: HEChannel, cts: list, nbytes_each: int, protect=None) -> None:
    """This party sends ciphertexts: one frame of their total formula size (8-byte words) is metered.
    ``protect`` is what hides their content from the receiver (``protocols/runtime/ledger.py``): the
    client's key for the client's inputs; the evaluating party's masks for answers the client decrypts."""
    party = current_party()
    (ch.to_server if party.rank == 0 else ch.to_client).put(cts)
    with party.shared["lock"]:
        ch.sent += len(cts)
    words = -(-nbytes_each * len(cts) // 8)
    party.communicator.send_tensor(torch.zeros(words, dtype=torch.int64), protect=protect)


def receive(ch: HEChannel) -> tuple[list, object]:
    """The ciphertexts the other party sent, and the protection it claimed for their content (the frame
    enters the receiver's view as ``ciphertext``)."""
    from protocols.runtime.ledger import Protection

    party = current_party()
    _, header = party.communicator.recv_tensor(kind="ciphertext", keep_header=True)
    cts = (ch.to_client if party.rank == 0 else ch.to_server).get(timeout=60)
    return cts, Protection.from_header(header[4:9])
