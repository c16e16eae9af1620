"""Everything of one user as records, read from the store in batches, and written as JSON.

Rows are read with `yield_per` (a server-side cursor on PostgreSQL, chunked fetches on SQLite),
one conversation's messages at a time, and each record is written as soon as it is read: the
size of a history never decides the memory an export takes. Agents are shared by every user of
a store, so an export carries all the user-defined ones (the built-in ones ship with coach).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from functools import partial
from typing import Any

from sqlalchemy import func, select
from sqlmodel import Session

from coachcli.coaching.portable import FORMAT, VERSION
from coachcli.coaching.portable.tables import (
    AGENTS,
    CONVERSATIONS,
    DISPATCHES,
    FACTS,
    GOALS,
    MEMORIES,
    MESSAGES,
    PROGRESS,
)
from coachcli.store.models import User
from coachcli.store.types import utcnow

BATCH = 500
Write = Callable[[str], object]
Record = dict[str, Any]


def iso_time(value: datetime | date | None) -> str | None:
    return value.isoformat() if value is not None else None


def _rows(session: Session, query: Any) -> Iterator[Any]:
    return iter(session.execute(query.execution_options(yield_per=BATCH)))


def _owned(table: Any, user: User) -> Any:
    """The query for the user's rows of `table` in export order: oldest first, ties by id."""
    return select(table).where(table.c.user_id == user.id).order_by(table.c.created_at, table.c.id)


def consistent_snapshot(session: Session) -> None:
    """Read everything as of one moment: SQLite's read transaction already is one; PostgreSQL's
    default (READ COMMITTED) would let a concurrent turn land between two tables."""
    bind = session.get_bind()
    if bind.dialect.name == "postgresql":
        session.commit()  # the next transaction starts with the isolation level below
        session.connection(execution_options={"isolation_level": "REPEATABLE READ"})


def facts(session: Session, user: User) -> Iterator[Record]:
    for r in _rows(session, _owned(FACTS, user)):
        yield {
            "id": r.id,
            "text": r.text,
            "source": r.source,
            "created_at": iso_time(r.created_at),
            "updated_at": iso_time(r.updated_at),
            "superseded_at": iso_time(r.superseded_at),
            "superseded_by": r.superseded_by,
        }


def _progress(r: Any) -> Record:
    return {"id": r.id, "text": r.text, "source": r.source, "created_at": iso_time(r.created_at)}


def goals(session: Session, user: User) -> Iterator[Record]:
    """Goals oldest first, each with its progress notes."""
    notes = PROGRESS
    for r in list(session.execute(_owned(GOALS, user))):  # read first: each goal queries its notes
        of_goal = select(notes).where(notes.c.goal_id == r.id).order_by(notes.c.created_at, notes.c.id)
        yield {
            "id": r.id,
            "title": r.title,
            "why": r.why,
            "due": iso_time(r.due),
            "status": r.status,
            "created_at": iso_time(r.created_at),
            "updated_at": iso_time(r.updated_at),
            "closed_at": iso_time(r.closed_at),
            "progress": [_progress(p) for p in _rows(session, of_goal)],
        }


def loose_progress(session: Session, user: User) -> Iterator[Record]:
    """Progress notes about no goal."""
    notes = PROGRESS
    query = (
        select(notes)
        .where(notes.c.user_id == user.id, notes.c.goal_id.is_(None))
        .order_by(notes.c.created_at, notes.c.id)
    )
    return (_progress(r) for r in _rows(session, query))


def agents(session: Session) -> Iterator[Record]:
    from coachcli.coaching.agents import BUILTIN_AGENTS

    table = AGENTS
    for r in _rows(session, select(table).order_by(table.c.name)):
        if r.name in BUILTIN_AGENTS:
            continue
        yield {
            "name": r.name,
            "display_name": r.display_name,
            "description": r.description,
            "system_prompt": r.system_prompt,
            "model": r.model,
            "created_at": iso_time(r.created_at),
        }


@dataclass
class ConversationOut:
    """A conversation's own fields; its messages and memories are read when asked for."""

    header: Record
    messages: Callable[[], Iterator[Record]]
    memories: Callable[[], list[Record]]


def conversations(session: Session, user: User) -> list[ConversationOut]:
    """The coaching conversation first, then the task threads oldest first."""
    table = CONVERSATIONS
    query = (
        select(table)
        .where(table.c.user_id == user.id)
        .order_by((table.c.type != "coaching"), table.c.created_at, table.c.id)
    )
    return [
        ConversationOut(
            header={
                "id": r.id,
                "type": r.type,
                "parent_id": r.parent_id,
                "title": r.title,
                "mode": r.mode,
                "created_at": iso_time(r.created_at),
                "updated_at": iso_time(r.updated_at),
            },
            messages=partial(messages, session, r.id),
            memories=partial(memories, session, r.id),
        )
        for r in session.execute(query)
    ]


