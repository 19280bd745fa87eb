"""HE leaks on purpose (negative controls; never used by a protocol).

:func:`key_copy` is the bug of a client whose key material ships WITH its secret key: it wraps a backend
class so that the client's public material also carries the secret key, and the server's evaluator built
from it decrypts every query ciphertext it loads -- the client's inputs, in the clear, in the server's view
(claimed protected by the client's key, which the server now holds). :class:`ZeroGenerator` is a server
whose mask generator returns zeros: its answers reach the client unmasked. :func:`unflooded` is a server
that masks its answers but neither re-randomises nor floods them (the protocol before circuit privacy):
their decryption noise is the weights' noise. A control entry composes a
secure protocol with one of these; the protocol has no switch.
"""
from __future__ import annotations

import numpy as np


def key_copy(backend_cls):
    """``backend_cls`` whose client also sends its secret key (material ``secret_key``) and whose server
    decrypts each query it receives (``protocols/he/channel``: ``from_bytes`` of a client frame)."""

    class KeyCopy(backend_cls):
        MATERIAL = tuple(backend_cls.MATERIAL) + ("secret_key",)

        def public_material(self):
            material = super().public_material()
            material["secret_key"] = self._secret_key_bytes()
            return material

        def _secret_key_bytes(self) -> bytes:
            if hasattr(self, "keygen") and self.keygen is not None:          # SEAL
                from protocols.he import wire

                return wire.save_bytes(self.keygen.secret_key())
            return b"simulated secret key"                                   # the simulator has none

        @classmethod
        def evaluator(cls, material, seed=0, **kw):
            be = super().evaluator(material, seed, **kw)          # the extra ``secret_key`` entry is ignored
            if getattr(be, "ctx", None) is not None:                         # SEAL: load the copy
                import tenseal.sealapi as seal

                from protocols.he import wire

                key = wire.load_bytes(seal.SecretKey(), material["secret_key"], be.ctx, "secret_key")
                be.decryptor = seal.Decryptor(be.ctx, key)
            be.has_secret_key = True
            return be

        def from_bytes(self, blob):
            from protocols.crypten_shim import current_party

            ct = super().from_bytes(blob)
            party = current_party()
            if party.rank == 1:                      # the server reads what the client sent it
                import torch

                from protocols.runtime.ledger import client_key

                values = np.asarray(self.decrypt(ct), dtype=np.int64)
                party.meter.see("decrypted", torch.tensor(values), "client", client_key(self.plain_modulus),
                                party.meter.clock)
            return ct

    KeyCopy.__name__ = KeyCopy.__qualname__ = f"KeyCopy[{backend_cls.__name__}]"
    return KeyCopy


class ZeroGenerator:
    """A broken mask generator (negative controls ``unmasked.matmul``, ``unmasked_secmoe.moe``): the bug of
    a server whose PRNG returns zeros. The protocol still draws its answer masks from it and still claims
    them, so the client decrypts the unmasked result while the shares stay correct."""

    def integers(self, low, high=None, size=None, dtype=np.int64, **_):
        return np.zeros(size if size is not None else (), dtype=dtype)


def unflooded(backend_cls):
    """``backend_cls`` whose ``conceal`` only switches down (counted as the real one): no public-key
    encryption of zero added, no noise flooded. The answers' decryption noise -- in the client's view --
    is what the server's weights made it (``protocols/he/flooding.py``)."""

    class Unflooded(backend_cls):
        flood = False

        def conceal(self, ct, rng, pre_bits=None):
            self.counts.record("conceal", encryptions=1, ct_adds=1)
            return self.switch_down(ct)

    Unflooded.__name__ = Unflooded.__qualname__ = f"Unflooded[{backend_cls.__name__}]"
    return Unflooded
