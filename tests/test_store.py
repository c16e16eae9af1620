"""The store: schema vs. migrations, SQLite set-up, locking, timestamps, constraints and cascades."""

from __future__ import annotations

import json
import os
import sqlite3
import stat
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import SQLModel

from coachcli.errors import StoreError
from coachcli.store import migrate
from coachcli.store.engine import BUSY_TIMEOUT_SECONDS, Store
from coachcli.store.models import Conversation, Dispatch, Memory, Message, User

REPO = Path(__file__).resolve().parent.parent


def sqlite_store(path: Path) -> Store:
    """A migrated SQLite store at `path` (these tests are about SQLite itself)."""
    st = Store(f"sqlite:///{path}")
    migrate.ensure_schema(st)
    return st


@pytest.fixture
def sqlite_db(tmp_path: Path):
    st = sqlite_store(tmp_path / "data" / "coach.db")
    yield st
    st.dispose()


def _user(session, handle: str = "alice") -> User:
    user = User(handle=handle)
    session.add(user)
    session.flush()
    return user


# --- schema and migrations -------------------------------------------------------------------------


def test_models_and_migration_head_agree(store: Store) -> None:
    """A model change without a migration (or the reverse) would break every existing database."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from coachcli.store.search_sql import not_search_index

    with store.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"include_name": not_search_index})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_server_defaults_match_migration(store: Store) -> None:
    """Server defaults are not compared by default, so compare them too: old rows rely on them."""
    from alembic.autogenerate import compare_metadata
    from alembic.migration import MigrationContext

    from coachcli.store.search_sql import not_search_index

    with store.engine.connect() as conn:
        opts = {"compare_server_default": True, "include_name": not_search_index}
        context = MigrationContext.configure(conn, opts=opts)
        diff = compare_metadata(context, SQLModel.metadata)
        if store.is_sqlite:
            # Alembic's SQLite comparison unquotes defaults with a `'(.+)'` regex, so an empty-string
            # default ('') never compares equal to itself. Drop exactly that false positive and
            # check the stored default directly instead.
            diff = [
                d
                for d in diff
                if not (
                    isinstance(d, list)
                    and d[0][0] == "modify_default"
                    and d[0][2:4] == ("messages", "content")
                    and str(d[0][6].arg) == ""
                )
            ]
            defaults = {row[1]: row[4] for row in conn.exec_driver_sql("PRAGMA table_info(messages)")}
            assert defaults["content"] == "''"
    assert diff == []


def test_schema_head_is_alembic_head(store: Store) -> None:
    """The cheap revision check is only right if SCHEMA_HEAD is the real head of the chain."""
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    config = Config()
    config.set_main_option("script_location", str(migrate.MIGRATIONS_DIR))
    script = ScriptDirectory.from_config(config)
    assert script.get_heads() == [migrate.SCHEMA_HEAD]
    chain = [rev.revision for rev in script.walk_revisions()]
    assert tuple(reversed(chain)) == migrate.KNOWN_REVISIONS
    assert migrate.current_revision(store) == migrate.SCHEMA_HEAD


# --- SQLite file, pragmas, locking ---------------------------------------------------------------------


@pytest.mark.sqlite_only
def test_new_database_is_private(tmp_path: Path) -> None:
    """The file holds personal coaching data: folder 0700, database (and its WAL) 0600."""
    folder = tmp_path / "fresh" / "coach-home"
    st = sqlite_store(folder / "coach.db")
    try:
        with st.write() as session:
            _user(session)
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700
        assert stat.S_IMODE((folder / "coach.db").stat().st_mode) == 0o600
        wal = folder / "coach.db-wal"
        assert wal.exists()
        assert stat.S_IMODE(wal.stat().st_mode) == 0o600
    finally:
        st.dispose()


@pytest.mark.sqlite_only
def test_missing_folder_is_refused_when_not_allowed(tmp_path: Path) -> None:
    """An explicit --db into a folder that does not exist is an error, not a silent mkdir."""
    with pytest.raises(StoreError, match="does not exist"):
        Store(f"sqlite:///{tmp_path / 'nope' / 'coach.db'}", create_folder=False)
    assert not (tmp_path / "nope").exists()


@pytest.mark.sqlite_only
def test_sqlite_pragmas_on_every_connection(sqlite_db: Store) -> None:
    """WAL, foreign keys and the busy timeout are per connection: check two at once, and a reader."""
    # Two pooled connections open at once (read-only, or the second would wait for the first's lock).
    with sqlite_db.engine.connect() as one, sqlite_db.engine.connect() as two:
        for conn in (one.execution_options(coach_readonly=True), two.execution_options(coach_readonly=True)):
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == int(BUSY_TIMEOUT_SECONDS * 1000)
    with sqlite_db.read_session() as session:
        assert session.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert session.execute(text("PRAGMA busy_timeout")).scalar() > 0
    # WAL is a property of the file: a plain sqlite3 connection sees it too.
    raw = sqlite3.connect(sqlite_db.path)
    try:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        raw.close()


def _other_writer(path: Path) -> sqlite3.Connection:
    """A second process's view of the file that never waits: a locked database fails at once."""
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    return conn


