"""Leaks on purpose: what the negative controls plant into secure protocols (never used by a protocol).

Each function below is a bug a protocol author could write, or a cheat a cryptographer would try; each
keeps the protocol's output correct, so equivalence tests pass, and most LIE about what protects the
value they leak (``LIE``: "a fresh 64-bit mask"), so a check that trusts the claims passes too. The
controls in ``analysis/entries/negative_controls.py`` plant them on a protocol's named intermediates
(``protocols/runtime/faults.py``) and show which check catches each (docs/security.md).

=============================  =============================================================================
``send_share``                 one party sends its share of x to the other, who adds its own: x in the clear
``gather_shares``              the same through ``all_gather``, both ways
``round_channel``              one exchange whose ORDER (hence rounds) depends on a secret bit; values clean
``sometimes_open``             opens x in the clear in one run of ``every`` (decided by the run seed)
``open_weakly_masked``         opens x + r with r < 2^bits drawn by each party, claimed as a 64-bit mask
``open_claimed``               opens x (e.g. one routing bit) under a claimed mask nobody drew
=============================  =============================================================================
"""
from __future__ import annotations

import torch

from protocols.crypten_shim import MPCTensor, current_party, generate_random_ring_element
from protocols.runtime.dealer import derive_seed
from protocols.runtime.ledger import Protection

from .sharing import from_ring, ring, scale_of

#: the lie: "this value is hidden by a fresh uniform 64-bit mask" (source "other": nothing to verify)
LIE = Protection("mask", "other")


def send_share(x: MPCTensor, sender: int = 0, claim: Protection = LIE) -> None:
    """Party ``sender`` sends its share of ``x`` to the other party, claiming ``claim``; the receiver
    holds the rest of the mask (its own share): share + own share = x."""
    party = current_party()
    comm = party.communicator
    if party.rank == sender:
        with party.meter.protect(claim):
            comm.send_tensor(ring(x).reshape(-1))
    else:
        comm.recv_tensor(ring(x).shape)


def gather_shares(x: MPCTensor, claim: Protection = LIE) -> None:
    """Both parties ``all_gather`` their shares of ``x`` under ``claim``: each then holds x."""
    party = current_party()
    with party.meter.protect(claim):
        party.communicator.all_gather(ring(x).reshape(-1))


def round_channel(bit: bool | None) -> None:
    """One exchange of a fresh uniform element each way (values leak nothing). The server knows ``bit``
    (the client passes None): if it is set, the server waits for the client's element before sending
    its own -- one more round in the client's view, same messages, same sizes."""
    party = current_party()
    comm, meter = party.communicator, party.meter
    mine = generate_random_ring_element((1,), generator=party.local_generator("round channel"))
    claim = Protection("mask", "other", owner=party.name)
    if party.rank == 1 and bit:
        comm.recv_tensor((1,))
        with meter.protect(claim):
            comm.send_tensor(mine)
        return
    with meter.protect(claim):
        comm.send_tensor(mine)
    comm.recv_tensor((1,))


def fires(every: int) -> bool:
    """Does the occasional leak fire in this run? (Both parties agree: it depends on the run seed.)"""
    return derive_seed(current_party().seed, "occasional leak") % every == 0


def sometimes_open(x: MPCTensor, every: int = 8) -> None:
    """Open ``x`` in the clear (no mask at all) in the runs where :func:`fires`."""
    if fires(every):
        x.get_plain_text()


def open_weakly_masked(x: MPCTensor, bits: int = 20, claim: Protection = LIE) -> None:
    """Each party adds r < 2^(bits - 1) of its own to its share of ``x`` and the sum is opened, claimed
    as ``claim``: x + r0 + r1 with r0 + r1 < 2^bits -- the high bits of x in the clear."""
    party = current_party()
    share = ring(x)
    r = torch.randint(0, 2 ** (bits - 1), tuple(share.shape), generator=party.local_generator("weak mask"))
    party.meter.expect(claim, share.numel())
    from_ring(share + r, precision=0).get_plain_text()


def open_claimed(x: MPCTensor, claim: Protection = LIE) -> None:
    """Open ``x`` with ``claim`` registered as its mask (no mask was drawn): x in the clear."""
    party = current_party()
    party.meter.expect(claim, ring(x).numel())
    from_ring(ring(x), precision=scale_of(x).bit_length() - 1).get_plain_text()
