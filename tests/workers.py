"""Find and stop model workers (issue 13) by the socket they serve, so no test leaves one running.

Commands run as subprocesses start a worker unless COACH_WORKER=off reaches them; conftest stops
every worker whose socket lies under the session's temporary folder when the session ends.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from coachcli.processes import pid_alive

MODULE = b"coachcli.llm.worker.server"


def worker_pids(under: Path) -> dict[int, Path]:
    """Live worker processes whose socket is `under` (a socket path, or a folder above sockets)."""
    found: dict[int, Path] = {}
    prefix = os.fsencode(under)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if MODULE not in argv or b"--socket" not in argv:
            continue
        sock = argv[argv.index(b"--socket") + 1]
        if (sock == prefix or sock.startswith(prefix.rstrip(b"/") + b"/")) and pid_alive(int(entry.name)):
            found[int(entry.name)] = Path(os.fsdecode(sock))
    return found


def wait_gone(pid: int, limit: float = 30.0) -> bool:
    """Poll until `pid` has exited (a guard against hanging, not a timing assertion)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.05)
    return False


def stop_workers(under: Path) -> list[int]:
    """Terminate every worker serving a socket under `under`, and wait for each; their pids."""
    pids = list(worker_pids(under))
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            continue
    for pid in pids:
        if not wait_gone(pid, 10):
            os.kill(pid, signal.SIGKILL)
            wait_gone(pid, 10)
    return pids