@pytest.mark.sqlite_only
def test_write_session_takes_the_lock_at_begin(sqlite_db: Store) -> None:
    """BEGIN IMMEDIATE: once a write session has run any statement, nobody else can start writing."""
    other = _other_writer(sqlite_db.path)
    try:
        with sqlite_db.session() as session:
            session.execute(text("SELECT 1"))  # a read only: a deferred BEGIN would take no lock
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("BEGIN IMMEDIATE")
            with pytest.raises(sqlite3.OperationalError, match="locked"):
                other.execute("INSERT INTO users (id, handle, created_at) VALUES ('x', 'x', '2024-01-01')")
            # Readers are never blocked by the writer (WAL).
            assert other.execute("SELECT count(*) FROM users").fetchone() == (0,)
            with sqlite_db.read_session() as reader:
                assert reader.execute(select(func.count()).select_from(User)).scalar() == 0
            session.rollback()
        other.execute("BEGIN IMMEDIATE")  # the lock is released with the session's transaction
        other.execute("ROLLBACK")
    finally:
        other.close()


@pytest.mark.sqlite_only
def test_read_session_does_not_take_the_write_lock(sqlite_db: Store) -> None:
    """A reader with an open transaction must not stop another process from writing."""
    other = _other_writer(sqlite_db.path)
    try:
        with sqlite_db.read_session() as reader:
            assert reader.execute(select(func.count()).select_from(User)).scalar() == 0
            other.execute("BEGIN IMMEDIATE")
            other.execute("INSERT INTO users (id, handle, created_at) VALUES ('x', 'x', '2024-01-01')")
            other.execute("COMMIT")
            # The reader keeps its snapshot until its transaction ends.
            assert reader.execute(select(func.count()).select_from(User)).scalar() == 0
        with sqlite_db.read_session() as reader:
            assert reader.execute(select(func.count()).select_from(User)).scalar() == 1
    finally:
        other.close()


def test_write_context_rolls_back_on_error(store: Store) -> None:
    """Store.write() is all or nothing: an exception leaves no half-written rows."""
    with pytest.raises(RuntimeError), store.write() as session:
        _user(session, "rolled-back")
        raise RuntimeError("boom")
    with store.read_session() as session:
        assert session.execute(select(User).where(User.handle == "rolled-back")).first() is None


def test_write_keeps_what_a_service_committed_midway(store: Store) -> None:
    """Services commit inside Store.write() (a turn commits before each model call): that work
    stays, and only what came after the last commit is rolled back."""
    with pytest.raises(RuntimeError), store.write() as session:
        _user(session, "committed")
        session.commit()
        _user(session, "after-commit")
        raise RuntimeError("boom")
    with store.read_session() as session:
        handles = set(session.execute(select(User.handle)).scalars())
    assert "committed" in handles and "after-commit" not in handles


# --- timestamps -------------------------------------------------------------------------------------


def test_timestamps_are_aware_utc(store: Store) -> None:
    """SQLite stores no zone; every datetime read back must still be aware UTC, the same instant."""
    plus_two = timezone(timedelta(hours=2))
    written = datetime(2024, 5, 1, 12, 30, 15, 123456, tzinfo=plus_two)
    with store.write() as session:
        user = _user(session)
        conv = Conversation(user_id=user.id, created_at=written)
        session.add(conv)
        session.flush()
        conv_id = conv.id
    with store.read_session() as session:
        back = session.get(Conversation, conv_id)
        assert back is not None
        for value in (back.created_at, back.updated_at):
            assert value.tzinfo is not None
            assert value.utcoffset() == timedelta(0)
        assert back.created_at == written
        assert back.created_at.hour == 10  # converted, not relabelled
        assert abs(back.updated_at - datetime.now(UTC)) < timedelta(minutes=5)


