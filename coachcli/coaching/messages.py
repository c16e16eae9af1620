"""Messages are appended one row at a time: cost does not grow with the conversation."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sqlalchemy import func
from sqlmodel import Session, col, select

from coachcli.store.models import Conversation, Message
from coachcli.store.types import utcnow

if TYPE_CHECKING:
    from coachcli.llm.types import Completion


def lock_conversation(session: Session, conversation_id: str) -> Conversation:
    """Lock the conversation row (PostgreSQL; SQLite already holds the write lock)."""
    query = select(Conversation).where(Conversation.id == conversation_id).with_for_update()
    conversation = session.exec(query).one()
    return conversation


def append_message(
    session: Session,
    conversation_id: str,
    role: str,
    content: str,
    **fields: Any,
) -> Message:
    """Append at the next position and bump the conversation's updated_at, in the caller's txn."""
    conversation = lock_conversation(session, conversation_id)
    last = session.exec(
        select(func.max(Message.position)).where(Message.conversation_id == conversation_id)
    ).one()
    message = Message(
        conversation_id=conversation_id,
        position=(last or 0) + 1,
        role=role,
        content=content,
        **fields,
    )
    session.add(message)
    conversation.updated_at = utcnow()
    session.add(conversation)
    session.flush()
    return message


def append_reply(session: Session, conversation_id: str, completion: Completion, **fields: Any) -> Message:
    """A model's reply as an assistant message, with its model and the call's tokens and cost."""
    return append_message(
        session,
        conversation_id,
        "assistant",
        completion.content,
        model=completion.model,
        input_tokens=completion.input_tokens,
        output_tokens=completion.output_tokens,
        cost_usd=completion.cost_usd,
        **fields,
    )


def list_messages(
    session: Session, conversation_id: str, *, limit: int | None = None, after: int | None = None
) -> list[Message]:
    """Messages in order; with `limit`, the newest ones (still returned oldest first)."""
    query = select(Message).where(Message.conversation_id == conversation_id)
    if after is not None:
        query = query.where(Message.position > after)
    if limit is None:
        return list(session.exec(query.order_by(col(Message.position))))
    rows = list(session.exec(query.order_by(col(Message.position).desc()).limit(limit)))
    rows.reverse()
    return rows


def message_exists(session: Session, conversation_id: str, message_id: int) -> bool:
    """Lock the conversation row, then tell whether the message is still in it.

    A turn checks its anchor this way before each save; `reset` locks the same row, so a save and
    a reset never interleave and a reply is never stored into a conversation reset under it.
    """
    lock_conversation(session, conversation_id)
    query = select(Message.id).where(Message.id == message_id, Message.conversation_id == conversation_id)
    return session.exec(query).first() is not None
