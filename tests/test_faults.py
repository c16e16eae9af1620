"""Faults: kill -9 mid-reply and mid-dispatch, newer/read-only/missing/full databases, upgrades, backups.

Why: a coaching store holds months of someone's history. These tests break things the way the
real world does (a killed process, a full disk, a file the user cannot write, a database from a
newer release) and check that the user gets one clear line and that nothing already stored is lost.
Commands run as real `coach` processes where the process itself matters (kill -9, file modes).
"""

from __future__ import annotations

import errno
import os
import select as io_select
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import Run, run_cli
from schema_seeds import THREAD_A, rows_at
from scripted_server import ScriptedServer, hang, text
from sqlalchemy import MetaData, event, select
from sqlalchemy import text as sql
from sqlmodel import col

from coachcli.store import engine as engine_module
from coachcli.store.engine import Store
from coachcli.store.migrate import KNOWN_REVISIONS, SCHEMA_HEAD, upgrade
from coachcli.store.models import Conversation, Dispatch, Message, User

pytestmark = pytest.mark.slow


def spawn(*args: str, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "coachcli", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env={**os.environ, **(env or {})},
    )


def assert_one_error(run: Run, *needles: str) -> str:
    """Exit 1, nothing on stdout, exactly one `Error:` line on stderr and no traceback."""
    assert run.exit_code == 1, (run.exit_code, run.stdout, run.stderr)
    assert "Traceback" not in run.stderr
    lines = run.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr
    for needle in needles:
        assert needle in lines[0], (needle, lines[0])
    assert run.stdout == ""
    return lines[0]


