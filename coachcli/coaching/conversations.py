"""The coaching conversation (one per user), task threads under it, and reset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import String, Text, delete, func, text
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coachcli.coaching.ids import by_prefix
from coachcli.errors import NotFoundError, UsageError
from coachcli.store.types import UTCDateTime, utcnow

# The models load inside the functions that use them: `coach tasks list` (list_task_threads_of)
# reads without them, and declaring the seven SQLModel tables is ~70 ms of a ~1 s start.
if TYPE_CHECKING:
    from coachcli.store.models import Conversation, User


def create_conversation(
    session: Session,
    user: User,
    *,
    type: str = "coaching",
    parent_id: str | None = None,
    mode: str = "auto",
    title: str | None = None,
) -> Conversation:
    """A new conversation; a task thread names its parent, which must be the user's own."""
    from coachcli.store.models import CONVERSATION_MODES, CONVERSATION_TYPES, Conversation

    if type not in CONVERSATION_TYPES:
        raise UsageError(f"conversation type must be one of {', '.join(CONVERSATION_TYPES)}.")
    if mode not in CONVERSATION_MODES:
        raise UsageError(f"conversation mode must be one of {', '.join(CONVERSATION_MODES)}.")
    if parent_id is not None:
        parent = session.get(Conversation, parent_id)
        if parent is None or parent.user_id != user.id:
            raise NotFoundError(f"no conversation {parent_id} for user {user.handle}.")
    conversation = Conversation(user_id=user.id, type=type, parent_id=parent_id, mode=mode, title=title)
    session.add(conversation)
    session.flush()
    return conversation


def find_coaching(session: Session, user: User) -> Conversation | None:
    from coachcli.store.models import Conversation

    query = select(Conversation).where(Conversation.user_id == user.id, Conversation.type == "coaching")
    return session.exec(query).first()


def get_or_create_coaching(session: Session, user: User) -> Conversation:
    """The user's single coaching conversation; the partial unique index settles races."""
    existing = find_coaching(session, user)
    if existing is not None:
        return existing
    try:
        with session.begin_nested():
            conversation = create_conversation(session, user, type="coaching", mode="auto")
    except IntegrityError:
        conversation = find_coaching(session, user)  # another process created it first
        if conversation is None:  # pragma: no cover
            raise
    return conversation


@dataclass
class ConversationRow:
    id: str
    type: str
    parent_id: str | None
    title: str | None
    mode: str
    created_at: datetime
    updated_at: datetime


def list_conversations(session: Session, user: User, *, type: str | None = None) -> list[ConversationRow]:
    """All of a user's conversations with their type, newest activity first."""
    from coachcli.store.models import Conversation

    query = select(Conversation).where(Conversation.user_id == user.id)
    if type is not None:
        query = query.where(Conversation.type == type)
    rows = session.exec(query.order_by(col(Conversation.updated_at).desc()))
    return [
        ConversationRow(c.id, c.type, c.parent_id, c.title, c.mode, c.created_at, c.updated_at) for c in rows
    ]


@dataclass
class TaskThreadRow:
    id: str
    title: str | None
    agent: str | None
    created_at: datetime
    updated_at: datetime


def list_task_threads(
    session: Session, user: User, parent_id: str, *, limit: int | None = None
) -> list[TaskThreadRow]:
    """Task threads of that parent owned by that user, newest first (ix_conversations_parent_created)."""
    from coachcli.store.models import Conversation, Dispatch

    query = (
        select(
            Conversation.id,
            Conversation.title,
            Dispatch.agent,
            Conversation.created_at,
            Conversation.updated_at,
        )
        .outerjoin(Dispatch, col(Dispatch.task_thread_id) == Conversation.id)
        .where(
            Conversation.parent_id == parent_id,
            Conversation.user_id == user.id,
            Conversation.type == "task",
        )
        .order_by(col(Conversation.created_at).desc(), col(Conversation.id).desc())
    )
    if limit is not None:
        query = query.limit(limit)
    return [TaskThreadRow(*row) for row in session.exec(query)]


_THREADS_OF = """
SELECT thread.id, thread.title, dispatch.agent, thread.created_at, thread.updated_at
FROM users AS owner
JOIN conversations AS coaching
  ON coaching.user_id = owner.id AND coaching.type = 'coaching'
JOIN conversations AS thread
  ON thread.parent_id = coaching.id AND thread.user_id = owner.id AND thread.type = 'task'
LEFT OUTER JOIN dispatches AS dispatch ON dispatch.task_thread_id = thread.id
WHERE owner.handle = :handle
ORDER BY thread.created_at DESC, thread.id DESC
"""


def list_task_threads_of(session: Session, handle: str, *, limit: int | None = None) -> list[TaskThreadRow]:
    """list_task_threads for the coaching conversation of the user with this handle, in one query
    and without the ORM models: what `coach tasks list` runs. Empty when there is no such user or
    coaching conversation yet."""
    sql = _THREADS_OF + (" LIMIT :limit" if limit is not None else "")
    query = text(sql).columns(
        id=String, title=Text, agent=String, created_at=UTCDateTime, updated_at=UTCDateTime
    )
    params: dict[str, object] = {"handle": handle}
    if limit is not None:
        params["limit"] = limit
    return [TaskThreadRow(*row) for row in session.execute(query, params)]


def get_task_thread(session: Session, user: User, id_or_prefix: str) -> Conversation:
    """One of the user's task threads by id or unique prefix."""
    from coachcli.store.models import Conversation

    return by_prefix(
        session,
        Conversation,
        id_or_prefix,
        what="task thread",
        where=[Conversation.user_id == user.id, Conversation.type == "task"],
    )


@dataclass
class ResetResult:
    conversation_id: str
    messages_cleared: int
    memories_deleted: int
    facts_kept: int


def reset(session: Session, user: User, conversation_id: str) -> ResetResult:
    """Clear the owner's coaching conversation: messages, title, memories. Facts and threads stay."""
    from coachcli.store.models import Conversation, Memory, Message, UserFact

    conversation = session.get(Conversation, conversation_id)
    if conversation is None or conversation.user_id != user.id:
        raise NotFoundError(f"no conversation {conversation_id} for user {user.handle}.")
    if conversation.type != "coaching":
        raise UsageError("only a coaching conversation can be reset; task threads are kept.")
    messages = session.execute(delete(Message).where(col(Message.conversation_id) == conversation_id))
    memories = session.execute(
        delete(Memory).where(col(Memory.conversation_id) == conversation_id, col(Memory.user_id) == user.id)
    )
    conversation.title = None
    conversation.updated_at = utcnow()
    session.add(conversation)
    facts = session.exec(select(func.count()).select_from(UserFact).where(UserFact.user_id == user.id)).one()
    session.flush()
    return ResetResult(
        conversation_id=conversation.id,
        messages_cleared=int(messages.rowcount or 0),
        memories_deleted=int(memories.rowcount or 0),
        facts_kept=int(facts),
    )
