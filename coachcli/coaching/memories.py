"""Conversation-scoped memories: notes the coach keeps, and the running summary. Reset deletes them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from coachcli.coaching.conversations import find_coaching
from coachcli.coaching.ids import by_prefix
from coachcli.errors import UsageError
from coachcli.store.models import Memory, Message, User
from coachcli.store.types import utcnow

MAX_NOTE_LENGTH = 2000


def add_note(session: Session, user: User, conversation_id: str, content: str) -> Memory:
    content = " ".join(content.split())
    if not content:
        raise UsageError("a memory cannot be empty.")
    memory = Memory(
        user_id=user.id, conversation_id=conversation_id, kind="note", content=content[:MAX_NOTE_LENGTH]
    )
    session.add(memory)
    session.flush()
    return memory


def list_notes(session: Session, conversation_id: str, *, limit: int = 50) -> list[Memory]:
    """The newest notes, oldest first, so the prompt reads in order."""
    query = (
        select(Memory)
        .where(Memory.conversation_id == conversation_id, Memory.kind == "note")
        .order_by(col(Memory.created_at).desc())
        .limit(limit)
    )
    rows = list(session.exec(query))
    rows.reverse()
    return rows


def get_summary(session: Session, conversation_id: str) -> Memory | None:
    query = select(Memory).where(Memory.conversation_id == conversation_id, Memory.kind == "summary")
    return session.exec(query).first()


def set_summary(
    session: Session, user: User, conversation_id: str, content: str, covers_through: int
) -> Memory:
    """Replace the running summary; it folds every message up to `covers_through`."""
    summary = get_summary(session, conversation_id)
    if summary is None:
        summary = Memory(user_id=user.id, conversation_id=conversation_id, kind="summary", content="")
    summary.content = content
    summary.covers_through = covers_through
    summary.updated_at = utcnow()
    session.add(summary)
    session.flush()
    return summary


@dataclass(frozen=True)
class MemoryView:
    """What the coach keeps of the coaching conversation, for `coach memory`."""

    summary: Memory | None
    covers_from: datetime | None  # the first and last message the summary folds in
    covers_through: datetime | None
    notes: list[Memory]  # newest first


def view_memory(session: Session, user: User) -> MemoryView:
    """The running summary of the user's coaching conversation (with its span) and all notes."""
    coaching = find_coaching(session, user)
    if coaching is None:
        return MemoryView(None, None, None, [])
    summary = get_summary(session, coaching.id)
    first = last = None
    if summary is not None and summary.covers_through is not None:
        span = select(func.min(Message.created_at), func.max(Message.created_at)).where(
            Message.conversation_id == coaching.id, Message.position <= summary.covers_through
        )
        first, last = session.exec(span).one()
    query = (
        select(Memory)
        .where(Memory.conversation_id == coaching.id, Memory.user_id == user.id, Memory.kind == "note")
        .order_by(col(Memory.created_at).desc(), col(Memory.id))
    )
    return MemoryView(summary, first, last, list(session.exec(query)))


def remove_note(session: Session, user: User, id_prefix: str) -> Memory:
    """Delete one of the user's notes by id or unique prefix; anyone else's is "not found"."""
    note = by_prefix(
        session,
        Memory,
        id_prefix,
        what="memory note",
        where=[Memory.user_id == user.id, Memory.kind == "note"],
    )
    session.delete(note)
    session.flush()
    return note
