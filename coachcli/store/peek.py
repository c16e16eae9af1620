"""A quick look into a store that may be missing, busy or old: for shell completion.

`Store` is for commands: it creates a missing SQLite file (0600, in a 0700 folder), switches it to
WAL, and waits up to a minute for a lock. A Tab press must do none of that. `peek` opens an
existing store only, waits a fraction of a second at most, never migrates and never writes.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.engine import Engine, make_url
from sqlalchemy.pool import NullPool
from sqlmodel import Session, create_engine

from coachcli.errors import UsageError
from coachcli.store.engine import sqlite_file

LOCK_WAIT_SECONDS = 0.2  # SQLite: a busy database answers nothing rather than stall the shell
PG_CONNECT_SECONDS = 2
PG_STATEMENT_MS = 1000


def _engine(url: str) -> Engine | None:
    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        try:
            path = sqlite_file(parsed)  # the checks `Store` makes: no host, no in-memory store
        except UsageError:
            return None
        if path is None or not path.is_file():
            return None  # a `file:` URI, or nothing to complete from (and nothing is created)
        return create_engine(
            url, poolclass=NullPool, connect_args={"timeout": LOCK_WAIT_SECONDS, "check_same_thread": False}
        )
    connect_args: dict[str, object] = {}
    if backend == "postgresql":
        connect_args = {
            "connect_timeout": PG_CONNECT_SECONDS,
            "options": f"-c statement_timeout={PG_STATEMENT_MS} -c lock_timeout={PG_STATEMENT_MS}",
        }
    return create_engine(url, poolclass=NullPool, connect_args=connect_args)


@contextmanager
def peek(url: str) -> Iterator[Session | None]:
    """A read-only session on an existing store, or None when there is none to read."""
    engine = _engine(url)
    if engine is None:
        yield None
        return
    try:
        with Session(engine) as session:
            yield session
            session.rollback()  # nothing was meant to be written
    finally:
        engine.dispose()
