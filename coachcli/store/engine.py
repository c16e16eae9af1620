"""Engine and session set-up: SQLite in WAL with up-front write locks, or any SQLAlchemy URL."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import URL, Engine, make_url
from sqlalchemy.exc import NoSuchModuleError
from sqlmodel import Session, create_engine

from coachcli.errors import StoreError, UsageError
from coachcli.redact import redact

BUSY_TIMEOUT_SECONDS = 60.0
READONLY = "coach_readonly"
# Tables every coach store has had since the first revision: how a coach store is recognised.
COACH_TABLES = frozenset({"users", "conversations", "messages"})


def _prepare_sqlite_file(path: Path, *, create_folder: bool) -> None:
    """Create the folder 0700 and the file 0600 before SQLite does: private from birth."""
    if path.is_dir():
        raise UsageError(f"{path} is a folder, not a database file: use e.g. sqlite:///{path / 'coach.db'}.")
    folder = path.parent
    if not folder.exists():
        if not create_folder:
            raise StoreError(f"folder {folder} does not exist: create it, or point --db somewhere else.")
        try:
            missing = [p for p in (folder, *folder.parents) if not p.exists()]
            for part in reversed(missing):  # every folder we create is private, not just the last
                part.mkdir(mode=0o700, exist_ok=True)  # another coach may be creating it too
        except OSError as exc:
            raise StoreError(f"cannot create {folder}: {exc.strerror}.") from exc
    if not path.exists():
        try:
            fd = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
        except OSError as exc:
            raise StoreError(
                f"cannot create the database {path}: {exc.strerror}. "
                "Check the folder's permissions and free space, or use --home/--db."
            ) from exc
        os.close(fd)


def _switch_to_wal(cursor: Any) -> None:
    """Turn a new file to WAL. SQLite answers "locked" at once here, without its busy handler,
    while another process is doing the same: so wait and retry, up to the busy timeout."""
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def _is_ours(cursor: Any) -> bool:
    """Empty, or a coach store: the journal mode of another application's file is not ours to
    change (migrate.refuse_foreign then refuses the file, leaving it as it was)."""
    tables = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    return not tables or tables >= COACH_TABLES


def _install_sqlite_hooks(engine: Engine) -> None:
    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Let SQLAlchemy's "begin" event issue BEGIN itself, so writes can say IMMEDIATE.
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
            cursor.execute("PRAGMA foreign_keys = ON")
            mode = cursor.execute("PRAGMA journal_mode").fetchone()[0]
            if str(mode).lower() != "wal" and _is_ours(cursor):
                _switch_to_wal(cursor)
        finally:
            cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # A write transaction takes the lock at its start: no deadlocked lock upgrades later.
        readonly = conn.get_execution_options().get(READONLY, False)
        conn.exec_driver_sql("BEGIN" if readonly else "BEGIN IMMEDIATE")


def sqlite_file(url: URL) -> Path | None:
    """The file of a SQLite URL (None for a `file:` URI). Refuses what cannot be a lasting store."""
    database = url.database or ""
    if url.host:
        raise UsageError(
            f"{redact(url.render_as_string(hide_password=False))!r} is not a SQLite file URL (the part after "
            "'sqlite://' is a host): use sqlite:///coach.db (relative) or sqlite:////path/coach.db."
        )
    if database in ("", ":memory:") or "memory" in (url.query.get("mode"), url.query.get("vfs")):
        raise UsageError(
            "an in-memory database keeps nothing after the command ends: point --db at a file, "
            "e.g. sqlite:////path/coach.db."
        )
    if "\x00" in database:
        raise UsageError("a SQLite file name cannot contain a NUL byte (%00): point --db at a real file.")
    if database.startswith("file:"):
        return None
    return Path(database).expanduser().absolute()


class Store:
    """One database: its engine, and sessions for reading or writing."""

    def __init__(self, url: str, *, create_folder: bool = True) -> None:
        try:
            parsed = make_url(url)
        except Exception as exc:  # sqlalchemy raises ArgumentError with a long text
            shown = redact(url)
            raise UsageError(
                f"invalid database URL {shown!r}: expected e.g. sqlite:///path/coach.db."
            ) from exc
        try:
            parsed.get_dialect()  # an unknown scheme is bad input, found before any file is created
        except NoSuchModuleError as exc:
            raise UsageError(
                f"unknown database type {parsed.drivername!r}: use sqlite:///PATH/coach.db or "
                "postgresql+psycopg://USER@HOST/DB."
            ) from exc
        self.url = url
        self.dialect = parsed.get_backend_name()
        self.location = redact(url)  # the store in messages: the file, or the URL without secrets
        kwargs: dict[str, Any] = {}
        if self.dialect == "sqlite":
            self.path: Path | None = sqlite_file(parsed)
            if self.path is not None:
                _prepare_sqlite_file(self.path, create_folder=create_folder)
                self.location = str(self.path)
            kwargs["connect_args"] = {"timeout": BUSY_TIMEOUT_SECONDS, "check_same_thread": False}
        else:
            self.path = None
            kwargs["pool_pre_ping"] = True
            if self.dialect == "postgresql":
                from coachcli.store.models import postgresql_options

                postgresql_options()
        try:
            self.engine = create_engine(url, **kwargs)
        except ModuleNotFoundError as exc:
            raise StoreError(
                f"the driver for {self.dialect} is not installed ({exc.name}): "
                "for PostgreSQL install coachcli[postgres]; other databases need their SQLAlchemy driver."
            ) from exc
        if self.dialect == "sqlite":
            _install_sqlite_hooks(self.engine)
        self._readonly_engine = self.engine.execution_options(**{READONLY: True})

    @property
    def is_sqlite(self) -> bool:
        return self.dialect == "sqlite"

    def session(self) -> Session:
        """A session for work that writes; on SQLite each transaction is BEGIN IMMEDIATE."""
        return Session(self.engine, expire_on_commit=False)

    def read_session(self) -> Session:
        """A session for read-only work: readers never wait for the write lock."""
        return Session(self._readonly_engine, expire_on_commit=False)

    @contextmanager
    def write(self) -> Iterator[Session]:
        """Write work, committed at the end; on any error the open transaction is rolled back.

        Services may commit in between (a turn commits before each model call); then only the
        work since their last commit is rolled back. Commands use it through `cli.common.writing`."""
        with self.session() as session:
            try:
                yield session
            except BaseException:
                session.rollback()
                raise
            session.commit()

    def dispose(self) -> None:
        self.engine.dispose()
