"""One party of a run: its rank, communicator, meter, generators and dealer client; and the set-up."""
from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from typing import Iterator

import numpy as np
import torch

from protocols.crypten_shim import current_party

from .communicator import PARTY_NAMES, MeteredCommunicator
from .dealer import Dealer, DealerProvider, derive_seed
from .ledger import Protection
from .meter import OFFLINE, SETUP, PartyMeter
from .transport import Transport

CLIENT, SERVER = 0, 1
#: ``honest``; the negative controls ``leaky`` (the client also gets the server's triple halves) and
#: ``reuse-rows`` (one row of each triple's first mask repeated along dim 0)
DEALER_MODES = ("honest", "leaky", "reuse-rows")


@dataclass
class Party:
    """What a protocol sees of itself while it runs (``protocols.crypten_shim.current_party()``)."""

    rank: int
    seed: int
    communicator: MeteredCommunicator
    meter: PartyMeter
    provider: DealerProvider
    generators: dict = field(default_factory=dict)
    #: per-run objects shared by the two parties IN THREAD MODE (e.g. an HE channel); {} in process mode
    shared: dict = field(default_factory=dict)
    mode: str = "threads"
    #: the seed of this party's PRIVATE randomness (its dealer stream, its local draws); by default
    #: derived from the run seed. The ledger's check redraws one party's while the other's stays fixed.
    private_override: int | None = None
    #: this party's end of the run's HE link (``protocols/he/channel.open``); None: no HE in the run
    he: object = None
    #: taps and generators a negative control planted (``protocols/runtime/faults.py``); empty otherwise
    planted: dict = field(default_factory=lambda: {"taps": {}, "generators": {}, "reached": set()})

    @property
    def name(self) -> str:
        return PARTY_NAMES[self.rank]

    @property
    def is_client(self) -> bool:
        return self.rank == CLIENT

    def local_generator(self, *labels: object) -> torch.Generator:
        """A generator only this party knows, reproducible from its private seed and the labels."""
        return torch.Generator().manual_seed(self.local_seed(*labels))

    def numpy_generator(self, *labels: object) -> np.random.Generator:
        """A numpy generator only this party knows (HE answer masks), from its private seed and the labels;
        a negative control may have planted a broken substitute for these labels (``faults.planted``)."""
        substitute = self.planted["generators"].get(labels)
        if substitute is None:
            return np.random.default_rng(self.local_seed(*labels))
        self.planted["reached"].add(("generator", labels))
        return substitute()

    def local_seed(self, *labels: object) -> int:
        """A seed only this party knows (for numpy generators: HE masks, encryption randomness)."""
        return derive_seed(private_seed(self.seed, self.name, self.private_override), "local", *labels)


def _generators(prev_seed: int, next_seed: int, local_seed: int, global_seed: int) -> dict:
    cpu = torch.device("cpu")
    seeds = dict(prev=prev_seed, next=next_seed, local=local_seed, global_=global_seed)
    return {k.rstrip("_"): {cpu: torch.Generator(device=cpu).manual_seed(s)} for k, s in seeds.items()}


def private_seed(seed: int, name: str, override: int | None = None) -> int:
    """The seed of a party's private randomness: ``override`` if given, else derived from the run seed."""
    return derive_seed(seed, name, "private") if override is None else derive_seed(override, name, "private")


def setup_party(rank: int, transport: Transport, seed: int, dealer_hosted_here: bool = True,
                dealer_mode: str = "honest", record_view: bool = False,
                private_seeds: tuple[int | None, int | None] = (None, None)) -> Party:
    """Join a run: receive the dealer seed (offline), swap PRZS seeds with the peer (setup).

    The dealer lives beside the server: the server's set-up creates it and sends the client its dealer
    seed (8 bytes, offline). Each party's dealer stream and local draws come from its PRIVATE seed
    (``private_seeds``: (client, server), default: derived from the run seed); the dealer, a third party,
    holds both. The PRZS seeds (one int64 each way) are CrypTen's pseudo-random zero sharings, which make
    sharing an input free of online traffic: both parties know them."""
    if dealer_mode not in DEALER_MODES:
        raise ValueError(f"dealer_mode must be one of {DEALER_MODES}, got {dealer_mode!r}")
    meter = PartyMeter(PARTY_NAMES[rank], view=[] if record_view else None, own=[] if record_view else None)
    comm = MeteredCommunicator(rank, transport, meter)
    leaky = comm if dealer_mode == "leaky" else None
    reuse = dealer_mode == "reuse-rows"
    privates = [private_seed(seed, PARTY_NAMES[r], private_seeds[r]) for r in (CLIENT, SERVER)]
    seed_client, seed_server = derive_seed(privates[CLIENT], "dealer"), derive_seed(privates[SERVER], "dealer")
    with meter.step("setup"):
        if rank == SERVER:
            dealer = Dealer(seed_client, seed_server, reuse)
            comm.send_tensor(torch.tensor([seed_client]), phase=OFFLINE, sender="dealer",
                             protect=Protection("declared", "dealer seed", 64, "dealer"))
            meter.on_send("server", 8, OFFLINE, sender="dealer")
            provider = DealerProvider(rank, seed_server, meter, dealer, leaky, reuse)
        else:
            got = int(comm.recv_tensor(sender="dealer")[0])
            provider = DealerProvider(rank, got, meter, leaky_comm=leaky, reuse_rows=reuse)
        own = derive_seed(seed, PARTY_NAMES[rank], "przs")
        theirs = int(comm.exchange(torch.tensor([own]), phase=SETUP)[0])
    shared = derive_seed(min(own, theirs), max(own, theirs), "global")
    gens = _generators(prev_seed=theirs, next_seed=own, local_seed=derive_seed(privates[rank], "crypten-local"),
                       global_seed=shared)
    return Party(rank, seed, comm, meter, provider, gens, private_override=private_seeds[rank])


@contextlib.contextmanager
def step(name: str) -> Iterator[None]:
    """Label the messages the current party sends inside the block: ``with step("topk"): ...``."""
    with current_party().meter.step(name):
        yield


def party() -> Party:
    """The party running on this thread."""
    return current_party()
