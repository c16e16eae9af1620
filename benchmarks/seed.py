"""Build benchmark stores quickly: the bench user's rows through the services, the bulk through Core.

A store of N conversations holds:
- user `bench` with their coaching conversation and `threads` task threads under it (each with the
  succeeded dispatch that produced it, as `coach dispatch` leaves them);
- the remaining conversations spread over other users (one coaching conversation each, the rest
  task threads with their dispatches), created at interleaved times so the bench user's rows are
  scattered through the table and its indexes, as in a shared team store.
"""

from __future__ import annotations

import random
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

USER = "bench"


def _uid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def build_store(home: Path, conversations: int, threads: int = 200, *, seed: int = 1) -> Path:
    """Create <home>/coach.db with `conversations` rows in total; returns the database path."""
    from coachcli.coaching.conversations import get_or_create_coaching
    from coachcli.coaching.users import get_or_create_user
    from coachcli.store.engine import Store
    from coachcli.store.migrate import ensure_schema

    if conversations < threads + 1:
        raise ValueError("a store needs room for the coaching conversation and its threads")
    rng = random.Random(seed)
    home.mkdir(parents=True, exist_ok=True)
    db = home / "coach.db"
    store = Store(f"sqlite:///{db}")
    ensure_schema(store)
    with store.write() as session:
        bench = get_or_create_user(session, USER)
        coaching = get_or_create_coaching(session, bench)
        bench_id, coaching_id = bench.id, coaching.id

    others = conversations - 1 - threads
    n_users = max(1, others // 100)
    users = [{"id": _uid(rng), "handle": f"user{i:05d}", "created_at": _t(0)} for i in range(n_users)]
    coaching_of: dict[str, str] = {}
    conv_rows: list[dict[str, Any]] = []
    for u in users:
        cid = _uid(rng)
        coaching_of[u["id"]] = cid
        conv_rows.append(_conv(cid, u["id"], "coaching", None, "auto", None, 0))
    remaining = others - n_users
    owners = [(users[i % n_users]["id"], coaching_of[users[i % n_users]["id"]]) for i in range(remaining)]
    owners += [(bench_id, coaching_id)] * threads
    rng.shuffle(owners)  # the bench user's threads are scattered among everyone else's
    dispatch_rows: list[dict[str, Any]] = []
    for seq, (user_id, parent) in enumerate(owners, start=1):
        tid = _uid(rng)
        agent = ("planner", "researcher", "writer")[seq % 3]
        task = f"Task number {seq}: draft a plan for the next training block"
        conv_rows.append(_conv(tid, user_id, "task", parent, "task", f"{agent.title()}: {task[:80]}", seq))
        dispatch_rows.append(
            {
                "id": _uid(rng),
                "user_id": user_id,
                "conversation_id": parent,
                "agent": agent,
                "task": task,
                "status": "succeeded",
                "proposed_by": "operator",
                "result": "Done.",
                "task_thread_id": tid,
                "attempts": 1,
                "created_at": _t(seq),
                "updated_at": _t(seq),
            }
        )
    store.dispose()
    _bulk_insert(db, [("users", users), ("conversations", conv_rows), ("dispatches", dispatch_rows)])
    _checkpoint(db)
    return db


def _bulk_insert(db: Path, tables: list[tuple[str, list[dict[str, Any]]]]) -> None:
    """executemany on a raw connection: 100,000 rows in seconds. Values must already be in the form
    SQLAlchemy stores them on SQLite (see _t for datetimes)."""
    import sqlite3

    raw = sqlite3.connect(db, isolation_level=None)
    try:
        # Rows are consistent by construction; checking 200,000 references would only cost time.
        raw.execute("PRAGMA foreign_keys = OFF")
        raw.execute("PRAGMA synchronous = OFF")
        raw.execute("PRAGMA cache_size = -262144")  # 256 MB: random uuid keys thrash a small cache
        raw.execute("BEGIN IMMEDIATE")
        for table, rows in tables:
            if not rows:
                continue
            columns = list(rows[0])
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join('?' * len(columns))})"
            raw.executemany(sql, ([row[c] for c in columns] for row in rows))
        raw.execute("COMMIT")
    finally:
        raw.close()


def _checkpoint(db: Path) -> None:
    """Fold the WAL into the main file, so every run starts from the same on-disk state."""
    import sqlite3

    raw = sqlite3.connect(db)
    try:
        raw.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        raw.close()


_EPOCH = datetime(2025, 1, 1, tzinfo=UTC)


def _t(seq: int) -> str:
    """The seq-th timestamp (37 s apart), as SQLAlchemy stores a UTC datetime on SQLite."""
    moment = (_EPOCH + timedelta(seconds=seq * 37)).replace(tzinfo=None)
    return moment.isoformat(sep=" ", timespec="microseconds")


def _conv(
    cid: str, user_id: str, type_: str, parent: str | None, mode: str, title: str | None, seq: int
) -> dict[str, Any]:
    return {
        "id": cid,
        "user_id": user_id,
        "type": type_,
        "parent_id": parent,
        "mode": mode,
        "title": title,
        "created_at": _t(seq),
        "updated_at": _t(seq),
    }


def build_message_store(home: Path, lengths: dict[str, int]) -> tuple[Path, dict[str, str]]:
    """A store whose bench user has one conversation per entry, holding that many messages already."""
    from coachcli.coaching.conversations import create_conversation, get_or_create_coaching
    from coachcli.coaching.users import get_or_create_user
    from coachcli.store.engine import Store
    from coachcli.store.migrate import ensure_schema

    home.mkdir(parents=True, exist_ok=True)
    db = home / "coach.db"
    store = Store(f"sqlite:///{db}")
    ensure_schema(store)
    ids: dict[str, str] = {}
    with store.write() as session:
        user = get_or_create_user(session, USER)
        coaching = get_or_create_coaching(session, user)
        for name in lengths:
            conv = create_conversation(session, user, type="task", parent_id=coaching.id, mode="task")
            ids[name] = conv.id
    store.dispose()
    for name, count in lengths.items():
        rows = [
            {
                "conversation_id": ids[name],
                "position": p,
                "role": "user" if p % 2 else "assistant",
                "content": f"message {p}: " + "words " * 40,
                "status": "complete",
                "created_at": _t(p),
            }
            for p in range(1, count + 1)
        ]
        _bulk_insert(db, [("messages", rows)])
    _checkpoint(db)
    return db, ids
