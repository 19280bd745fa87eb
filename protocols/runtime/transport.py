"""How bytes move between the two parties: in-process queues (threads) or torch.distributed gloo (sockets).

A transport moves one *frame*: a small int64 header ``[round, phase, numel, dtype]`` plus the five ints of
the protection the sender claims (``protocols/runtime/ledger.py``), and a flat payload. The header is
framing, not payload: the Meter counts only the payload.
"""
from __future__ import annotations

import queue
import threading
from datetime import timedelta

import torch

from functionalities.errors import PeerError

PHASE_CODES = {"online": 0, "offline": 1, "setup": 2, "control": 3, "keys": 4}
PHASE_NAMES = {v: k for k, v in PHASE_CODES.items()}
HEADER_LEN = 9
DTYPES = [torch.int64, torch.uint8, torch.float64]
_ABORT = object()


class Transport:
    """Send/receive frames between rank 0 (client) and rank 1 (server)."""

    rank: int
    timeout: float

    def send(self, dst: int, header: torch.Tensor, payload: torch.Tensor) -> None:
        raise NotImplementedError

    def recv(self, src: int) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def exchange(self, other: int, header: torch.Tensor, payload: torch.Tensor):
        """Send a frame to ``other`` and receive one from it, without deadlock."""
        self.send(other, header, payload)
        return self.recv(other)

    def abort(self) -> None:
        """Tell the peer this party failed, so its pending receive errors at once (best effort)."""

    def close(self) -> None:
        pass


class ThreadMailboxes:
    """The shared state of a thread-mode run: one queue per (sender, receiver).

    ``link`` = (bandwidth in bit/s, RTT in s) emulates a network for benchmarks: each direction
    serialises its frames at the bandwidth (a frame starts when the link is free), then takes RTT/2 to
    arrive; the receiver waits until the frame's arrival time."""

    def __init__(self, link: tuple[float, float] | None = None) -> None:
        self.queues = {(0, 1): queue.Queue(), (1, 0): queue.Queue()}
        self.lock = threading.Lock()
        self.link = link
        self.free_at = {(0, 1): 0.0, (1, 0): 0.0}

    def arrival(self, key: tuple[int, int], nbytes: int) -> float:
        import time

        if self.link is None:
            return 0.0
        bandwidth, rtt = self.link
        with self.lock:
            start = max(time.perf_counter(), self.free_at[key])
            self.free_at[key] = start + 8 * nbytes / bandwidth
            return self.free_at[key] + rtt / 2


class ThreadTransport(Transport):
    """Both parties are threads of one process; frames are cloned into queues."""

    def __init__(self, rank: int, boxes: ThreadMailboxes, timeout: float) -> None:
        self.rank, self.boxes, self.timeout = rank, boxes, timeout

    def send(self, dst, header, payload):
        when = self.boxes.arrival((self.rank, dst), payload.numel() * payload.element_size())
        self.boxes.queues[(self.rank, dst)].put((header.clone(), payload.clone(), when))

    def recv(self, src):
        try:
            item = self.boxes.queues[(src, self.rank)].get(timeout=self.timeout)
        except queue.Empty:
            raise PeerError(f"party {self.rank}: no message from party {src} within {self.timeout:g} s") from None
        if item is _ABORT:
            raise PeerError(f"party {self.rank}: party {src} failed (see its error)")
        header, payload, when = item
        if when:
            import time

            wait = when - time.perf_counter()
            if wait > 0:
                time.sleep(wait)
        return header, payload

    def abort(self):
        self.boxes.queues[(self.rank, 1 - self.rank)].put(_ABORT)


class GlooTransport(Transport):
    """The parties are processes (maybe on two hosts) joined by ``torch.distributed`` over gloo/TCP."""

    def __init__(self, rank: int, init_method: str, timeout: float, store_master: bool | None = None) -> None:
        """``store_master``: which side hosts the rendezvous store (two hosts: the server, whose address
        ``init_method`` names); None lets torch make rank 0 the master (fine on one host)."""
        import torch.distributed as dist

        self.dist, self.rank, self.timeout = dist, rank, timeout
        try:
            if store_master is None:
                dist.init_process_group("gloo", init_method=init_method, rank=rank, world_size=2,
                                        timeout=timedelta(seconds=timeout))
            else:
                host, port = init_method.removeprefix("tcp://").rsplit(":", 1)
                store = dist.TCPStore(host, int(port), 2, is_master=store_master,
                                      timeout=timedelta(seconds=timeout))
                dist.init_process_group("gloo", store=store, rank=rank, world_size=2,
                                        timeout=timedelta(seconds=timeout))
        except Exception as exc:  # noqa: BLE001 - re-raised with context
            raise PeerError(f"party {rank}: could not reach the peer at {init_method}: {exc}") from exc

    def send(self, dst, header, payload):
        h = self.dist.isend(header, dst)
        p = self.dist.isend(payload, dst)
        self._pending = getattr(self, "_pending", []) + [h, p]

    def recv(self, src):
        try:
            header = torch.empty(HEADER_LEN, dtype=torch.int64)
            self.dist.recv(header, src)
            n, code = int(header[2]), int(header[3])
            payload = torch.empty(n, dtype=DTYPES[code])
            self.dist.recv(payload, src)
            for req in getattr(self, "_pending", []):
                req.wait()
            self._pending = []
        except RuntimeError as exc:
            raise PeerError(f"party {self.rank}: lost the peer ({exc})") from exc
        return header, payload

    def close(self):
        try:
            for req in getattr(self, "_pending", []):
                req.wait()
            self.dist.destroy_process_group()
        except Exception:  # noqa: BLE001 - closing after a failure must not mask the failure
            pass
