"""The communicator CrypTen talks to: CrypTen's collectives for two parties, every message metered.

CrypTen calls ``all_reduce`` (reveals: each party sends its share), ``reduce``/``gather`` (reveal to one
party), ``broadcast``, ``send``/``recv`` and the ``*_obj`` variants. For two parties each is one or two
point-to-point frames; each frame is recorded by the sending party's :class:`PartyMeter` with the current
step label, and its round travels in the frame header so the receiver's clock follows (Lamport).
"""
from __future__ import annotations

import pickle

import torch
from torch.distributed import ReduceOp

from protocols.crypten_shim import Communicator

from .meter import ONLINE, PartyMeter
from .transport import DTYPES, PHASE_CODES, PHASE_NAMES, Transport

PARTY_NAMES = ("client", "server")


def _combine(a: torch.Tensor, b: torch.Tensor, op) -> torch.Tensor:
    if op == ReduceOp.SUM:
        return a + b
    if op == ReduceOp.BXOR:
        return a ^ b
    raise NotImplementedError(f"reduce op {op} is not used by privmoe's protocols")


class MeteredCommunicator(Communicator):
    """CrypTen's ``Communicator`` interface for exactly two parties, over a :class:`Transport`."""

    BYTES_PER_ELEMENT = 8

    def __init__(self, rank: int, transport: Transport, meter: PartyMeter) -> None:
        self.rank, self.transport, self.meter = rank, transport, meter
        self.world_size = 2
        self._name = PARTY_NAMES[rank]
        self.reset_communication_stats()

    # -- frames ---------------------------------------------------------------------------------------
    @property
    def other(self) -> int:
        return 1 - self.rank

    def _frame(self, tensor: torch.Tensor, phase: str, sender: str | None = None):
        flat = tensor.detach().contiguous().reshape(-1)
        if flat.dtype not in DTYPES:
            raise TypeError(f"cannot send dtype {flat.dtype}")
        nbytes = flat.numel() * flat.element_size()
        rnd = 0
        if phase != "control":
            rnd = self.meter.on_send(PARTY_NAMES[self.other], nbytes, phase, sender=sender)
        header = torch.tensor([rnd, PHASE_CODES[phase], flat.numel(), DTYPES.index(flat.dtype)],
                              dtype=torch.int64)
        return header, flat

    def _accept(self, header: torch.Tensor, payload: torch.Tensor, sender: str | None = None) -> torch.Tensor:
        phase = PHASE_NAMES[int(header[1])]
        if phase != "control":
            self.meter.on_recv(sender or PARTY_NAMES[self.other], payload.numel() * payload.element_size(),
                               int(header[0]), phase)
        return payload

    def _seen(self, kind: str, values, sender: str | None = None):
        self.meter.see(kind, values, sender or PARTY_NAMES[self.other])
        return values

    def send_tensor(self, tensor: torch.Tensor, phase: str = ONLINE, sender: str | None = None) -> None:
        self.transport.send(self.other, *self._frame(tensor, phase, sender))

    def recv_tensor(self, like: torch.Size | None = None, sender: str | None = None) -> torch.Tensor:
        header, payload = self.transport.recv(self.other)
        payload = self._accept(header, payload, sender)
        if PHASE_NAMES[int(header[1])] != "control":
            self._seen("dealer" if sender == "dealer" else "received", payload, sender)
        return payload.reshape(like) if like is not None else payload

    def exchange(self, tensor: torch.Tensor, phase: str = ONLINE) -> torch.Tensor:
        """Both parties send ``tensor`` and receive the other's (same shape): one round."""
        header, flat = self._frame(tensor, phase)
        rh, rp = self.transport.exchange(self.other, header, flat)
        return self._accept(rh, rp).reshape(tensor.shape)

    # -- CrypTen's interface --------------------------------------------------------------------------
    def get_world_size(self):
        return 2

    def get_rank(self):
        return self.rank

    def set_name(self, name):
        self._name = name

    def get_name(self):
        return self._name

    def send(self, tensor, dst):
        self.send_tensor(tensor)

    def recv(self, tensor, src=None):
        result = self.recv_tensor(tensor.shape)
        tensor.copy_(result)
        return tensor

    def isend(self, tensor, dst):
        self.send(tensor, dst)
        return _Done()

    def irecv(self, tensor, src=None):
        comm = self

        class _Pending:
            def is_completed(self):
                return False

            def wait(self):
                comm.recv(tensor, src)

        return _Pending()

    def all_reduce(self, tensor, op=ReduceOp.SUM, batched=False, async_op=False):
        if batched:
            flat = torch.cat([t.reshape(-1) for t in tensor])
            theirs = self.exchange(flat)
            self._seen("opened", _combine(flat, theirs, op))
            out, at = [], 0
            for t in tensor:
                out.append(_combine(t, theirs[at:at + t.numel()].reshape(t.shape), op))
                at += t.numel()
            return out
        return self._seen("opened", _combine(tensor, self.exchange(tensor), op))

    def reduce(self, tensor, dst, op=ReduceOp.SUM, batched=False, async_op=False):
        tensors = list(tensor) if batched else [tensor]
        flat = torch.cat([t.reshape(-1) for t in tensors])
        if self.rank != dst:
            self.send_tensor(flat)
            return None
        theirs = self.recv_tensor(flat.shape)
        self._seen("opened", _combine(flat, theirs, op))
        out, at = [], 0
        for t in tensors:
            out.append(_combine(t, theirs[at:at + t.numel()].reshape(t.shape), op))
            at += t.numel()
        return out if batched else out[0]

    def gather(self, tensor, dst, async_op=False):
        if self.rank != dst:
            self.send_tensor(tensor)
            return None
        theirs = self.recv_tensor(tensor.shape)
        return [tensor, theirs] if self.rank == 0 else [theirs, tensor]

    def all_gather(self, tensor, async_op=False):
        theirs = self.exchange(tensor)
        return [tensor, theirs] if self.rank == 0 else [theirs, tensor]

    def broadcast(self, tensor, src, async_op=False):
        if self.rank == src:
            self.send_tensor(tensor)
            return tensor
        return self.recv_tensor(tensor.shape)

    def scatter(self, scatter_list, src, size=None, async_op=False):
        if self.rank == src:
            self.send_tensor(scatter_list[self.other])
            return scatter_list[self.rank]
        return self.recv_tensor(size)

    def send_obj(self, obj, dst, group=None):
        self.send_tensor(torch.frombuffer(bytearray(pickle.dumps(obj)), dtype=torch.uint8))

    def recv_obj(self, src, group=None):
        return pickle.loads(self.recv_tensor().numpy().tobytes())

    def broadcast_obj(self, obj, src, group=None):
        if self.rank == src:
            self.send_obj(obj, self.other)
            return obj
        return self.recv_obj(src)

    def barrier(self):
        """Synchronise without payload (a control frame: not metered, moves no clock)."""
        header, flat = self._frame(torch.zeros(0, dtype=torch.int64), "control")
        self.transport.exchange(self.other, header, flat)


class _Done:
    def is_completed(self):
        return True

    def wait(self):
        pass
