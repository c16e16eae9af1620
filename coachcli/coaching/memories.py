"""Conversation-scoped memories: notes the coach keeps, and the running summary. Reset deletes them."""

from __future__ import annotations

from sqlmodel import Session, col, select

from coachcli.errors import UsageError
from coachcli.store.models import Memory, User
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