def test_naive_datetime_is_refused(store: Store) -> None:
    """A naive datetime is ambiguous: writing one must fail instead of storing a wrong instant."""
    with pytest.raises(Exception, match="naive datetime"), store.write() as session:
        user = _user(session)
        session.add(Conversation(user_id=user.id, created_at=datetime(2024, 1, 1)))
        session.flush()


# --- constraints and cascades -----------------------------------------------------------------------


def test_conversation_type_is_checked(store: Store) -> None:
    """Only 'coaching' and 'task' exist; the database refuses anything else even from raw SQL."""
    with store.write() as session:
        user_id = _user(session).id
    with pytest.raises(IntegrityError), store.write() as session:
        session.execute(
            text(
                "INSERT INTO conversations (id, user_id, type, mode, created_at, updated_at) "
                "VALUES ('c1', :u, 'journal', 'auto', :t, :t)"
            ),
            {"u": user_id, "t": "2024-01-01 00:00:00"},
        )
    with store.write() as session:  # the column default is 'coaching'
        session.execute(
            text("INSERT INTO conversations (id, user_id, created_at, updated_at) VALUES ('c2', :u, :t, :t)"),
            {"u": user_id, "t": "2024-01-01 00:00:00"},
        )
    with store.read_session() as session:
        assert session.execute(text("SELECT type, mode FROM conversations WHERE id='c2'")).one() == (
            "coaching",
            "auto",
        )


def test_one_coaching_conversation_per_user_but_many_threads(store: Store) -> None:
    """The partial unique index is what keeps racing processes from making two coaching threads."""
    with store.write() as session:
        alice, bob = _user(session, "alice"), _user(session, "bob")
        coaching = Conversation(user_id=alice.id, type="coaching")
        session.add_all([coaching, Conversation(user_id=bob.id, type="coaching")])
        session.flush()
        for _ in range(3):
            session.add(Conversation(user_id=alice.id, type="task", parent_id=coaching.id, mode="task"))
        alice_id = alice.id
    with pytest.raises(IntegrityError), store.write() as session:
        session.add(Conversation(user_id=alice_id, type="coaching"))
        session.flush()
    with store.read_session() as session:
        counts = dict(
            session.execute(
                select(Conversation.type, func.count())
                .where(Conversation.user_id == alice_id)
                .group_by(Conversation.type)
            ).all()
        )
    assert counts == {"coaching": 1, "task": 3}


def _family(store: Store) -> dict[str, str]:
    """A user with a coaching conversation, two task threads, messages, memories and a dispatch."""
    with store.write() as session:
        user = _user(session)
        coaching = Conversation(user_id=user.id)
        session.add(coaching)
        session.flush()
        threads = [Conversation(user_id=user.id, type="task", parent_id=coaching.id) for _ in range(2)]
        session.add_all(threads)
        session.flush()
        for conv in (coaching, *threads):
            session.add(Message(conversation_id=conv.id, position=1, role="user", content="hi"))
            session.add(Memory(user_id=user.id, conversation_id=conv.id, content="note"))
        dispatch = Dispatch(
            user_id=user.id,
            conversation_id=coaching.id,
            agent="planner",
            task="t",
            status="succeeded",
            proposed_by="operator",
            task_thread_id=threads[0].id,
        )
        session.add(dispatch)
        session.flush()
        return {"coaching": coaching.id, "t0": threads[0].id, "t1": threads[1].id, "dispatch": dispatch.id}


def _count(store: Store, model: type, *where) -> int:
    with store.read_session() as session:
        return session.execute(select(func.count()).select_from(model).where(*where)).scalar_one()


def test_deleting_a_task_thread_cascades_and_nulls_the_dispatch_link(store: Store) -> None:
    """The database (not the ORM) removes a thread's messages and unlinks its dispatch."""
    ids = _family(store)
    with store.write() as session:
        session.execute(delete(Conversation).where(Conversation.id == ids["t0"]))
    assert _count(store, Message, Message.conversation_id == ids["t0"]) == 0
    assert _count(store, Memory, Memory.conversation_id == ids["t0"]) == 0
    assert _count(store, Message, Message.conversation_id == ids["t1"]) == 1
    with store.read_session() as session:
        dispatch = session.get(Dispatch, ids["dispatch"])
        assert dispatch is not None
        assert dispatch.task_thread_id is None
        assert dispatch.status == "succeeded"


