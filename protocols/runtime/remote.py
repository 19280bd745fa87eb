"""Two parties on two hosts: a handshake over plain TCP, then the protocol over torch.distributed/gloo.

1. The server listens on HOST:PORT; the client connects (retrying until ``timeout``). Before any secret
   moves they exchange one JSON line each: role, protocol name, resolved public parameters, privmoe
   version and seed. Any mismatch -- both claim the same role, other parameters, other version -- ends
   both sides with an error that names it.
2. The server picks a fresh port for the gloo rendezvous (unique per run) and sends it in its answer;
   both join ``tcp://HOST:gloo_port``. The dealer runs beside the server, in its process.
3. After the protocol, control frames (unmetered) carry each side's PartyMeter and the server's output
   shares to the client, so both print the same per-step table and the client checks the opened output.
"""
from __future__ import annotations

import json
import socket
import time

from functionalities.errors import PeerError, PrivMoEError

VERSION = "privmoe-0.1/rounds-lamport-v1"
ROLES = ("client", "server")


class HandshakeError(PrivMoEError, RuntimeError):
    """The two sides do not agree on what to run (role, protocol, parameters, version, seed)."""


def _send_line(sock: socket.socket, obj: dict) -> None:
    sock.sendall((json.dumps(obj, sort_keys=True, default=str) + "\n").encode())


def _recv_line(sock: socket.socket, timeout: float) -> dict:
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(b"\n"):
        chunk = sock.recv(65536)
        if not chunk:
            raise PeerError("the peer closed the connection during the handshake")
        data += chunk
    return json.loads(data)


def _mismatch(mine: dict, theirs: dict) -> str | None:
    if theirs.get("role") == mine["role"]:
        return f"both parties claim to be the {mine['role']}"
    for key in ("version", "protocol", "seed", "params"):
        if theirs.get(key) != mine.get(key):
            return f"{key} differs: mine {mine.get(key)!r}, peer's {theirs.get(key)!r}"
    return None


def handshake(role: str, host: str, port: int, info: dict, timeout: float) -> str:
    """Agree on the run with the peer; return the gloo init method. Raises HandshakeError / PeerError."""
    from .launch import free_port

    if role not in ROLES:
        raise HandshakeError(f"role must be client or server, got {role!r}")
    mine = {**info, "role": role, "version": VERSION}
    deadline = time.monotonic() + timeout
    if role == "server":
        srv = socket.socket()
        srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            srv.bind((host, port))
        except OSError as exc:
            raise HandshakeError(f"cannot listen on {host}:{port} ({exc.strerror}): is another server "
                                 f"(a peer that also claims the server role) already there?") from exc
        srv.listen(1)
        srv.settimeout(timeout)
        try:
            conn, _ = srv.accept()
        except socket.timeout:
            raise PeerError(f"no client connected to {host}:{port} within {timeout:g} s") from None
        finally:
            srv.close()
        with conn:
            theirs = _recv_line(conn, max(1.0, deadline - time.monotonic()))
            problem = _mismatch(mine, theirs)
            gloo_port = free_port()
            _send_line(conn, {**mine, "ok": problem is None, "problem": problem, "gloo_port": gloo_port})
        if problem:
            raise HandshakeError(f"handshake refused: {problem}")
        return f"tcp://{host}:{gloo_port}"          # the server hosts the rendezvous store on gloo_port
    last = None
    while time.monotonic() < deadline:
        try:
            conn = socket.create_connection((host, port), timeout=max(0.5, min(2.0, deadline - time.monotonic())))
            break
        except OSError as exc:
            last = exc
            time.sleep(0.2)
    else:
        raise PeerError(f"could not reach a server at {host}:{port} within {timeout:g} s ({last})")
    with conn:
        _send_line(conn, mine)
        theirs = _recv_line(conn, max(1.0, deadline - time.monotonic()))
    if not theirs.get("ok"):
        raise HandshakeError(f"handshake refused by the server: {theirs.get('problem')}")
    problem = _mismatch(mine, theirs)
    if problem:
        raise HandshakeError(f"handshake refused: {problem}")
    return f"tcp://{host}:{theirs['gloo_port']}"


def interface_bytes() -> int:
    """Bytes sent on every network interface of this host so far (/proc/net/dev, tx column)."""
    try:
        with open("/proc/net/dev") as f:
            return sum(int(line.split(":")[1].split()[8]) for line in f.readlines()[2:])
    except (OSError, IndexError, ValueError):
        return -1