def kill_hard(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    for stream in (proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()


def read_until(proc: subprocess.Popen[bytes], needle: bytes, timeout: float) -> bytes:
    """Read the child's stdout until `needle` shows up (it is streaming a reply)."""
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    seen = b""
    deadline = time.monotonic() + timeout
    while needle not in seen:
        left = deadline - time.monotonic()
        assert left > 0, f"no {needle!r} within {timeout}s; got {seen[-300:]!r}"
        ready, _, _ = io_select.select([fd], [], [], min(left, 1.0))
        if ready:
            chunk = os.read(fd, 65536)
            assert chunk, f"the child closed stdout early: {proc.stderr.read() if proc.stderr else b''!r}"
            seen += chunk
    return seen


def coaching_messages(store: Store, handle: str = "tester") -> list[Message]:
    with store.read_session() as session:
        user = session.execute(select(User).where(User.handle == handle)).scalar_one()
        coaching = session.execute(
            select(Conversation).where(Conversation.user_id == user.id, Conversation.type == "coaching")
        ).scalar_one()
        query = select(Message).where(Message.conversation_id == coaching.id).order_by(col(Message.position))
        return list(session.execute(query).scalars())


# --- kill -9 ------------------------------------------------------------------------------------------


def test_kill_during_a_streamed_reply_leaves_no_half_written_message(
    model_env: ScriptedServer, store: Store, coach
) -> None:
    """The user's words survive a SIGKILL mid-stream; no partial reply is stored as complete."""
    reply = " ".join(f"word{i}" for i in range(400))
    # word0 … word5, then nothing until the server stops: the kill always lands mid-stream.
    model_env.default = text(reply, hold=threading.Event(), hold_after=6)
    proc = spawn("chat", "hello before the crash")
    try:
        read_until(proc, b"word5 ", timeout=150)  # the server has sent chunks and the CLI shows them
    finally:
        kill_hard(proc)

    check = coach("db", "check", "--json")
    assert check.exit_code == 0, check.stdout
    assert check.json()["ok"] is True

    messages = coaching_messages(store)
    assert [m.content for m in messages if m.role == "user"] == ["hello before the crash"]
    assistant = [m for m in messages if m.role == "assistant"]
    assert [m for m in assistant if m.status == "complete"] == [], "a partial reply was stored as complete"
    assert all(reply.startswith(m.content) for m in assistant)

    model_env.default = text("Welcome back.")
    after = run_cli("chat", "after the crash", "--json")
    assert after.exit_code == 0, after.stderr
    assert after.json()["reply"] == "Welcome back."
    sent = [m.get("content") for m in model_env.requests[-1]["messages"]]
    assert "hello before the crash" in sent and "after the crash" in sent
    messages = coaching_messages(store)
    assert [m.content for m in messages if m.role == "user"] == ["hello before the crash", "after the crash"]
    complete = [m.content for m in messages if m.role == "assistant" and m.status == "complete"]
    assert complete == ["Welcome back."]


def test_kill_during_a_dispatch_shows_interrupted_and_retries_once(
    model_env: ScriptedServer, store: Store, coach
) -> None:
    """A SIGKILLed dispatch is detected as interrupted (its pid is gone), has no thread, retries once."""
    model_env.default = hang(300)
    proc = spawn(
        "dispatch", "Draft a plan that will never finish", "--agent", "planner", env={"COACH_TIMEOUT": "600"}
    )
    try:
        model_env.wait_for_requests(1, timeout=150)  # claimed and running: the model was called
    finally:
        kill_hard(proc)

    listing = coach("dispatches", "list", "--json")
    assert listing.exit_code == 0, listing.stderr
    rows = listing.json()
    assert [(r["status"], r["task_thread_id"]) for r in rows] == [("interrupted", None)]
    assert coach("tasks", "list", "--json").json() == []
    with store.read_session() as session:
        assert session.execute(select(Conversation).where(Conversation.type == "task")).all() == []

    model_env.default = text("Week 1: walk three times.")
    retried = run_cli("dispatches", "retry", rows[0]["id"][:8], "--json")
    assert retried.exit_code == 0, retried.stderr
    outcome = retried.json()
    assert outcome["status"] == "succeeded"
    assert outcome["result"] == "Week 1: walk three times."
    threads = coach("tasks", "list", "--json").json()
    assert [t["id"] for t in threads] == [outcome["task_thread_id"]]
    with store.read_session() as session:
        dispatch = session.get(Dispatch, rows[0]["id"])
        assert dispatch is not None
        assert (dispatch.status, dispatch.attempts) == ("succeeded", 2)
        tasks = session.execute(select(Conversation).where(Conversation.type == "task")).scalars().all()
        assert [t.id for t in tasks] == [dispatch.task_thread_id]
        roles = session.execute(
            select(Message.role).where(Message.conversation_id == dispatch.task_thread_id)
        ).scalars()
        assert sorted(roles) == ["assistant", "user"]


# --- files the user cannot write, folders that do not exist --------------------------------------------


def unprivileged(denied: str) -> list[str]:
    """A command prefix under which file modes apply. Root ignores them, so drop its DAC capabilities.

    `denied` is Python code that must fail with PermissionError under the prefix: proof that the
    test exercises the permission it is about, instead of passing vacuously as root.
    """
    prefix: list[str] = []
    if os.geteuid() == 0:
        setpriv = shutil.which("setpriv")
        if setpriv is None:
            pytest.skip("running as root without setpriv: cannot make file modes apply")
        prefix = [setpriv, "--bounding-set", "-dac_override,-dac_read_search,-fowner", "--"]
    trial = subprocess.run([*prefix, sys.executable, "-c", denied], capture_output=True, text=True)
    if "PermissionError" not in trial.stderr:
        pytest.skip(f"cannot drop root's file-mode override here: {trial.stderr.strip()[-200:]}")
    return prefix


def fact_texts(*global_args: str) -> list[str]:
    run = run_cli(*global_args, "facts", "list", "--json")
    assert run.exit_code == 0, run.stderr
    return [f["text"] for f in run.json()]


@pytest.mark.sqlite_only
def test_read_only_database_file(home: Path) -> None:
    """chmod 0400: writing fails with one line, reading still works, nothing stored is lost."""
    assert run_cli("facts", "add", "Prefers morning workouts").exit_code == 0
    db = home / "coach.db"
    db.chmod(0o400)
    try:
        prefix = unprivileged(f"open({str(db)!r}, 'r+')")
        assert_one_error(run_cli("facts", "add", "Runs on Sundays", prefix=prefix), "read-only")
        readable = run_cli("facts", "list", "--json", prefix=prefix)
        assert readable.exit_code == 0, readable.stderr
        assert [f["text"] for f in readable.json()] == ["Prefers morning workouts"]
    finally:
        db.chmod(0o600)
    assert fact_texts() == ["Prefers morning workouts"]
    assert run_cli("db", "check").exit_code == 0


@pytest.mark.sqlite_only
def test_read_only_database_folder(home: Path) -> None:
    """A folder the user cannot write (no room for the WAL) gives one line; data stays readable."""
    assert run_cli("facts", "add", "Prefers morning workouts").exit_code == 0
    home.chmod(0o500)
    try:
        prefix = unprivileged(f"open({str(home / 'probe')!r}, 'w')")
        assert_one_error(run_cli("facts", "add", "Runs on Sundays", prefix=prefix), "read-only")
        # A WAL database needs its -shm index file to be read; with no folder to create it in,
        # SQLite refuses even reads. That must be the same one clear line, not a traceback.
        assert_one_error(run_cli("facts", "list", prefix=prefix), "read-only")
    finally:
        home.chmod(0o700)
    assert fact_texts() == ["Prefers morning workouts"]


@pytest.mark.sqlite_only
def test_missing_folder_for_an_explicit_database(home: Path, tmp_path: Path) -> None:
    """--db naming a folder that does not exist is refused (not created), and other data is untouched."""
    assert run_cli("facts", "add", "Prefers morning workouts").exit_code == 0
    missing = tmp_path / "nonexistent" / "x" / "coach.db"
    url = f"sqlite:///{missing}"
    for args in (("facts", "add", "Runs on Sundays"), ("facts", "list"), ("db", "check")):
        assert_one_error(run_cli("--db", url, *args), "does not exist")
    assert not missing.parent.exists()
    assert fact_texts() == ["Prefers morning workouts"]


# --- a full disk ----------------------------------------------------------------------------------------


@pytest.fixture
def tiny_disk(tmp_path: Path) -> Iterator[Path]:
    """A 1 MiB tmpfs mounted for this test (needs mount rights; skipped where they are missing)."""
    mount = shutil.which("mount")
    point = tmp_path / "tiny"
    point.mkdir()
    if mount is None or os.geteuid() != 0:
        pytest.skip("mounting a tiny file system needs root; test_full_disk_injected covers SQLITE_FULL")
    done = subprocess.run(
        [mount, "-t", "tmpfs", "-o", "size=1m,mode=0700", "tmpfs", str(point)], capture_output=True, text=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}); the injected variant still runs")
    try:
        yield point
    finally:
        subprocess.run(["umount", "-l", str(point)], check=False)


@pytest.mark.sqlite_only
def test_full_disk(tiny_disk: Path, tmp_path: Path) -> None:
    """A real ENOSPC while committing: one clear "disk is full" line, and every stored row survives."""
    env = {"COACH_HOME": str(tiny_disk / "home")}
    assert run_cli("facts", "add", "Prefers morning workouts", env=env).exit_code == 0
    db = tiny_disk / "home" / "coach.db"
    # Hold the database open so its -wal and -shm files stay: the next commit must grow the WAL.
    holder = sqlite3.connect(db)
    try:
        assert holder.execute("SELECT count(*) FROM user_facts").fetchone() == (1,)
        filler = tiny_disk / "filler"
        fd = os.open(filler, os.O_CREAT | os.O_WRONLY, 0o600)
        try:
            while True:
                os.write(fd, b"\0" * 4096)
        except OSError as exc:
            assert exc.errno == errno.ENOSPC  # the disk really is full now
        finally:
            os.close(fd)
        prompt = tmp_path / "prompt.md"
        prompt.write_text("Be brief. " * 20_000)
        add_agent = ("agents", "add", "big", "--display-name", "Big", "--description", "d")
        assert_one_error(run_cli(*add_agent, "--prompt-file", str(prompt), env=env), "disk is full")
        assert_one_error(run_cli("facts", "add", "Runs on Sundays", env=env), "disk is full")
        filler.unlink()
    finally:
        holder.close()
    assert fact_texts("--home", str(tiny_disk / "home")) == ["Prefers morning workouts"]
    agents = run_cli("--home", str(tiny_disk / "home"), "agents", "list", "--json")
    assert "big" not in [a["name"] for a in agents.json()]
    assert run_cli("--home", str(tiny_disk / "home"), "db", "check").exit_code == 0


@pytest.mark.sqlite_only
def test_full_disk_injected(store: Store, coach, monkeypatch: pytest.MonkeyPatch) -> None:
    """SQLITE_FULL injected with max_page_count (works without root): same one line, nothing lost."""
    assert coach("facts", "add", "Prefers morning workouts").exit_code == 0
    install = engine_module._install_sqlite_hooks

    def with_no_room(engine: Any) -> None:
        install(engine)

        @event.listens_for(engine, "connect")
        def _no_room(dbapi_connection: Any, _record: Any) -> None:
            pages = dbapi_connection.execute("PRAGMA page_count").fetchone()[0]
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

    monkeypatch.setattr(engine_module, "_install_sqlite_hooks", with_no_room)
    run = coach(
        "agents",
        "add",
        "big",
        "--display-name",
        "Big",
        "--description",
        "d",
        "--prompt",
        "Be brief. " * 100_000,
    )
    assert_one_error(run, "disk is full")
    monkeypatch.setattr(engine_module, "_install_sqlite_hooks", install)
    listed = coach("facts", "list", "--json")
    assert [f["text"] for f in listed.json()] == ["Prefers morning workouts"]
    assert "big" not in [a["name"] for a in coach("agents", "list", "--json").json()]


# --- upgrading every earlier schema revision ------------------------------------------------------------


def _empty_store(tmp_path: Path, database: str | None, revision: str) -> Store:
    """A database with no schema: a new SQLite file, or this test's PostgreSQL database emptied."""
    if database is None:
        return Store(f"sqlite:///{tmp_path / revision / 'coach.db'}")
    st = Store(database)
    with st.engine.begin() as conn:
        conn.execute(sql("DROP SCHEMA public CASCADE"))
        conn.execute(sql("CREATE SCHEMA public"))
    return st


def _normal(value: Any) -> Any:
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=UTC)).astimezone(UTC)
    return value


