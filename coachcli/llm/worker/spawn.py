"""Start, find and stop the worker. A lock file makes racing starts give one worker: the second
starter waits for the first one's worker instead of starting its own."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from coachcli.llm.worker import protocol
from coachcli.llm.worker.channel import Channel, WorkerGone, WorkerUnavailable
from coachcli.llm.worker.paths import WorkerPaths, worker_paths

START_WAIT = 20.0  # the socket is bound before litellm loads: this is Python's start-up, at worst

# What the worker inherits: enough to run Python and reach a provider (proxies, CA bundles).
# No keys: those come with each call. COACH_WORKER=off: the worker's own client never recurses.
_PASSED = (
    "PATH", "HOME", "USER", "LOGNAME", "LANG", "TZ", "TMPDIR", "PYTHONPATH", "SSL_CERT_FILE",
    "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY",
    "ALL_PROXY", "http_proxy", "https_proxy", "no_proxy", "all_proxy", "LITELLM_LOCAL_MODEL_COST_MAP",
    "LITELLM_LOG",
)  # fmt: skip


def worker_environment() -> dict[str, str]:
    env = {name: os.environ[name] for name in _PASSED if name in os.environ}
    env.update({k: v for k, v in os.environ.items() if k.startswith("LC_")})
    env["COACH_WORKER"] = "off"
    return env


def ensure_running(paths: WorkerPaths, idle_seconds: float, *, wait: float = START_WAIT) -> bool:
    """A worker answers on `paths.socket` when this returns True (started now if need be)."""
    starting = Start(paths, idle_seconds)
    starting.begin()
    return starting.finish(wait)


class Start:
    """Starting a worker in two steps, so a command can launch it first thing and wait for it only
    when it needs it. The start lock is held in between: a racing command waits for this worker
    instead of starting its own."""

    def __init__(self, paths: WorkerPaths, idle_seconds: float) -> None:
        self.paths = paths
        self.idle_seconds = idle_seconds
        self._lock_fd: int | None = None
        self._starter: subprocess.Popen[bytes] | None = None

    def begin(self) -> None:
        """Launch a worker unless one answers or another command is starting one (never waits)."""
        if protocol.reachable(self.paths.socket):
            return
        import fcntl  # POSIX only, like the worker itself

        fd = os.open(self.paths.lock, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return
        self._lock_fd = fd
        if protocol.reachable(self.paths.socket):
            self._release()
            return
        self._starter = launch(self.paths, self.idle_seconds)

    def finish(self, wait: float = START_WAIT) -> bool:
        """Wait until a worker answers (launching one if nobody did); False after `wait` seconds."""
        deadline = time.monotonic() + wait
        try:
            while time.monotonic() < deadline:
                if protocol.reachable(self.paths.socket):
                    return True
                if self._lock_fd is None:
                    self.begin()  # whoever was starting one gave up, or it went away meanwhile
                time.sleep(0.01)
            return protocol.reachable(self.paths.socket)
        finally:
            if self._starter is not None:
                self._starter.wait()  # it forked the worker and exited: nothing left to reap
                self._starter = None
            self._release()

    def _release(self) -> None:
        if self._lock_fd is not None:
            import fcntl

            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)
            os.close(self._lock_fd)
            self._lock_fd = None


def launch(paths: WorkerPaths, idle_seconds: float) -> subprocess.Popen[bytes]:
    """Start a detached worker: own session, no inherited stdin/stdout/stderr or files, cwd `/`."""
    command = [
        sys.executable,
        "-m",
        "coachcli.llm.worker.server",
        "--socket",
        str(paths.socket),
        "--idle",
        repr(float(idle_seconds)),
    ]
    return subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd="/",
        env=worker_environment(),
        start_new_session=True,
        close_fds=True,
    )


def status(paths: WorkerPaths) -> dict[str, Any] | None:
    """The running worker's own account of itself, or None when none answers."""
    try:
        channel = Channel.open(paths.socket)
    except WorkerUnavailable:
        return None
    try:
        return channel.ask({"op": "status"}, timeout=5.0)
    except WorkerGone:
        return None
    finally:
        channel.close()


def stop(paths: WorkerPaths) -> int | None:
    """Ask the worker to stop: it lets go of the socket at once and exits when its calls end.
    Returns its pid, or None when none was running."""
    try:
        channel = Channel.open(paths.socket)
    except WorkerUnavailable:
        return None
    try:
        answer = channel.ask({"op": "stop"}, timeout=5.0)
    except WorkerGone:
        return None
    finally:
        channel.close()
    return int(answer.get("pid") or 0) or None


@dataclass(frozen=True)
class WorkerStatus:
    """What `coach worker status` shows: None fields when no worker runs."""

    running: bool
    pid: int | None = None
    started_at: datetime | None = None
    requests_served: int | None = None
    idle_seconds: float | None = None
    version: str | None = None


def describe(home: Path) -> WorkerStatus:
    """The status of <home>'s worker (asked of the worker itself)."""
    paths = worker_paths(home, create=False)
    answer = status(paths) if paths is not None else None
    if answer is None:
        return WorkerStatus(running=False)
    return WorkerStatus(
        running=True,
        pid=int(answer["pid"]),
        started_at=datetime.fromtimestamp(float(answer["started_at"]), tz=UTC),
        requests_served=int(answer["requests_served"]),
        idle_seconds=float(answer["idle_seconds"]),
        version=str(answer["version"]),
    )


def stop_for(home: Path) -> int | None:
    """Stop <home>'s worker; its pid, or None when none was running."""
    paths = worker_paths(home, create=False)
    return stop(paths) if paths is not None else None
