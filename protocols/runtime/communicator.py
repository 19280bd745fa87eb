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

from .ledger import NO_HEADER, Protection
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

    def _frame(self, tensor: torch.Tensor, phase: str, sender: str | None = None,
               protect: Protection | None = None):
        flat = tensor.detach().contiguous().reshape(-1)
        if flat.dtype not in DTYPES:
            raise TypeError(f"cannot send dtype {flat.dtype}")
        nbytes = flat.numel() * flat.element_size()
        rnd = 0
        if phase != "control":
            rnd = self.meter.on_send(PARTY_NAMES[self.other], nbytes, phase, sender=sender)
        protect = protect if protect is not None else self.meter.outgoing
        header = torch.tensor([rnd, PHASE_CODES[phase], flat.numel(), DTYPES.index(flat.dtype)]
                              + (protect.header() if protect is not None else NO_HEADER), dtype=torch.int64)
        return header, flat

    def _accept(self, header: torch.Tensor, payload: torch.Tensor, sender: str | None = None) -> torch.Tensor:
        phase = PHASE_NAMES[int(header[1])]
        if phase != "control":
            self.meter.on_recv(sender or PARTY_NAMES[self.other], payload.numel() * payload.element_size(),
                               int(header[0]), phase)
        return payload

    def _seen(self, kind: str, values, sender: str | None = None, protect=None, header=None):
        self.meter.see(kind, values, sender or PARTY_NAMES[self.other], protect,
                       int(header[0]) if header is not None else self.meter.clock)
        return values

    def send_tensor(self, tensor: torch.Tensor, phase: str = ONLINE, sender: str | None = None,
                    protect: Protection | None = None) -> None:
        self.transport.send(self.other, *self._frame(tensor, phase, sender, protect))

    def recv_tensor(self, like: torch.Size | None = None, sender: str | None = None, kind: str | None = None,
                    keep_header: bool = False):
        """Receive one frame; it enters the view as ``kind`` (default ``received``, or ``dealer``)."""
        header, payload = self.transport.recv(self.other)
        payload = self._accept(header, payload, sender)
        if PHASE_NAMES[int(header[1])] not in ("control", "setup"):
            self._seen(kind or ("dealer" if sender == "dealer" else "received"), payload, sender,
                       Protection.from_header(header[4:9]), header)
        out = payload.reshape(like) if like is not None else payload
        return (out, header) if keep_header else out

    def exchange(self, tensor: torch.Tensor, phase: str = ONLINE, keep_header: bool = False):
        """Both parties send ``tensor`` and receive the other's (same shape): one round. The party's own
        contribution is kept with its shares (the ledger combines them with what it receives)."""
        header, flat = self._frame(tensor, phase)
        if phase != "setup":
            self.meter.record_own(flat)
        rh, rp = self.transport.exchange(self.other, header, flat)
        out = self._accept(rh, rp).reshape(tensor.shape)
        return (out, rh) if keep_header else out

    def _opened(self, values: torch.Tensor, header) -> torch.Tensor:
        """An opening: its protection is the provider's oldest pending masks (``PartyMeter.consume``)."""
        protect, index = self.meter.consume(values.numel())
        self.meter.see("opened", values, PARTY_NAMES[self.other], protect, int(header[0]), index)
        return values

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
            theirs, header = self.exchange(flat, keep_header=True)
            self._opened(_combine(flat, theirs, op), header)
            out, at = [], 0
            for t in tensor:
                out.append(_combine(t, theirs[at:at + t.numel()].reshape(t.shape), op))
                at += t.numel()
            return out
        theirs, header = self.exchange(tensor, keep_header=True)
        return self._opened(_combine(tensor, theirs, op), header)

    def reduce(self, tensor, dst, op=ReduceOp.SUM, batched=False, async_op=False):
        tensors = list(tensor) if batched else [tensor]
        flat = torch.cat([t.reshape(-1) for t in tensors])
        if self.rank != dst:
            self.meter.consume(flat.numel())          # the opening's masks are spent on both sides
            self.meter.record_own(flat)
            self.send_tensor(flat)
            return None
        header, theirs = self.transport.recv(self.other)
        theirs = self._accept(header, theirs).reshape(flat.shape)
        self._opened(_combine(flat, theirs, op), header)
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
        theirs, header = self.exchange(tensor, keep_header=True)
        self._seen("gathered", theirs, None, Protection.from_header(header[4:9]), header)
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
