"""The worker process: binds the socket, imports litellm once, serves each connection in a thread.

    python -m coachcli.llm.worker.server --socket PATH --idle SECONDS   (started by `spawn`)

It answers only this user's processes (SO_PEERCRED), logs nothing, writes nothing to the store,
and exits after `--idle` seconds without a model request, or at once on `stop` (after the calls in
flight end). The socket is bound before litellm is imported, so a command can connect at once and
do its own work while the import finishes.
"""

from __future__ import annotations

import argparse
import contextlib
import gc
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from coachcli.llm.worker import protocol
from coachcli.llm.worker.protocol import ChannelClosed, ProtocolError

MODEL_OPS = frozenset({"needs", "info", "count", "call"})


class AlreadyRunning(Exception):
    """Another worker answers on this socket."""


def bind(path: Path) -> socket.socket:
    """Listen on `path` (0600), replacing a stale socket left by a killed worker."""
    if path.exists() or path.is_symlink():
        if protocol.reachable(path):
            raise AlreadyRunning(str(path))
        path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    previous = os.umask(0o177)  # the socket is created 0600 (the worker is single-threaded here)
    try:
        listener.bind(str(path))
    finally:
        os.umask(previous)
    os.chmod(path, 0o600)
    listener.listen(64)
    return listener


class Worker:
    def __init__(self, path: Path, idle_seconds: float, *, uid: int | None = None) -> None:
        self.path = path
        self.idle_seconds = idle_seconds
        self.uid = os.getuid() if uid is None else uid
        self.started_at = time.time()
        self.requests_served = 0
        self.ready = threading.Event()
        self.import_failed = False
        self.stopping = threading.Event()
        self._busy = threading.Condition()
        self._active = 0
        self._last_used = time.monotonic()
        self._listener: socket.socket | None = None
        self._inode: int | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    def serve_forever(self) -> None:
        protocol.code_stamp()  # the code this process loaded, before anything can change it
        self._listener = bind(self.path)
        self._inode = os.stat(self.path).st_ino
        signal.signal(signal.SIGTERM, lambda _signum, _frame: self.stop())  # as `coach worker stop`
        threading.Thread(target=self._import, name="import", daemon=True).start()
        self._listener.settimeout(min(1.0, max(0.05, self.idle_seconds / 4)))
        while not self.stopping.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                if self._idle_expired() or not self._reachable():
                    break
                continue
            except OSError:  # the listener was closed by `stop`
                break
            conn.settimeout(None)
            threading.Thread(target=self.handle, args=(conn,), daemon=True).start()
        self.stop()
        with self._busy:
            self._busy.wait_for(lambda: self._active == 0)

    def _import(self) -> None:
        from coachcli.llm.loader import load

        try:
            load()
        except Exception:
            self.import_failed = True
        # What the import built lives as long as the worker: freezing it keeps the collections
        # run after each call (see calls.forget_clients) down to the objects that call made.
        gc.collect()
        gc.freeze()
        self.ready.set()

    def _idle_expired(self) -> bool:
        with self._busy:
            return self._active == 0 and time.monotonic() - self._last_used >= self.idle_seconds

    def _reachable(self) -> bool:
        """Is our socket still at its path? (Its folder removed or the file replaced: nobody can
        reach this worker any more, so it goes.)"""
        try:
            return os.stat(self.path).st_ino == self._inode
        except OSError:
            return False

    def stop(self) -> None:
        """Take the socket away now (only if it is still ours); calls in flight finish."""
        self.stopping.set()
        with contextlib.suppress(OSError):
            if self._inode is not None and os.stat(self.path).st_ino == self._inode:
                self.path.unlink()
        if self._listener is not None:
            with contextlib.suppress(OSError):
                self._listener.shutdown(socket.SHUT_RDWR)
            self._listener.close()

    def status(self) -> dict[str, Any]:
        with self._busy:
            idle = 0.0 if self._active else time.monotonic() - self._last_used
        return {
            "op": "status",
            "pid": os.getpid(),
            "started_at": self.started_at,
            "requests_served": self.requests_served,
            "idle_seconds": round(idle, 3),
            "ready": self.ready.is_set(),
            **protocol.identity(),
        }

    @contextlib.contextmanager
    def _in_use(self, *, call: bool) -> Iterator[None]:
        with self._busy:
            self._active += 1
        try:
            yield
        finally:
            with self._busy:
                self._active -= 1
                self._last_used = time.monotonic()
                if call:
                    self.requests_served += 1
                last = self._active == 0
                self._busy.notify_all()
            if call and last:
                from coachcli.llm.worker.calls import forget_clients

                forget_clients()

    # -- one connection ----------------------------------------------------------------------

    def handle(self, conn: socket.socket) -> None:
        with conn:
            try:
                if not protocol.same_user(conn, self.uid):
                    protocol.send(conn, {"op": "refused", "message": "not this worker's user"})
                    return
                if protocol.receive(conn).get("op") != "hello":
                    return
                protocol.send(conn, {"op": "hello", "pid": os.getpid(), **protocol.identity()})
                while self._answer(conn, protocol.receive(conn)):
                    pass
            except (ChannelClosed, ProtocolError, OSError):
                return

    def _answer(self, conn: socket.socket, request: dict[str, Any]) -> bool:
        """Answer one request; False ends the connection."""
        op = request.get("op")
        if op == "status":
            protocol.send(conn, self.status())
            return True
        if op == "stop":
            # Counted as in use, so the main thread (woken by the closed listener) waits for this
            # answer before the process exits: otherwise `coach worker stop` can read an EOF.
            with self._in_use(call=False):
                self.stop()
                protocol.send(conn, {"op": "stopped", "pid": os.getpid()})
            return False
        if op not in MODEL_OPS:
            protocol.send(conn, {"op": "error", "kind": "protocol", "message": f"unknown op {op!r}"})
            return False
        with self._in_use(call=op == "call"):
            self.ready.wait()
            if self.import_failed:
                protocol.send(conn, {"op": "unsupported", "message": "litellm did not load"})
                return False
            _model_op(conn, op, request)
        return True