def _snapshot(st: Store) -> dict[str, dict[tuple, dict[str, Any]]]:
    """Every row of every coachcli table, by primary key, with timestamps made comparable."""
    from coachcli.store.search_sql import not_search_index

    meta = MetaData()
    with st.engine.connect() as conn:
        meta.reflect(bind=conn)
        tables = {}
        for name, table in meta.tables.items():
            if name == "alembic_version" or not not_search_index(name, "table"):
                continue  # the search index is derived data (migration 0004), not rows to keep
            key = [c.name for c in table.primary_key.columns]
            rows = conn.execute(select(table)).mappings().all()
            tables[name] = {
                tuple(row[k] for k in key): {c: _normal(v) for c, v in row.items()} for row in rows
            }
    return tables


@pytest.mark.parametrize("revision", KNOWN_REVISIONS)
def test_upgrade_from_every_earlier_revision_keeps_every_row(
    revision: str, tmp_path: Path, database: str | None, coach
) -> None:
    """A store filled at any older revision, upgraded with `coach db upgrade`, keeps every value."""
    st = _empty_store(tmp_path, database, revision)
    upgrade(st, target=revision)
    seeds = rows_at(revision, KNOWN_REVISIONS)
    meta = MetaData()
    with st.engine.begin() as conn:
        meta.reflect(bind=conn)
        for name, rows in seeds.items():
            table = meta.tables[name]  # a KeyError: the rows are filed under a revision before their table
            for row in rows:
                conn.execute(table.insert().values({k: v for k, v in row.items() if k in table.c}))
    before = _snapshot(st)
    st.dispose()
    for name, rows in seeds.items():
        assert len(before[name]) == len(rows), f"{name}: seeded rows missing before the upgrade"

    url = st.url
    upgraded = coach("--db", url, "db", "upgrade", "--json")
    assert upgraded.exit_code == 0, upgraded.stderr
    assert upgraded.json() == {"from": revision, "to": SCHEMA_HEAD, "changed": revision != SCHEMA_HEAD}

    st = Store(url)
    after = _snapshot(st)
    st.dispose()
    for name, rows in before.items():
        assert set(after[name]) == set(rows), f"{name}: rows lost or added by the upgrade"
        for key, row in rows.items():
            new = after[name][key]
            assert {c: new[c] for c in row} == row, f"{name} {key}: values changed by the upgrade"

    check = coach("--db", url, "db", "check", "--json")
    assert check.exit_code == 0 and check.json()["ok"] is True
    facts = coach("--db", url, "--user", "bob", "facts", "list", "--json").json()
    assert [f["text"] for f in facts] == ["Knee injury in 2023"]
    threads = coach("--db", url, "--user", "alice", "tasks", "list", "--json").json()
    assert [(t["id"], t["agent"]) for t in threads] == [(THREAD_A, "planner")]
    statuses = coach("--db", url, "--user", "alice", "dispatches", "list", "--json").json()
    assert sorted(d["status"] for d in statuses) == ["failed", "succeeded"]


