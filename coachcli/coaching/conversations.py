"""The coaching conversation (one per user), task threads under it, and reset."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, cast

from sqlalchemy import String, Text, delete, func, text
from sqlalchemy.engine import CursorResult
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coachcli.coaching.ids import by_prefix
from coachcli.errors import NotFoundError, UsageError
from coachcli.store.types import UTCDateTime, utcnow

# The models load inside the functions that use them: `coach tasks list` (list_task_threads)
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
        winner = find_coaching(session, user)  # another process created it first
        if winner is None:  # pragma: no cover
            raise
        return winner
    return conversation


@dataclass
class TaskThreadRow:
    id: str
    title: str | None
    agent: str | None
    created_at: datetime
    updated_at: datetime


_THREADS = """
SELECT thread.id, thread.title, dispatch.agent, thread.created_at, thread.updated_at
FROM users AS owner
JOIN conversations AS thread ON thread.user_id = owner.id AND thread.type = 'task'
LEFT OUTER JOIN dispatches AS dispatch ON dispatch.task_thread_id = thread.id
WHERE owner.handle = :handle AND thread.parent_id = {parent}
ORDER BY thread.created_at DESC, thread.id DESC
"""
_COACHING_OF_OWNER = "(SELECT id FROM conversations WHERE user_id = owner.id AND type = 'coaching')"


def list_task_threads(
    session: Session, owner: User | str, parent_id: str | None = None, *, limit: int | None = None
) -> list[TaskThreadRow]:
    """Task threads of that parent (default: the owner's coaching conversation) owned by the user
    (or the user with that handle), newest first (ix_conversations_parent_created).

    One query and no ORM models: `coach tasks list` runs it with just the handle, and its start-up
    is measured. Empty when there is no such user or coaching conversation yet.
    """
    sql = _THREADS.format(parent=":parent_id" if parent_id is not None else _COACHING_OF_OWNER)
    params: dict[str, object] = {"handle": owner if isinstance(owner, str) else owner.handle}
    if parent_id is not None:
        params["parent_id"] = parent_id
    if limit is not None:
        sql += " LIMIT :limit"
        params["limit"] = limit
    query = text(sql).columns(
        id=String, title=Text, agent=String, created_at=UTCDateTime, updated_at=UTCDateTime
    )
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

    # The row lock orders reset with the saves of a running turn (coaching/chat.py checks its
    # anchor message under the same lock), so a late reply never lands in the fresh conversation.
    query = select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    conversation = session.exec(query).first()
    if conversation is None or conversation.user_id != user.id:
        raise NotFoundError(f"no conversation {conversation_id} for user {user.handle}.")
    if conversation.type != "coaching":
        raise UsageError("only a coaching conversation can be reset; task threads are kept.")
    messages = cast(
        "CursorResult[Any]",
        session.execute(delete(Message).where(col(Message.conversation_id) == conversation_id)),
    )
    memories = cast(
        "CursorResult[Any]",
        session.execute(
            delete(Memory).where(
                col(Memory.conversation_id) == conversation_id, col(Memory.user_id) == user.id
            )
        ),
    )
    conversation.title = None
    conversation.updated_at = utcnow()
    session.add(conversation)
    current = (UserFact.user_id == user.id, col(UserFact.superseded_at).is_(None))
    facts = session.exec(select(func.count()).select_from(UserFact).where(*current)).one()
    session.flush()
    return ResetResult(
        conversation_id=conversation.id,
        messages_cleared=int(messages.rowcount or 0),
        memories_deleted=int(memories.rowcount or 0),
        facts_kept=int(facts),
    )
