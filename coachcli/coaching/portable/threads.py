"""Messages going into one conversation: after what is there, in batches, skipping what it holds.

Positions are unique per conversation. Imported messages are appended after the stored ones in
file order; when they interleave in time with messages from elsewhere (stored ones, or another
conversation of the file merged into the same one), the conversation is renumbered by time once
at the end, and the running summary is moved to keep ending at the same message.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, text, update
from sqlmodel import Session

from coachcli.coaching.portable.matching import MessageIndex
from coachcli.coaching.portable.tables import MEMORIES, MESSAGES

BATCH = 1000  # messages per INSERT: big enough to be fast, small enough to stay light
Row = dict[str, Any]


@dataclass
class Thread:
    """One conversation receiving messages: where the next one goes and what is there already."""

    id: str
    next_position: int = 1
    last_time: datetime | None = None
    last_source: int | None = None  # the file conversation that appended last; None: stored rows
    needs_order: bool = False
    stored: MessageIndex | None = None  # set when the conversation had messages before
    earliest: datetime | None = None
    latest: datetime | None = None
    batch: list[Row] = field(default_factory=list)

    @classmethod
    def open(cls, session: Session, conversation: str, *, ids: bool, timeless: bool) -> Thread:
        """Lock the conversation (as append_message does) and read where it ends."""
        from coachcli.coaching.messages import lock_conversation

        lock_conversation(session, conversation)
        last = session.execute(
            select(MESSAGES.c.position, MESSAGES.c.created_at)
            .where(MESSAGES.c.conversation_id == conversation)
            .order_by(MESSAGES.c.position.desc())
            .limit(1)
        ).first()
        thread = cls(conversation)
        if last is not None:
            thread.next_position = last.position + 1
            thread.last_time = last.created_at
            thread.stored = _stored_messages(session, conversation, ids=ids, timeless=timeless)
        return thread

    def holds(self, row: Row) -> bool:
        """Is this message already stored here (by id, content and time, or content alone)?"""
        if self.stored is None:
            return False
        ident = int(row["id"]) if row["id"] and row["id"].isdigit() else None
        return self.stored.take(ident, row["role"], row["content"], row["created_at"])

    def add(self, row: Row, source: int, at: datetime) -> int:
        """Queue one message from file conversation `source`; returns the position it gets."""
        if self.last_time is not None and at < self.last_time and self.last_source != source:
            self.needs_order = True  # interleaves with messages from elsewhere: renumber at the end
        self.last_time, self.last_source = at, source
        self.earliest = min(self.earliest or at, at)
        self.latest = max(self.latest or at, at)
        values = {k: v for k, v in row.items() if k != "id"}  # message ids are the store's own
        values.update(conversation_id=self.id, position=self.next_position, created_at=at)
        self.batch.append(values)
        self.next_position += 1
        return self.next_position - 1

    @property
    def full(self) -> bool:
        return len(self.batch) >= BATCH

    def flush(self, session: Session) -> int:
        """Insert the queued messages; rows without tool calls leave the column out, so it is SQL
        NULL as append_message leaves it (a JSON column stores an explicit None as JSON 'null')."""
        plain = [
            {k: v for k, v in row.items() if k != "tool_calls"} for row in self.batch if not row["tool_calls"]
        ]
        calls = [row for row in self.batch if row["tool_calls"]]
        for rows in (plain, calls):
            if rows:
                session.execute(insert(MESSAGES), rows)
        count, self.batch = len(self.batch), []
        return count

    def put_in_time_order(self, session: Session) -> None:
        """Renumber by time if needed, keeping the stored summary's end on the same message."""
        if not self.needs_order:
            return
        covers = session.execute(
            select(MEMORIES.c.covers_through).where(
                MEMORIES.c.conversation_id == self.id, MEMORIES.c.kind == "summary"
            )
        ).scalar()
        end = message_at(session, self.id, covers) if covers else None
        _renumber(session, self.id)
        if end is not None:
            session.execute(
                update(MEMORIES)
                .where(MEMORIES.c.conversation_id == self.id, MEMORIES.c.kind == "summary")
                .values(covers_through=position_of(session, end))
            )


def _stored_messages(session: Session, conversation: str, *, ids: bool, timeless: bool) -> MessageIndex:
    index = MessageIndex(ids=ids, timeless=timeless)
    query = (
        select(MESSAGES.c.id, MESSAGES.c.role, MESSAGES.c.content, MESSAGES.c.created_at)
        .where(MESSAGES.c.conversation_id == conversation)
        .execution_options(yield_per=BATCH)
    )
    for ident, role, content, created_at in session.execute(query):
        index.add(ident, role, content, created_at)
    return index


def message_at(session: Session, conversation: str, position: int) -> int | None:
    """The id of the message at this position."""
    query = select(MESSAGES.c.id).where(
        MESSAGES.c.conversation_id == conversation, MESSAGES.c.position == position
    )
    return session.execute(query).scalar()


def last_message_by(session: Session, conversation: str, at: datetime) -> int | None:
    """The id of the last message stored at or before `at`."""
    query = (
        select(MESSAGES.c.id)
        .where(MESSAGES.c.conversation_id == conversation, MESSAGES.c.created_at <= at)
        .order_by(MESSAGES.c.created_at.desc(), MESSAGES.c.position.desc())
        .limit(1)
    )
    return session.execute(query).scalar()


def position_of(session: Session, message_id: int | None) -> int | None:
    if message_id is None:
        return None
    return session.execute(select(MESSAGES.c.position).where(MESSAGES.c.id == message_id)).scalar()


def _renumber(session: Session, conversation: str) -> None:
    """Positions 1..n in time order (ties keep their order), without ever breaking uniqueness:
    first everything moves above the current maximum, then down into place."""
    offset = session.execute(
        select(func.max(MESSAGES.c.position) + 1).where(MESSAGES.c.conversation_id == conversation)
    ).scalar()
    params = {"conversation": conversation, "offset": offset}
    session.execute(
        text(
            "UPDATE messages SET position = ranked.n + :offset FROM ("
            " SELECT id, ROW_NUMBER() OVER (ORDER BY created_at, position) AS n"
            " FROM messages WHERE conversation_id = :conversation) AS ranked"
            " WHERE messages.id = ranked.id"
        ),
        params,
    )
    session.execute(
        text("UPDATE messages SET position = position - :offset WHERE conversation_id = :conversation"),
        params,
    )