# --- backups ------------------------------------------------------------------------------------------

WRITER = """
import sys
from pathlib import Path
from coachcli.coaching.conversations import get_or_create_coaching
from coachcli.coaching.messages import append_message
from coachcli.coaching.users import get_or_create_user
from coachcli.store.engine import Store

store, stop, n = Store(sys.argv[1]), Path(sys.argv[2]), 0
while not stop.exists() and n < 100_000:
    with store.write() as session:
        user = get_or_create_user(session, "writer")
        append_message(session, get_or_create_coaching(session, user).id, "user", f"write {n}")
    n += 1
    if n == 20:
        print("writing", flush=True)
print(n, flush=True)
"""


@pytest.mark.sqlite_only
def test_backup_while_another_process_writes(store: Store, tmp_path: Path) -> None:
    """`coach db backup` copies a consistent snapshot that holds everything committed before it."""
    with store.write() as session:
        from coachcli.coaching.conversations import get_or_create_coaching
        from coachcli.coaching.messages import append_message
        from coachcli.coaching.users import get_or_create_user

        user = get_or_create_user(session, "tester")
        coaching_id = get_or_create_coaching(session, user).id
        for i in range(300):
            append_message(session, coaching_id, "user", f"before {i}")
    stop = tmp_path / "stop"
    writer = subprocess.Popen(
        [sys.executable, "-c", WRITER, store.url, str(stop)], stdout=subprocess.PIPE, text=True
    )
    try:
        assert writer.stdout is not None
        assert writer.stdout.readline().strip() == "writing"
        target = tmp_path / "backups" / "coach-backup.db"
        target.parent.mkdir()
        run = run_cli("db", "backup", str(target))
        assert run.exit_code == 0, run.stderr
    finally:
        stop.touch()
        written = int(writer.communicate(timeout=60)[0].split()[-1])
    assert writer.returncode == 0

    assert oct(target.stat().st_mode & 0o777) == oct(0o600)
    copy = sqlite3.connect(target)
    try:
        assert copy.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert copy.execute("PRAGMA foreign_key_check").fetchall() == []
        contents = [r[0] for r in copy.execute("SELECT content FROM messages ORDER BY id")]
    finally:
        copy.close()
    assert [c for c in contents if c.startswith("before ")] == [f"before {i}" for i in range(300)]
    copied_writes = [c for c in contents if c.startswith("write ")]
    assert copied_writes == [f"write {i}" for i in range(len(copied_writes))]  # a prefix: consistent
    assert 20 <= len(copied_writes) <= written
    assert run_cli("--db", f"sqlite:///{target}", "db", "check").exit_code == 0


