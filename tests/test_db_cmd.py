"""Stores pointed at the wrong thing, and `coach db backup` pointed at the wrong place.

Why: `--db` and the backup target are typed by a person. Another application's database must
come out of a coach command exactly as it went in; a URL that cannot hold a lasting store is bad
input (exit 2); a backup never overwrites the live database and never leaves a partial file.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text

from coachcli.store import maintenance
from coachcli.store.engine import Store

# --- another application's database -------------------------------------------------------------------

FOREIGN = {
    "tables, no alembic": (
        [
            "CREATE TABLE invoices (id INTEGER PRIMARY KEY, total INTEGER)",
            "INSERT INTO invoices VALUES (1, 40)",
            "CREATE TABLE customers (id INTEGER PRIMARY KEY)",
        ],
        ("customers, invoices", "no coach schema"),
    ),
    "its own alembic revision": (
        [
            "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
            "INSERT INTO alembic_version VALUES ('ae1027a6acf')",
            "CREATE TABLE widgets (id INTEGER PRIMARY KEY)",
        ],
        ("widgets", "'ae1027a6acf', not coach's"),
    ),
    "a table named like one of coach's": (
        ["CREATE TABLE users (id INTEGER PRIMARY KEY, email TEXT)", "INSERT INTO users VALUES (1, 'a@b.c')"],
        ("users", "no coach schema"),
    ),
}
COMMANDS = [("facts", "add", "Likes tea"), ("tasks", "list"), ("db", "upgrade"), ("db", "check")]


def make_foreign(tmp_path: Path, database: str | None, statements: list[str]) -> str:
    """Another application's database: a SQLite file, or this test's PostgreSQL database emptied."""
    url = database or f"sqlite:///{tmp_path / 'other-app.db'}"
    engine = create_engine(url)
    with engine.begin() as conn:
        if database is not None:
            conn.execute(text("DROP SCHEMA public CASCADE"))
            conn.execute(text("CREATE SCHEMA public"))
        for statement in statements:
            conn.execute(text(statement))
    engine.dispose()
    return url


def contents(url: str) -> Any:
    """Everything a write could change: the file's bytes on SQLite, every table's rows elsewhere."""
    if url.startswith("sqlite"):
        return hashlib.sha256(Path(url.removeprefix("sqlite:///")).read_bytes()).hexdigest()
    engine = create_engine(url)
    with engine.connect() as conn:
        names = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).scalars()
        found = {name: sorted(conn.execute(text(f'SELECT * FROM "{name}"')).all()) for name in sorted(names)}
    engine.dispose()
    return found


@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
@pytest.mark.parametrize(("statements", "needles"), list(FOREIGN.values()), ids=list(FOREIGN))
def test_another_applications_database_is_refused_and_left_as_it_was(
    coach, tmp_path: Path, database: str | None, statements: list[str], needles: tuple[str, ...], args
) -> None:
    url = make_foreign(tmp_path, database, statements)
    before = contents(url)
    run = coach("--db", url, *args)
    assert run.exit_code == 1, (run.stdout, run.stderr)
    assert run.stderr.startswith("Error: ") and run.stderr.count("\n") == 1, run.stderr
    for needle in ("has tables", *needles, "left unchanged"):
        assert needle in run.stderr
    assert run.stdout == ""
    assert contents(url) == before
    assert not list(tmp_path.glob("other-app.db-*"))  # no WAL or journal files created either


@pytest.mark.sqlite_only
@pytest.mark.parametrize("args", COMMANDS, ids=[" ".join(a) for a in COMMANDS])
def test_a_file_that_is_not_a_database_is_refused_and_left_as_it_was(coach, tmp_path: Path, args) -> None:
    notes = tmp_path / "notes.txt"
    notes.write_text("Groceries: tea, oats\n" * 200)
    run = coach("--db", f"sqlite:///{notes}", *args)
    assert run.exit_code == 1 and run.stderr.count("\n") == 1 and "not a coach database" in run.stderr
    assert notes.read_text() == "Groceries: tea, oats\n" * 200
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("notes")] == ["notes.txt"]  # no -wal


def test_an_empty_database_becomes_a_coach_store(coach, tmp_path: Path, database: str | None) -> None:
    """The refusal is about what a database holds: an empty one (no tables) is a fine new store."""
    url = make_foreign(tmp_path, database, [])
    assert coach("--db", url, "facts", "add", "Likes tea").exit_code == 0
    assert [f["text"] for f in coach("--db", url, "facts", "list", "--json").json()] == ["Likes tea"]


# --- URLs that cannot be a lasting store -------------------------------------------------------------------

BAD_URLS = {
    "sqlite://": "in-memory",
    "sqlite:///:memory:": "in-memory",
    "sqlite:///file:coach?mode=memory&uri=true": "in-memory",
    "sqlite://coach.db": "is not a SQLite file URL",
    "sqlite://host/coach.db": "is not a SQLite file URL",
    "nosuchdb://x": "unknown database type 'nosuchdb'",
    "postgresql+nosuchdriver://u@h/db": "unknown database type",
    "sqlite+nodriver:///typo/coach.db": "unknown database type",
    "sqlite:///.": "is a folder",
    "not-a-url": "invalid database URL",
    "::": "invalid database URL",
}


@pytest.mark.parametrize(("url", "needle"), list(BAD_URLS.items()), ids=list(BAD_URLS))
def test_bad_database_urls_are_usage_errors(
    coach, tmp_path: Path, monkeypatch, url: str, needle: str
) -> None:
    monkeypatch.chdir(tmp_path)  # a relative file would land here
    run = coach("--db", url, "facts", "add", "Likes tea")
    assert run.exit_code == 2, (run.stdout, run.stderr)
    assert run.stderr.startswith("Error: ") and run.stderr.count("\n") == 1 and needle in run.stderr
    assert list(tmp_path.iterdir()) == []


# --- db backup ------------------------------------------------------------------------------------------


@pytest.fixture
def live(coach, home: Path) -> Path:
    """A SQLite store holding one fact."""
    assert coach("facts", "add", "Likes tea").exit_code == 0
    return home / "coach.db"


def leftovers(*folders: Path) -> list[Path]:
    return [p for folder in folders for p in folder.iterdir() if p.name.endswith(".partial")]


def still_intact(coach) -> bool:
    return [f["text"] for f in coach("facts", "list", "--json").json()] == ["Likes tea"]


TARGETS = {
    "a folder": lambda live, tmp: tmp,
    "the live file": lambda live, tmp: live,
    "its WAL file": lambda live, tmp: live.with_name("coach.db-wal"),
    "a symlink to it": lambda live, tmp: _symlink(tmp / "link.db", live),
    "a relative path to it": lambda live, tmp: Path(os.path.relpath(live, tmp)),
    "a hard link to it": lambda live, tmp: _hardlink(tmp / "hard.db", live),
}


def _symlink(link: Path, target: Path) -> Path:
    link.symlink_to(target)
    return link


def _hardlink(link: Path, target: Path) -> Path:
    link.hardlink_to(target)
    return link


@pytest.mark.sqlite_only
@pytest.mark.parametrize("force", [False, True], ids=["", "--force"])
@pytest.mark.parametrize("target", list(TARGETS.values()), ids=list(TARGETS))
def test_backup_refuses_a_folder_and_the_live_database(
    coach, live: Path, tmp_path: Path, monkeypatch, target, force: bool
) -> None:
    folder = tmp_path / "elsewhere"
    folder.mkdir()
    monkeypatch.chdir(folder)
    destination = target(live, folder)
    before = live.read_bytes()
    run = coach("db", "backup", str(destination), *(["--force"] if force else []))
    assert run.exit_code == 2, (run.stdout, run.stderr)
    assert run.stderr.startswith("Error: ") and run.stderr.count("\n") == 1
    assert "folder" in run.stderr or "live database" in run.stderr
    assert leftovers(folder, live.parent) == []
    assert live.read_bytes() == before and still_intact(coach)


class _FailingCopy:
    """A sqlite3 connection whose online backup fails half way (a disk error, say)."""

    def __init__(self, real: sqlite3.Connection) -> None:
        self.real = real

    def backup(self, target: Any) -> None:
        raise sqlite3.OperationalError("disk I/O error")

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


def _fail_copy(monkeypatch: pytest.MonkeyPatch) -> None:
    connect = sqlite3.connect
    monkeypatch.setattr(maintenance.sqlite3, "connect", lambda *a, **k: _FailingCopy(connect(*a, **k)))


def _fail_rename(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*_args: Any) -> None:
        raise OSError(18, "Invalid cross-device link")

    monkeypatch.setattr(maintenance.os, "replace", refuse)


@pytest.mark.sqlite_only
@pytest.mark.parametrize("fail", [_fail_copy, _fail_rename], ids=["copy fails", "rename fails"])
def test_a_failed_backup_leaves_no_partial_file_and_no_destination(
    coach, live: Path, tmp_path: Path, monkeypatch, fail
) -> None:
    fail(monkeypatch)
    run = coach("db", "backup", str(tmp_path / "copy.db"))
    assert run.exit_code == 1 and "backup failed" in run.stderr and "nothing was written" in run.stderr
    assert not (tmp_path / "copy.db").exists()
    assert leftovers(tmp_path) == []


@pytest.mark.sqlite_only
def test_an_interrupted_backup_leaves_no_partial_file(live: Path, tmp_path: Path, monkeypatch) -> None:
    def interrupted(*_args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(maintenance.os, "replace", interrupted)
    store = Store(f"sqlite:///{live}")
    try:
        with pytest.raises(KeyboardInterrupt):
            maintenance.backup(store, tmp_path / "copy.db")
    finally:
        store.dispose()
    assert leftovers(tmp_path) == [] and not (tmp_path / "copy.db").exists()


@pytest.mark.sqlite_only
def test_backup_with_force_replaces_an_older_backup(coach, live: Path, tmp_path: Path) -> None:
    old = tmp_path / "copy.db"
    old.write_bytes(b"an older backup")
    assert coach("db", "backup", str(old)).exit_code == 2
    assert old.read_bytes() == b"an older backup"
    assert coach("db", "backup", str(old), "--force").exit_code == 0
    copy = sqlite3.connect(old)
    try:
        assert copy.execute("SELECT text FROM user_facts").fetchall() == [("Likes tea",)]
    finally:
        copy.close()
    assert leftovers(tmp_path) == []


# --- Alembic loads only when there is a revision to apply ----------------------------------------------

# Prints, at exit, whether the command loaded Alembic (after the command's own output).
_PROBE = (
    "import atexit, sys; atexit.register(lambda: print('alembic' in sys.modules)); "
    "sys.argv = ['coach', *sys.argv[1:]]; from coachcli.cli.app import main; main()"
)


def test_db_upgrade_loads_alembic_only_when_a_revision_is_pending(database: str | None) -> None:
    import subprocess
    import sys

    def upgrade() -> tuple[dict[str, Any], bool]:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, "db", "upgrade", "--json"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        document, loaded = done.stdout.rsplit("\n", 2)[:2]
        return json.loads(document), loaded == "True"

    first, first_loaded = upgrade()
    assert first_loaded == first["changed"] == (database is None)  # a new SQLite file needs its schema
    second, second_loaded = upgrade()
    assert second["changed"] is False and second_loaded is False