def messages(session: Session, conversation_id: str) -> Iterator[Record]:
    table = MESSAGES
    query = select(table).where(table.c.conversation_id == conversation_id).order_by(table.c.position)
    for r in _rows(session, query):
        yield {
            "id": r.id,
            "role": r.role,
            "content": r.content,
            "created_at": iso_time(r.created_at),
            "status": r.status,
            "tool_calls": r.tool_calls,
            "tool_call_id": r.tool_call_id,
            "kind": r.kind,
            "model": r.model,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cost_usd": r.cost_usd,
        }


def memories(session: Session, conversation_id: str) -> list[Record]:
    """Notes oldest first, then the summary; its covers_through counts messages in export order."""
    table = MEMORIES
    query = (
        select(table)
        .where(table.c.conversation_id == conversation_id)
        .order_by(table.c.kind, table.c.created_at, table.c.id)
    )
    out = []
    for r in session.execute(query):
        record = {
            "id": r.id,
            "kind": r.kind,
            "content": r.content,
            "created_at": iso_time(r.created_at),
            "updated_at": iso_time(r.updated_at),
        }
        if r.kind == "summary":
            record["covers_through"] = _messages_through(session, conversation_id, r.covers_through)
        out.append(record)
    return out


def _messages_through(session: Session, conversation_id: str, position: int | None) -> int:
    """How many messages a summary folds in: positions may have gaps, the export's list has none."""
    if not position:
        return 0
    query = select(func.count()).where(
        MESSAGES.c.conversation_id == conversation_id, MESSAGES.c.position <= position
    )
    return int(session.execute(query).scalar() or 0)


def dispatches(session: Session, user: User) -> Iterator[Record]:
    for r in _rows(session, _owned(DISPATCHES, user)):
        yield {
            "id": r.id,
            "status": r.status,
            "agent": r.agent,
            "task": r.task,
            "proposed_by": r.proposed_by,
            "task_thread_id": r.task_thread_id,
            "result": r.result,
            "error": r.error,
            "reason": r.reason,
            "tool_call_id": r.tool_call_id,
            "model": r.model,
            "input_tokens": r.input_tokens,
            "output_tokens": r.output_tokens,
            "cost_usd": r.cost_usd,
            "created_at": iso_time(r.created_at),
            "updated_at": iso_time(r.updated_at),
            "started_at": iso_time(r.started_at),
            "finished_at": iso_time(r.finished_at),
        }


@dataclass
class ExportCounts:
    facts: int = 0
    conversations: int = 0
    messages: int = 0


def _dump(record: Any) -> str:
    return json.dumps(record, ensure_ascii=False)


def write_json(session: Session, user: User | None, handle: str, write: Write) -> ExportCounts:
    """The export document, written piece by piece: one record per line."""
    counts = ExportCounts()
    head = {
        "format": FORMAT,
        "version": VERSION,
        "exported_at": iso_time(utcnow()),
        "user": {"handle": handle},
    }
    write(_dump(head)[:-1])

    def array(key: str, items: Iterator[Record] | list[Record], indent: str = " ") -> int:
        write(f',\n{indent}"{key}": [')
        n = 0
        for n, item in enumerate(items, 1):
            write(("\n " if n == 1 else ",\n ") + indent + _dump(item))
        write(f"\n{indent}]" if n else "]")
        return n

    if user is None:  # nobody by that name yet: an empty export, still a valid file
        for key in ("facts", "goals", "progress", "agents", "conversations", "dispatches"):
            array(key, [])
        write("\n}\n")
        return counts
    consistent_snapshot(session)
    counts.facts = array("facts", facts(session, user))
    array("goals", goals(session, user))
    array("progress", loose_progress(session, user))
    array("agents", agents(session))
    write(',\n "conversations": [')
    for n, conversation in enumerate(conversations(session, user), 1):
        write(("\n  " if n == 1 else ",\n  ") + _dump(conversation.header)[:-1])
        counts.messages += array("messages", conversation.messages(), "   ")
        array("memories", conversation.memories(), "   ")
        write("}")
        counts.conversations = n
    write("\n ]" if counts.conversations else "]")
    array("dispatches", dispatches(session, user))
    write("\n}\n")
    return counts
