"""Service-level figures, in process: appending a message, and listing task threads."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from core import interleave


def append_times(db: Path, ids: dict[str, str], reps: int, *, seed: int = 2) -> dict[str, list[float]]:
    """Seconds per append (append_message + commit, as a chat turn does), interleaved by conversation.

    After each timed append the new row is deleted (untimed), so every append lands at the same
    position: message len+1 of its conversation.
    """
    from sqlalchemy import delete

    from coachcli.coaching.messages import append_message
    from coachcli.store.engine import Store
    from coachcli.store.models import Message

    store = Store(f"sqlite:///{db}")
    try:
        jobs = {
            name: (lambda cid=cid: _append_once(store, cid, append_message, delete, Message))
            for name, cid in ids.items()
        }
        return interleave(jobs, reps, seed=seed)
    finally:
        store.dispose()


def _append_once(store: Any, conversation_id: str, append_message: Any, delete: Any, message: Any) -> float:
    with store.session() as session:
        start = time.perf_counter()
        row = append_message(session, conversation_id, "user", "How did the long run go this week?")
        session.commit()
        elapsed = time.perf_counter() - start
        session.execute(delete(message).where(message.id == row.id))
        session.commit()
    return elapsed


def list_times(
    dbs: dict[str, Path], handle: str, reps: int, *, seed: int = 3
) -> tuple[dict[str, list[float]], dict[str, Any]]:
    """Seconds per list_task_threads call (fresh read session each), interleaved across stores.

    Also returns, per store, the number of rows listed and SQLite's EXPLAIN QUERY PLAN of the
    exact statement the service ran.
    """
    from sqlalchemy import event

    from coachcli.coaching.conversations import find_coaching, list_task_threads
    from coachcli.coaching.users import find_user
    from coachcli.store.engine import Store

    stores = {name: Store(f"sqlite:///{db}") for name, db in dbs.items()}
    targets: dict[str, tuple[Any, str]] = {}
    info: dict[str, Any] = {}
    try:
        for name, store in stores.items():
            with store.read_session() as session:
                user = find_user(session, handle)
                coaching = find_coaching(session, user) if user else None
                if user is None or coaching is None:
                    raise RuntimeError(f"store {name} has no coaching conversation for {handle}")
                targets[name] = (user, coaching.id)
            user, parent = targets[name]
            info[name] = _plan(store, event, lambda s, u=user, p=parent: list_task_threads(s, u.handle, p))
            info[name]["one"] = _plan(store, event, lambda s: list_task_threads(s, handle))["plan"]

        # Each store with both forms: an explicit parent (the figure), and the default parent (the
        # user's coaching conversation) that `coach tasks list` runs (keyed "<store>/one").
        def listing(name: str, one: bool) -> float:
            parent = None if one else targets[name][1]
            with stores[name].read_session() as session:
                start = time.perf_counter()
                rows = list_task_threads(session, handle, parent)
                elapsed = time.perf_counter() - start
            info[name]["rows_one" if one else "rows"] = len(rows)
            return elapsed

        jobs = {name: (lambda n=name: listing(n, False)) for name in stores}
        jobs.update({f"{name}/one": (lambda n=name: listing(n, True)) for name in stores})
        times = interleave(jobs, reps, seed=seed, warmup=False)
    finally:
        for store in stores.values():
            store.dispose()
    return times, info


def _plan(store: Any, event: Any, run: Any) -> dict[str, Any]:
    """Call run(session) once while capturing its query on conversations, then ask SQLite how it
    executes exactly that SQL (EXPLAIN QUERY PLAN)."""
    captured: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, statement: str, parameters: Any, _ctx: Any, _many: bool) -> None:
        if "conversations" in statement and "parent_id" in statement:
            captured.append((statement, parameters))

    event.listen(store.engine, "before_cursor_execute", capture)
    try:
        with store.read_session() as session:
            run(session)
    finally:
        event.remove(store.engine, "before_cursor_execute", capture)
    if not captured:
        raise RuntimeError("the listing ran no query on conversations")
    statement, parameters = captured[-1]
    with store.engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        plan = raw.execute("EXPLAIN QUERY PLAN " + statement, parameters).fetchall()
    lines = [str(row[-1]) for row in plan]
    return {"sql": statement, "plan": lines}
