"""Who runs a dispatch, and whether that runner is still alive: the signal behind `interrupted`."""

from __future__ import annotations

import os
import socket
import threading
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import update
from sqlmodel import Session, col

from coachcli.processes import pid_alive, process_start
from coachcli.store.models import Dispatch
from coachcli.store.types import utcnow

if TYPE_CHECKING:
    from sqlalchemy.engine import Connection, Engine

HEARTBEAT_SECONDS = 15.0
# A runner on another machine is presumed dead when its heartbeat is this old.
STALE_AFTER = timedelta(seconds=90)


def identity() -> tuple[str, int, str | None]:
    pid = os.getpid()
    return socket.gethostname(), pid, process_start(pid)


def runner_alive(host: str | None, pid: int | None, start: str | None, heartbeat_at: datetime | None) -> bool:
    """Same machine: the process itself is checked. Elsewhere: the heartbeat's age decides."""
    if host == socket.gethostname() and pid is not None:
        if not pid_alive(pid):
            return False
        current = process_start(pid)
        return start is None or current is None or current == start
    if heartbeat_at is None:
        return False
    return utcnow() - heartbeat_at < STALE_AFTER


class Heartbeat:
    """Touch the dispatch's heartbeat_at from a side thread while the model works."""

    def __init__(self, bind: Engine | Connection, dispatch_id: str) -> None:
        self._bind = bind
        self._dispatch_id = dispatch_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="dispatch-heartbeat", daemon=True)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(HEARTBEAT_SECONDS):
            try:
                with Session(self._bind) as session, session.begin():
                    session.execute(
                        update(Dispatch)
                        .where(col(Dispatch.id) == self._dispatch_id, col(Dispatch.status) == "running")
                        .values(heartbeat_at=utcnow())
                    )
            except Exception:  # a missed beat is harmless; the next one retries
                continue
