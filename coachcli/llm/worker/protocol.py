"""The worker's wire format: length-prefixed JSON frames over a Unix socket, and who is talking.

A frame is a 4-byte big-endian length and one UTF-8 JSON object. A connection opens with `hello`
both ways; the worker's answer carries its identity (coachcli version, code stamp, Python,
executable), and a command that differs stops it and starts its own. Then the command sends
requests (`op`): `status`, `stop`, `needs`, `info`, `count`, `call`. A `call` is answered by
`text` frames and one `done` or `error` frame.
"""

from __future__ import annotations

import functools
import json
import os
import platform
import socket
import struct
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from coachcli import __version__
from coachcli.llm.types import Completion, ToolCall

MAX_FRAME = 64 * 1024 * 1024
_HEADER = struct.Struct(">I")


class ChannelClosed(ConnectionError):
    """The other side closed the connection (or it broke) before a whole frame arrived."""


class ProtocolError(ValueError):
    """A frame that is not what the protocol allows (too large, not a JSON object)."""


def send(sock: socket.socket, message: dict[str, Any]) -> None:
    data = json.dumps(message, separators=(",", ":"), default=str).encode("utf-8")
    if len(data) > MAX_FRAME:
        raise ProtocolError(f"frame of {len(data)} bytes exceeds {MAX_FRAME}")
    sock.sendall(_HEADER.pack(len(data)) + data)


def receive(sock: socket.socket) -> dict[str, Any]:
    (size,) = _HEADER.unpack(_exactly(sock, _HEADER.size))
    if size > MAX_FRAME:
        raise ProtocolError(f"frame of {size} bytes exceeds {MAX_FRAME}")
    try:
        message = json.loads(_exactly(sock, size))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ProtocolError(f"unreadable frame: {exc}") from None
    if not isinstance(message, dict):
        raise ProtocolError("a frame must hold a JSON object")
    return message


def _exactly(sock: socket.socket, size: int) -> bytes:
    chunks: list[bytes] = []
    left = size
    while left:
        try:
            chunk = sock.recv(min(left, 1 << 20))
        except (ConnectionResetError, BrokenPipeError) as exc:
            raise ChannelClosed(str(exc)) from None
        if not chunk:
            raise ChannelClosed("connection closed")
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def reachable(path: Path | str) -> bool:
    """Does a live process accept connections on the socket at `path`?"""
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def peer_uid(sock: socket.socket) -> int | None:
    """The uid of the process at the other end (SO_PEERCRED); None where the OS cannot say."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None:
        return None
    creds = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    return int(uid)


def same_user(sock: socket.socket, uid: int | None = None) -> bool:
    """Is the peer this user (or `uid`)? Unknown counts as no."""
    expected = os.getuid() if uid is None else uid
    return peer_uid(sock) == expected


def identity() -> dict[str, str]:
    """What must match between a command and the worker that runs its calls."""
    return {
        "version": __version__,
        "stamp": code_stamp(),
        "python": platform.python_version(),
        "executable": sys.executable,
    }


@functools.cache
def code_stamp() -> str:
    """Where the model code lives and when it last changed: a reinstall or an edit restarts the worker.
    Read once per process (the worker reads it as it starts): a worker reports the code it
    loaded, not the files on disk now, or it would never look out of date."""
    llm = Path(__file__).resolve().parent.parent
    newest = 0
    for folder in (llm, llm / "worker"):
        with os.scandir(folder) as entries:
            for entry in entries:
                if entry.name.endswith(".py"):
                    newest = max(newest, entry.stat().st_mtime_ns)
    return f"{llm}:{newest}"


def completion_to_wire(completion: Completion) -> dict[str, Any]:
    return asdict(completion)


def completion_from_wire(data: dict[str, Any]) -> Completion:
    calls = [ToolCall(**call) for call in data.get("tool_calls") or []]
    return Completion(**{**data, "tool_calls": calls})