def test_deleting_the_coaching_conversation_cascades_to_task_threads(store: Store) -> None:
    """parent_id ON DELETE CASCADE: task threads (and their messages) go with their parent."""
    ids = _family(store)
    with store.write() as session:
        session.execute(delete(Conversation).where(Conversation.id == ids["coaching"]))
    assert _count(store, Conversation) == 0
    assert _count(store, Message) == 0
    assert _count(store, Memory) == 0
    assert _count(store, Dispatch) == 0  # dispatches belong to the coaching conversation
    assert _count(store, User) == 1


# --- newer databases and the cheap revision check -----------------------------------------------------


@pytest.mark.sqlite_only
def test_database_from_a_newer_coachcli_is_refused_untouched(tmp_path: Path) -> None:
    """Migrating or "fixing" a newer schema would destroy data the newer coachcli wrote."""
    path = tmp_path / "coach.db"
    sqlite_store(path).dispose()
    raw = sqlite3.connect(path)
    raw.execute("UPDATE alembic_version SET version_num = '9999_from_the_future'")
    raw.commit()
    raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    raw.close()
    before_bytes, before_mtime = path.read_bytes(), path.stat().st_mtime_ns

    st = Store(f"sqlite:///{path}")
    try:
        with pytest.raises(StoreError, match="newer coachcli") as info:
            migrate.ensure_schema(st)
        assert "9999_from_the_future" in str(info.value)
        with pytest.raises(StoreError, match="newer coachcli"):
            migrate.upgrade(st)  # the guarded path refuses too
    finally:
        st.dispose()
    assert path.read_bytes() == before_bytes
    assert path.stat().st_mtime_ns == before_mtime


NEWER_REFUSED = [("tasks", "list", "--json"), ("facts", "add", "x"), ("reset", "--yes"), ("db", "upgrade")]


@pytest.mark.parametrize("args", NEWER_REFUSED, ids=[" ".join(a) for a in NEWER_REFUSED])
def test_newer_database_through_the_cli(store: Store, coach, args: tuple[str, ...]) -> None:
    """Reads, writes, resets and upgrades all refuse a newer schema: one Error line, exit 1, and the
    database keeps every byte (SQLite) or row (PostgreSQL)."""
    with store.write() as session:
        session.execute(text("UPDATE alembic_version SET version_num = '9999_from_the_future'"))
        session.add(User(handle="kept"))
    store.dispose()  # the last SQLite connection checkpoints and removes the WAL
    before = store.path.read_bytes() if store.path else None
    run = coach(*args)
    assert run.exit_code == 1
    assert run.stdout == ""
    assert run.stderr.startswith("Error: ") and run.stderr.count("\n") == 1
    assert "newer coachcli" in run.stderr and "9999_from_the_future" in run.stderr
    if store.path:
        assert store.path.read_bytes() == before
    with store.read_session() as session:
        assert (
            session.execute(text("SELECT version_num FROM alembic_version")).scalar()
            == "9999_from_the_future"
        )
        assert [u.handle for u in session.execute(select(User)).scalars()] == ["kept"]
    report = coach("db", "check", "--json")  # the check reports it instead of refusing
    assert report.exit_code == 1
    assert report.json()["revision"] == "9999_from_the_future"
    assert any("newer" in problem for problem in report.json()["problems"])


_PROBE = """
import json, sys
from coachcli.store.engine import Store
from coachcli.store.migrate import ensure_schema
store = Store(sys.argv[1])
ensure_schema(store)
store.dispose()
print(json.dumps(sorted(m for m in sys.modules if m == "alembic" or m.startswith("alembic."))))
"""


def _alembic_modules_after_ensure_schema(url: str) -> list[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-c", _PROBE, url], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout)


@pytest.mark.sqlite_only
def test_up_to_date_database_does_not_import_alembic(tmp_path: Path) -> None:
    """Alembic costs import time on every command; only a schema change may pay for it."""
    url = f"sqlite:///{tmp_path / 'coach.db'}"
    assert _alembic_modules_after_ensure_schema(url) != []  # first open migrates: the probe works
    assert _alembic_modules_after_ensure_schema(url) == []


def test_upgrade_target_must_be_a_known_revision(store: Store) -> None:
    """upgrade(target=) builds older stores for tests; a revision outside the chain is a bug."""
    with pytest.raises(ValueError, match="unknown revision"):
        migrate.upgrade(store, target="0099_nowhere")
    assert migrate.current_revision(store) == migrate.SCHEMA_HEAD
