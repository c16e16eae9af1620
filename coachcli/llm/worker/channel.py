"""A command's connection to the worker: connect, check who answers, exchange frames."""

from __future__ import annotations

import contextlib
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coachcli.llm.worker import protocol
from coachcli.llm.worker.protocol import ChannelClosed, ProtocolError

CONNECT_TIMEOUT = 5.0  # a live worker accepts at once; only a wedged one takes this long
IDENTITY_KEYS = ("version", "stamp", "python", "executable")


class WorkerUnavailable(Exception):
    """No worker could be reached on this socket (none running, refused, or not ours)."""


class WorkerGone(Exception):
    """The worker went away (or sent nonsense) in the middle of a request."""


class Channel:
    """One open connection; `hello` is what the worker said about itself."""

    def __init__(self, sock: socket.socket, hello: dict[str, Any]) -> None:
        self.sock = sock
        self.hello = hello

    @classmethod
    def open(cls, path: Path, *, timeout: float = CONNECT_TIMEOUT) -> Channel:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(timeout)
        try:
            sock.connect(str(path))
            if not protocol.same_user(sock):  # the folder is private, but check who listens
                raise WorkerUnavailable("the socket belongs to another user")
            protocol.send(sock, {"op": "hello", **protocol.identity()})
            hello = protocol.receive(sock)
        except (OSError, ProtocolError) as exc:
            sock.close()
            raise WorkerUnavailable(str(exc) or type(exc).__name__) from None
        except WorkerUnavailable:
            sock.close()
            raise
        if hello.get("op") != "hello":
            sock.close()
            raise WorkerUnavailable(str(hello.get("message") or "the worker refused the connection"))
        return cls(sock, hello)

    @property
    def pid(self) -> int:
        return int(self.hello.get("pid") or 0)

    def matches(self) -> bool:
        """Does the worker run the same coachcli, code and Python as this command?"""
        mine = protocol.identity()
        return all(self.hello.get(key) == mine[key] for key in IDENTITY_KEYS)

    def ask(self, request: dict[str, Any], *, timeout: float | None = None) -> dict[str, Any]:
        """Send one request and return the one answer."""
        self.sock.settimeout(timeout)
        try:
            protocol.send(self.sock, request)
            return protocol.receive(self.sock)
        except (OSError, ProtocolError) as exc:
            raise WorkerGone(str(exc) or type(exc).__name__) from None

    def frames(self, request: dict[str, Any], *, timeout: float | None = None) -> Iterator[dict[str, Any]]:
        """Send one request and yield the answers as they come (the caller stops at the last)."""
        self.sock.settimeout(timeout)
        try:
            protocol.send(self.sock, request)
        except OSError as exc:
            raise WorkerGone(str(exc)) from None
        while True:
            try:
                yield protocol.receive(self.sock)
            except (OSError, ChannelClosed, ProtocolError) as exc:
                raise WorkerGone(str(exc) or type(exc).__name__) from None

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.sock.shutdown(socket.SHUT_RDWR)
        self.sock.close()