@pytest.mark.sqlite_only
def test_backup_into_a_folder_you_cannot_write(store: Store, tmp_path: Path) -> None:
    """A backup that cannot be written is the user's to fix (one line), not an "internal error"."""
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    prefix = unprivileged(f"open({str(folder / 'probe')!r}, 'w')")
    run = run_cli("db", "backup", str(folder / "coach.db"), prefix=prefix)
    assert_one_error(run, "cannot write", "Permission denied")
    assert list(folder.iterdir()) == []


def test_backup_on_postgresql_points_to_pg_dump(database: str | None, tmp_path: Path) -> None:
    """PostgreSQL has its own tools; the command says so instead of writing a half-backup."""
    if database is None:
        pytest.skip("PostgreSQL only: on SQLite the backup is tested while writing")
    target = tmp_path / "coach.dump"
    assert_one_error(run_cli("db", "backup", str(target)), "pg_dump")
    assert not target.exists()


# --- coach db path / check ------------------------------------------------------------------------------


def test_db_path_and_check_shapes(store: Store, home: Path, database: str | None, coach) -> None:
    """`db path` prints where the store is; `db check --json` has the documented keys."""
    expected = str(home / "coach.db") if database is None else database
    plain = coach("db", "path")
    assert plain.exit_code == 0
    assert plain.stdout.strip() == expected
    doc = coach("db", "path", "--json").json()
    assert set(doc) == {"path", "url", "home"}
    assert doc["path"] == expected and doc["home"] == str(home)
    assert doc["url"] == (f"sqlite:///{home / 'coach.db'}" if database is None else database)

    check = coach("db", "check", "--json")
    assert check.exit_code == 0
    report = check.json()
    assert report == {"ok": True, "revision": SCHEMA_HEAD, "head": SCHEMA_HEAD, "problems": []}
    human = coach("db", "check")
    assert human.exit_code == 0 and human.stdout.splitlines()[-1] == "ok"


@pytest.mark.sqlite_only
def test_db_check_on_an_empty_file_says_there_is_no_schema(tmp_path: Path, coach) -> None:
    """A file with no schema is reported (exit 1) and `db upgrade` then creates it."""
    url = f"sqlite:///{tmp_path / 'empty' / 'coach.db'}"
    (tmp_path / "empty").mkdir()
    check = coach("--db", url, "db", "check", "--json")
    assert check.exit_code == 1
    report = check.json()
    assert report["ok"] is False and report["revision"] is None and len(report["problems"]) == 1
    assert coach("--db", url, "db", "upgrade", "--json").json() == {
        "from": None,
        "to": SCHEMA_HEAD,
        "changed": True,
    }
    assert coach("--db", url, "db", "check", "--json").json()["ok"] is True