def _model_op(conn: socket.socket, op: str, request: dict[str, Any]) -> None:
    from coachcli.errors import MissingCredentialsError, ProviderError
    from coachcli.llm.worker import calls
    from coachcli.llm.worker.protocol import completion_to_wire

    model = str(request.get("model") or "")
    try:
        if op == "needs":
            names = calls.needed_variables(model, request.get("api_base"))
            protocol.send(conn, {"op": "needs", "names": names})
        elif op == "info":
            protocol.send(conn, {"op": "info", "info": calls.model_info(model)})
        elif op == "count":
            counts = [calls.count_tokens(model, list(batch)) for batch in request.get("batches") or []]
            protocol.send(conn, {"op": "count", "counts": counts})
        else:

            def on_text(piece: str) -> None:
                protocol.send(conn, {"op": "text", "text": piece})

            stream = on_text if request.get("stream") else None
            completion = calls.run_call(request, stream)
            protocol.send(conn, {"op": "done", "completion": completion_to_wire(completion)})
    except calls.Unsupported as exc:
        protocol.send(conn, {"op": "unsupported", "message": str(exc)})
    except ProviderError as exc:
        partial = getattr(exc, "partial", None)
        kind = "missing_credentials" if isinstance(exc, MissingCredentialsError) else "provider"
        protocol.send(
            conn,
            {
                "op": "error",
                "kind": "broken" if partial is not None else kind,
                "message": exc.message,
                "partial": completion_to_wire(partial) if partial is not None else None,
            },
        )
    except (ChannelClosed, OSError):
        raise
    except Exception as exc:  # a bug here, not the provider's answer: the command goes in-process
        protocol.send(conn, {"op": "error", "kind": "internal", "message": type(exc).__name__})


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coachcli-worker", description=__doc__.splitlines()[0])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--idle", type=float, default=900.0)
    args = parser.parse_args(argv)
    # Second fork: the starter reaps our parent at once, and this process, no session leader,
    # can never take a controlling terminal.
    if os.fork() > 0:
        os._exit(0)
    with contextlib.suppress(AlreadyRunning):
        Worker(Path(args.socket), args.idle).serve_forever()
    os._exit(0)


if __name__ == "__main__":
    main()
