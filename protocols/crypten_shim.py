"""The ONE module that imports CrypTen.

CrypTen 0.4.1 imports ``torch.onnx.symbolic_registry``, which torch 2.x no longer has; an empty module
registered under that name before ``import crypten`` is all it needs on torch 2.13.

Importing this module also wires CrypTen to privmoe's runtime. CrypTen looks up three things at call
time, and each is redirected to the *current party* (a thread-local set by :mod:`protocols.runtime`):

* ``crypten.communicator.get()`` -> the party's :class:`~protocols.runtime.communicator.MeteredCommunicator`
  (CrypTen's own communicators count nothing (threads) or count calls and ``sys.getsizeof`` (processes));
* ``crypten.generators`` -> the party's own seeded generators (CrypTen keeps one module-global dict, which
  two parties running as threads would share and race on);
* ``crypten.mpc.get_default_provider()`` -> the party's dealer client (CrypTen's default "TFP" lets rank 0
  make every Beaver triple, i.e. the client would know the server's masks).

And CrypTen's configuration becomes per thread: ``cfg.temp_override`` (used inside ``sigmoid``, ``softmax``
...) swaps one process-global config object, so with two party threads one party's override would leak
into the other's computation (different iteration counts -> desynchronised messages).
"""
from __future__ import annotations

import sys
import threading
import types

import torch  # noqa: F401  (must be imported before the shim is registered)

if "torch.onnx.symbolic_registry" not in sys.modules:
    sys.modules["torch.onnx.symbolic_registry"] = types.ModuleType("torch.onnx.symbolic_registry")

import crypten  # noqa: E402
import crypten.communicator  # noqa: E402
import crypten.mpc  # noqa: E402
from crypten.common.rng import generate_kbit_random_tensor, generate_random_ring_element  # noqa: E402
from crypten.common.util import count_wraps  # noqa: E402
from crypten.communicator import Communicator  # noqa: E402
from crypten.config import cfg  # noqa: E402
from crypten.encoder import FixedPointEncoder  # noqa: E402
from crypten.mpc import MPCTensor  # noqa: E402
from crypten.mpc.primitives import ArithmeticSharedTensor, BinarySharedTensor  # noqa: E402
from crypten.mpc.provider.provider import TupleProvider  # noqa: E402
from crypten.mpc.ptype import ptype as Ptype  # noqa: E402

__all__ = [
    "crypten", "cfg", "Communicator", "MPCTensor", "ArithmeticSharedTensor", "BinarySharedTensor",
    "TupleProvider", "Ptype", "FixedPointEncoder", "generate_random_ring_element",
    "generate_kbit_random_tensor", "count_wraps", "current_party", "set_current_party", "SHIM_ACTIVE",
]

_tls = threading.local()


def current_party():
    """The party (a :class:`protocols.runtime.party.Party`) this thread is running, or raise."""
    party = getattr(_tls, "party", None)
    if party is None:
        raise RuntimeError("no privmoe party is running on this thread (use protocols.runtime.run_two_party)")
    return party


def set_current_party(party) -> None:
    """Bind ``party`` to this thread (``None`` unbinds)."""
    _tls.party = party


class _PartyGenerators:
    """Stands in for ``crypten.generators``: ``generators[kind][device]`` of the current party."""

    def __getitem__(self, kind: str):
        return current_party().generators[kind]

    def keys(self):
        return current_party().generators.keys()


class _PerThreadConfig(type(cfg)):
    """CrypTen's config with ``config`` stored per thread (threads start from the process default)."""

    _tls = threading.local()
    _default = None

    @property
    def config(self):
        return getattr(_PerThreadConfig._tls, "config", _PerThreadConfig._default)

    @config.setter
    def config(self, value):
        _PerThreadConfig._tls.config = value


_PerThreadConfig._default = cfg.config
cfg.__dict__.pop("config", None)
cfg.__class__ = _PerThreadConfig

crypten.communicator.get = lambda: current_party().communicator
crypten.communicator.is_initialized = lambda: getattr(_tls, "party", None) is not None
crypten.generators = _PartyGenerators()
crypten.mpc.get_default_provider = lambda: current_party().provider
cfg.communicator.verbose = False
SHIM_ACTIVE = "torch.onnx.symbolic_registry" in sys.modules


def _record_own_share(value) -> None:
    """Keep a copy of every share a party assigns while its view is recorded (the ledger combines what a
    party receives with what it holds). A no-op otherwise."""
    party = getattr(_tls, "party", None)
    if party is not None and party.meter.own is not None and isinstance(value, torch.Tensor):
        party.meter.record_own(value)


def _share_slot():
    """``_tensor`` of CrypTen's shared tensors, as a property that records assignments (above)."""
    def get(self):
        return self.__dict__["_privmoe_tensor"]

    def put(self, value):
        self.__dict__["_privmoe_tensor"] = value
        _record_own_share(value)

    return property(get, put)


ArithmeticSharedTensor._tensor = _share_slot()
BinarySharedTensor._tensor = _share_slot()
