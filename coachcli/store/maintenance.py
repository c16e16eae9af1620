"""Integrity checks and consistent backups of a store."""

from __future__ import annotations

import os
import sqlite3
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import text

from coachcli.errors import CoachError, UsageError
from coachcli.store.engine import Store
from coachcli.store.migrate import KNOWN_REVISIONS, SCHEMA_HEAD, current_revision


@dataclass
class CheckReport:
    ok: bool
    revision: str | None
    head: str
    problems: list[str] = field(default_factory=list)


def check(store: Store) -> CheckReport:
    """Schema revision against this package's head, then the engine's own integrity checks."""
    problems: list[str] = []
    revision = current_revision(store)
    if revision is None:
        problems.append("no schema yet: any coach command (or `coach db upgrade`) creates it")
    elif revision not in KNOWN_REVISIONS:
        problems.append(
            f"schema {revision} is newer than this coachcli knows ({SCHEMA_HEAD}): upgrade coachcli"
        )
    elif revision != SCHEMA_HEAD:
        problems.append(f"schema {revision} is behind {SCHEMA_HEAD}: run `coach db upgrade`")
    with store.engine.connect() as conn:
        conn = conn.execution_options(coach_readonly=True)
        if store.is_sqlite:
            rows = [r[0] for r in conn.execute(text("PRAGMA integrity_check"))]
            if rows != ["ok"]:
                problems.extend(f"integrity: {row}" for row in rows[:20])
            broken = conn.execute(text("PRAGMA foreign_key_check")).fetchall()
            if broken:
                problems.append(f"{len(broken)} rows reference missing rows (foreign_key_check)")
        else:
            conn.execute(text("SELECT 1"))
    return CheckReport(ok=not problems, revision=revision, head=SCHEMA_HEAD, problems=problems)


def backup(store: Store, destination: Path, *, force: bool = False) -> Path:
    """A consistent copy of a SQLite store, taken with SQLite's online backup while others write.

    Written to a temporary file next to the destination and renamed into place, so the
    destination is either the old file or a complete copy; the temporary file never outlives a
    failure. The live database (or its -wal/-shm files, under any name) is never a destination."""
    if not store.is_sqlite or store.path is None:
        raise CoachError(
            "`coach db backup` copies SQLite stores; for PostgreSQL use the server's tools, e.g. "
            '`pg_dump --format=custom --file=coach.dump "$DATABASE"` (restore with pg_restore).'
        )
    destination = _check_destination(store.path, destination.expanduser().absolute(), force=force)
    try:
        fd, name = tempfile.mkstemp(prefix=f".{destination.name}.", suffix=".partial", dir=destination.parent)
    except OSError as exc:
        raise CoachError(f"cannot write {destination}: {exc.strerror}; pick a folder you can write.") from exc
    os.close(fd)  # mkstemp made it 0600: the copy is as private as the store
    tmp = Path(name)
    try:
        source = sqlite3.connect(f"file:{store.path}?mode=ro", uri=True, timeout=60)
        try:
            target = sqlite3.connect(tmp)
            try:
                source.backup(target)
                target.execute("PRAGMA journal_mode = DELETE")
            finally:
                target.close()
        finally:
            source.close()
        os.replace(tmp, destination)
    except (sqlite3.Error, OSError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise CoachError(f"backup failed: {reason}; nothing was written to {destination}.") from exc
    finally:
        tmp.unlink(missing_ok=True)  # gone already after a successful rename
    return destination


def _check_destination(live: Path, destination: Path, *, force: bool) -> Path:
    """Refuse (exit 2) a destination that is a folder, a missing folder's file, an existing file
    without --force, or the live database itself, whatever the path that names it."""
    if destination.is_dir():
        raise UsageError(
            f"{destination} is a folder: give a file name, e.g. {destination / 'coach-backup.db'}."
        )
    if not destination.parent.is_dir():
        raise UsageError(f"folder {destination.parent} does not exist.")
    real = Path(os.path.realpath(destination))
    live_files = [
        Path(os.path.realpath(live)).with_name(live.name + suffix)
        for suffix in ("", "-wal", "-shm", "-journal")
    ]
    if any(
        real == path or (real.exists() and path.exists() and os.path.samefile(real, path))
        for path in live_files
    ):
        raise UsageError(
            f"{destination} is the live database (or one of its -wal/-shm files): back it up to another file."
        )
    if destination.exists() and not force:
        raise UsageError(f"{destination} exists: choose another file or pass --force.")
    return destination
