"""Schema revisions: a cheap check on every open, Alembic only when the revision differs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from coachcli.errors import StoreError
from coachcli.store.engine import COACH_TABLES, Store

# Oldest first; the last one is the head this package writes. A test checks it against Alembic.
KNOWN_REVISIONS: tuple[str, ...] = (
    "0001_initial",
    "0002_fact_history",
    "0003_goals_progress",
    "0004_search_index",
    "0005_usage_ledger",
)
SCHEMA_HEAD = KNOWN_REVISIONS[-1]
MIGRATIONS_DIR = Path(__file__).parent / "migrations"
_PG_MIGRATION_LOCK = 7_244_163_001  # any constant: serialises concurrent first runs on PostgreSQL


def current_revision(store: Store) -> str | None:
    """The stored revision, or None for an empty database. One small query, no Alembic import.
    A database that holds something else than a coach store is refused (see refuse_foreign)."""
    with store.engine.connect() as conn:
        conn = conn.execution_options(coach_readonly=True)
        try:
            revision = conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
        except DBAPIError:
            conn.rollback()  # PostgreSQL: the failed statement ended the transaction
            revision = None
        if revision not in KNOWN_REVISIONS:
            refuse_foreign(conn, store, revision)
        return revision


def check_known(revision: str | None, store: Store) -> None:
    if revision is not None and revision not in KNOWN_REVISIONS:
        raise StoreError(
            f"the database {store.location} has schema {revision!r}, written by a newer "
            "coachcli; it was left unchanged. Upgrade coachcli to use it."
        )


def refuse_foreign(conn: Any, store: Store, revision: str | None) -> None:
    """Refuse a database that is not empty and not a coach store (another application's), before
    anything is written to it. A coach store has coach's tables; an empty one has no tables."""
    tables = _table_names(conn, store.dialect) - {"alembic_version"}
    if not tables or (revision is not None and tables >= COACH_TABLES):
        return  # empty, or coach's tables at a revision from a newer coachcli (check_known says so)
    shown = ", ".join(sorted(tables)[:5]) + (f" and {len(tables) - 5} more" if len(tables) > 5 else "")
    schema = "no coach schema" if revision is None else f"schema revision {revision!r}, not coach's"
    raise StoreError(
        f"the database {store.location} has tables {shown} and {schema}: it belongs to something "
        "else and was left unchanged. Point --db at a new file or an empty database."
    )


def _table_names(conn: Any, dialect: str) -> set[str]:
    if dialect == "sqlite":
        query = (
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'"
        )
    elif dialect == "postgresql":
        query = "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()"
    else:
        from sqlalchemy import inspect

        return set(inspect(conn).get_table_names())
    return {row[0] for row in conn.execute(text(query))}


def ensure_schema(store: Store) -> None:
    """Migrate on first use or after an upgrade of coachcli; otherwise cost one query."""
    revision = current_revision(store)
    check_known(revision, store)
    if revision != SCHEMA_HEAD:
        upgrade(store)


def upgrade(store: Store, *, target: str = SCHEMA_HEAD) -> tuple[str | None, str]:
    """Apply pending migrations up to `target` (tests build older stores with it) in one
    transaction; returns (from, to). Safe when processes race."""
    if target not in KNOWN_REVISIONS:
        raise ValueError(f"unknown revision {target!r}")
    with store.engine.connect() as conn:
        raw: Any = conn.connection.dbapi_connection
        if store.is_sqlite:
            # Batch migrations copy tables; with foreign keys on, the copy would cascade-delete
            # children. The pragma only takes effect outside a transaction, hence the raw handle.
            raw.execute("PRAGMA foreign_keys = OFF")
        try:
            with conn.begin():  # BEGIN IMMEDIATE on SQLite: the first process migrates alone
                if store.dialect == "postgresql":
                    conn.execute(text(f"SELECT pg_advisory_xact_lock({_PG_MIGRATION_LOCK})"))
                before = _revision_in(conn)
                if before not in KNOWN_REVISIONS:
                    refuse_foreign(conn, store, before)
                check_known(before, store)
                if before != target:  # Alembic is imported only when there is work for it
                    from alembic import command
                    from alembic.config import Config

                    config = Config()
                    config.set_main_option("script_location", str(MIGRATIONS_DIR))
                    config.attributes["connection"] = conn
                    command.upgrade(config, target)
                    if store.is_sqlite:
                        broken = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
                        if broken:
                            raise StoreError(f"migration left {len(broken)} broken references; rolled back.")
        finally:
            if store.is_sqlite:
                raw.execute("PRAGMA foreign_keys = ON")
    return before, target


def _revision_in(conn: Any) -> str | None:
    try:
        with conn.begin_nested():
            return conn.execute(text("SELECT version_num FROM alembic_version")).scalar()
    except DBAPIError:
        return None
