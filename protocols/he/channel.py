"""HE on the wire: keys and ciphertexts between the two parties, serialized, through the metered communicator.

Every HE protocol of privmoe (the matmuls, the lift's producers, SecMoE) talks through this module, in
threads, processes and on two hosts alike:

1. :func:`open` -- the CLIENT builds its backend (it owns the keys), prepares exactly the rotation steps /
   Galois elements the protocol declares, and sends its public material (``backend.public_material()``:
   parameters, public key, Galois keys) as frames of phase ``keys``: measured, and costed as the run's
   ``key_bytes`` (once per run, before the online rounds). The SERVER rebuilds an evaluator from those
   bytes alone (``backend_cls.evaluator``): it never holds the secret key.
2. :func:`send` -- ciphertexts travel as their serialized bytes (``backend.to_bytes`` or the client's
   seeded ``encrypt_bytes``), one frame each (a ``uint8`` tensor), online, clocked by the runtime like any
   other message; what the Meter records is the bytes that moved.
3. :func:`receive` -- the other party's frames, and the protection its sender claimed for their content
   (the client's key for queries; the server's masks for answers); they enter the receiver's view as
   ``ciphertext``.
4. :func:`observe` -- the client's view of the answers' decryption NOISE (phase minus message, per
   coefficient: ``noise``), which the server's ``conceal`` floods (``protocols/he/flooding.py``); the
   security checks compare it with the flooding's distribution.

The compression mode is the backend's (``"none"`` by default: deterministic sizes; ``"zstd"``: SEAL's own).
The party's HE operation counts (``HEEnd.counts``) are copied into its Meter when the run ends
(``PartyMeter.he``), so they come back from a process or a remote host with its messages.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from protocols.crypten_shim import current_party
from protocols.he import flooding
from protocols.runtime.ledger import HE_PUBLIC, Protection, noise_flooding

KEYS = "keys"


@dataclass
class HEEnd:
    """One party's end of the run's HE link: its backend (the client's holds the keys; the server's is an
    evaluator built from the client's public material) and what it has sent."""

    backend: object
    #: ciphertext frames this party sent (a run's ``ciphertexts`` = both parties' sum)
    sent: int = 0
    #: the public material's blobs by name, as sent/received (sizes for the key-bytes model's tests)
    material: dict = field(default_factory=dict)
    #: the client's noise budgets (bits) of the answers it decrypted (SEAL); [] elsewhere
    noise: list = field(default_factory=list)

    def counts(self) -> dict:
        """This party's HE operation counts (``protocols/he/interface.Counts``) and frames sent, as a plain
        dict: the runtime copies it into the party's Meter, so it travels back from a process or host."""
        c = self.backend.counts
        return {"rotations": c.rotations, "pt_mults": c.pt_mults, "ct_adds": c.ct_adds,
                "key_switches": c.key_switches, "encryptions": c.encryptions, "decryptions": c.decryptions,
                "ct_mults": c.ct_mults, "relinearizations": c.relinearizations,
                "ciphertexts": self.sent, "ops": list(c.ops),
                "noise_budget": min(self.noise) if self.noise else None}


def _to_tensor(blob: bytes) -> torch.Tensor:
    return torch.frombuffer(bytearray(blob), dtype=torch.uint8) if blob else torch.zeros(0, dtype=torch.uint8)


def open(backend_cls, params, *, steps=(), elements=(), relin: bool = False, compression: str = "none",
         **options) -> HEEnd:
    """Set up the run's HE link (both parties call it at the same point of the protocol).

    ``backend_cls``: ``protocols.he.seal_backend.SealBackend`` or the slot simulator's class (the entry
    chooses); ``params``: HEParams; ``steps``/``elements``: the rotation steps / Galois elements the
    protocol will use (public: a function of the public parameters); ``relin``: the protocol multiplies
    ciphertexts (relinearisation keys go with the material). -> this party's :class:`HEEnd`.
    A flooding backend (SEAL) at parameters without room to flood its answers raises
    ``protocols.he.flooding.FloodingError`` here, before any message."""
    if backend_cls.flood:          # refuse parameters without room for circuit privacy before anything moves
        flooding.check(params)
    party = current_party()
    comm = party.communicator
    names = tuple(backend_cls.MATERIAL)
    if party.rank == 0:
        be = backend_cls(params, party.local_seed("he", "keys"), compression=compression, **options)
        if elements:
            be.prepare_galois(set(elements), set(steps))
        else:
            be.prepare(set(steps))
        if relin:
            be.prepare_relin()
        material = be.public_material()
        if set(material) != set(names):
            raise ValueError(f"public material {sorted(material)} != the backend's MATERIAL {sorted(names)}")
        for name in names:
            comm.send_tensor(_to_tensor(material[name]), phase=KEYS, protect=HE_PUBLIC)
    else:
        material = {name: comm.recv_tensor().numpy().tobytes() for name in names}
        be = backend_cls.evaluator(material, party.local_seed("he", "evaluator"), compression=compression,
                                   **options)
    end = HEEnd(be, material=material)
    party.he = end
    return end


def send(end: HEEnd, blobs, protect: Protection | None = None) -> None:
    """Send serialized ciphertexts, one frame each, online. ``protect``: what hides their content from the
    receiver (``protocols/runtime/ledger.py``): ``client_key`` for the client's queries,
    ``he_answer_mask`` for the server's masked answers."""
    comm = current_party().communicator
    for blob in blobs:                 # any iterable: a generator serializes each ciphertext as it is sent
        comm.send_tensor(_to_tensor(blob), protect=protect)
        end.sent += 1


def receive(end: HEEnd, count: int, load: bool = False) -> tuple[list, Protection | None]:
    """``count`` serialized ciphertexts from the other party (``count`` is public: the protocol's plan), and
    the protection the sender claimed for them. ``load``: each frame becomes the backend's ciphertext as it
    arrives (``backend.from_bytes``), so the serialized bytes are never all held at once."""
    comm = current_party().communicator
    out, claimed = [], None
    for _ in range(count):
        payload, header = comm.recv_tensor(kind="ciphertext", keep_header=True)
        blob = payload.numpy().tobytes()
        out.append(end.backend.from_bytes(blob) if load else blob)
        claimed = Protection.from_header(header[4:9])
    return out, claimed


def observe(end: HEEnd, cts: list, pre_bits: float | None = None) -> None:
    """The client records what decrypting ``cts`` (the server's answers) shows it beyond the plaintexts:
    each answer's decryption noise (``backend.answer_noise``; SEAL only -- the simulator has none), as a
    ``noise`` view item (``flooding.observed``: the top bits of noise + 2^b) claimed uniform by the server's
    flooding of width b (``flooding.plan``, with the answers' ``pre_bits`` as the server conceals them). Only
    when the run records views (it costs a polynomial product per answer)."""
    party = current_party()
    if party.meter.view is None:
        return
    be = end.backend
    bits = flooding.plan(be.params, pre_bits=pre_bits).bits
    for ct in cts:
        noise = be.answer_noise(ct)
        if noise is not None:
            party.meter.see("noise", torch.from_numpy(flooding.observed(noise, bits)), "server",
                            noise_flooding(bits), party.meter.clock)
