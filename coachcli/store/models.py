"""The tables of a coach store as SQLModel models; the Alembic chain in `migrations/` must match
(tests/test_store.py compares them)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    event,
    text,
)
from sqlmodel import Field, SQLModel

from coachcli.store.types import UTCDateTime, new_id, utcnow

# Constraint names are explicit so migrations and batch operations can address them.
SQLModel.metadata.naming_convention = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

CONVERSATION_TYPES = ("coaching", "task")
CONVERSATION_MODES = ("auto", "coaching", "task")
MESSAGE_ROLES = ("system", "user", "assistant", "tool")
MESSAGE_STATUSES = ("complete", "interrupted")
FACT_SOURCES = ("manual", "coach")
MEMORY_KINDS = ("note", "summary")
DISPATCH_STATUSES = (
    "proposed",
    "approved",
    "rejected",
    "running",
    "succeeded",
    "failed",
    "interrupted",
)
PROPOSERS = ("operator", "coach")
MESSAGE_KINDS = ("checkin",)  # NULL: an ordinary message
GOAL_STATUSES = ("active", "done", "dropped")
PROGRESS_SOURCES = ("manual", "coach")
CHECKIN_STATUSES = ("running", "done", "failed")
MODEL_CALL_KINDS = ("chat", "checkin", "summary", "pick", "dispatch", "review")


ONE_COACHING = text("type = 'coaching'")  # the partial unique index's condition
CURRENT_FACT = text("superseded_at IS NULL")  # facts not replaced by a correction
# Partial indexes and their conditions; postgresql_options() gives PostgreSQL the same ones.
PARTIAL_INDEXES = {
    "uq_conversations_one_coaching_per_user": ONE_COACHING,
    "uq_user_facts_current": CURRENT_FACT,
}


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _created() -> Any:
    return Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    handle: str = Field(sa_column=Column(String(64), nullable=False, unique=True))
    created_at: datetime = _created()
    # The day `coach chat` last warned that the month's model cost passed 80% of the budget.
    budget_warned_on: date | None = Field(default=None, sa_column=Column(Date, nullable=True))


class Conversation(SQLModel, table=True):
    __tablename__ = "conversations"
    __table_args__ = (
        CheckConstraint(_in("type", CONVERSATION_TYPES), name="type"),
        CheckConstraint(_in("mode", CONVERSATION_MODES), name="mode"),
        # One coaching conversation per user, enforced by the database so races cannot break it.
        # Its PostgreSQL form (postgresql_where) is attached by postgresql_options() below.
        Index("uq_conversations_one_coaching_per_user", "user_id", unique=True, sqlite_where=ONE_COACHING),
        # Indexes parent_id (cascades) and serves `tasks list`: one parent's threads, newest first.
        Index("ix_conversations_parent_created", "parent_id", "created_at"),
        Index("ix_conversations_user_type", "user_id", "type"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(
        sa_column=Column(String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    type: str = Field(
        default="coaching",
        sa_column=Column(String(16), nullable=False, server_default="coaching"),
    )
    parent_id: str | None = Field(
        default=None,
        sa_column=Column(String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=True),
    )
    mode: str = Field(default="auto", sa_column=Column(String(16), nullable=False, server_default="auto"))
    title: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    created_at: datetime = _created()
    updated_at: datetime = _created()


def postgresql_options() -> None:
    """Give the partial indexes their PostgreSQL condition, before the models meet PostgreSQL.

    Written in the Index itself, `postgresql_where` makes SQLAlchemy import its whole PostgreSQL
    dialect (and the modules of four drivers) whenever the models load: about 60 ms of every
    SQLite command's start. The Store calls this for a PostgreSQL URL; create_all does too.
    """
    for table in SQLModel.metadata.tables.values():
        for index in table.indexes:
            condition = PARTIAL_INDEXES.get(str(index.name))
            if condition is not None and index.dialect_options["postgresql"]["where"] is None:
                index.dialect_kwargs["postgresql_where"] = condition


@event.listens_for(SQLModel.metadata, "before_create")
def _before_create(_metadata: Any, connection: Any, **_kw: Any) -> None:
    if connection.dialect.name == "postgresql":
        postgresql_options()


class Message(SQLModel, table=True):
    __tablename__ = "messages"
    __table_args__ = (
        # One row per message; (conversation, position) orders them and makes appends O(log n).
        UniqueConstraint("conversation_id", "position"),
        CheckConstraint(_in("role", MESSAGE_ROLES), name="role"),
        CheckConstraint(_in("status", MESSAGE_STATUSES), name="status"),
        CheckConstraint(_in("kind", MESSAGE_KINDS), name="kind"),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    )
    position: int = Field(nullable=False)
    role: str = Field(sa_column=Column(String(16), nullable=False))
    content: str = Field(default="", sa_column=Column(Text, nullable=False, server_default=""))
    tool_calls: list[dict[str, Any]] | None = Field(default=None, sa_column=Column(JSON))
    tool_call_id: str | None = Field(default=None, sa_column=Column(String(128)))
    status: str = Field(
        default="complete",
        sa_column=Column(String(16), nullable=False, server_default="complete"),
    )
    model: str | None = Field(default=None, sa_column=Column(String(200)))
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    # `checkin` marks a message the coach wrote unasked (coach checkin); NULL for everything else.
    kind: str | None = Field(default=None, sa_column=Column(String(16), nullable=True))
    created_at: datetime = _created()


class UserFact(SQLModel, table=True):
    __tablename__ = "user_facts"
    __table_args__ = (
        # `normalized` folds case, spacing and end punctuation: no duplicates among current facts.
        # Replaced facts stay as history (superseded_at, superseded_by) outside the rule.
        Index("uq_user_facts_current", "user_id", "normalized", unique=True, sqlite_where=CURRENT_FACT),
        Index("ix_user_facts_user_created", "user_id", "created_at"),
        CheckConstraint(_in("source", FACT_SOURCES), name="source"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(
        sa_column=Column(String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    text: str = Field(sa_column=Column(Text, nullable=False))
    normalized: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(default="manual", sa_column=Column(String(16), nullable=False))
    created_at: datetime = _created()
    updated_at: datetime = _created()
    # Set when a correction replaced this fact: when, and by which fact (kept as history).
    superseded_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    superseded_by: str | None = Field(
        default=None,
        sa_column=Column(
            String(36), ForeignKey("user_facts.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )


class Memory(SQLModel, table=True):
    __tablename__ = "memories"
    __table_args__ = (
        CheckConstraint(_in("kind", MEMORY_KINDS), name="kind"),
        Index("ix_memories_conversation_kind", "conversation_id", "kind"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(
        sa_column=Column(String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(default="note", sa_column=Column(String(16), nullable=False))
    content: str = Field(sa_column=Column(Text, nullable=False))
    # For the running summary: the last message position it folds in.
    covers_through: int | None = None
    created_at: datetime = _created()
    updated_at: datetime = _created()


class Agent(SQLModel, table=True):
    """User-defined specialists; the built-in ones live in code (coaching/agents.py)."""

    __tablename__ = "agents"

    name: str = Field(sa_column=Column(String(40), primary_key=True))
    display_name: str = Field(sa_column=Column(String(80), nullable=False))
    description: str = Field(sa_column=Column(Text, nullable=False))
    system_prompt: str = Field(sa_column=Column(Text, nullable=False))
    model: str | None = Field(default=None, sa_column=Column(String(200)))
    created_at: datetime = _created()


class Dispatch(SQLModel, table=True):
    __tablename__ = "dispatches"
    __table_args__ = (
        CheckConstraint(_in("status", DISPATCH_STATUSES), name="status"),
        CheckConstraint(_in("proposed_by", PROPOSERS), name="proposed_by"),
        Index("ix_dispatches_user_created", "user_id", "created_at"),
        Index("ix_dispatches_status", "status"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(
        sa_column=Column(String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    conversation_id: str = Field(
        sa_column=Column(String(36), ForeignKey("conversations.id", ondelete="CASCADE"), nullable=False)
    )
    agent: str = Field(sa_column=Column(String(40), nullable=False))
    task: str = Field(sa_column=Column(Text, nullable=False))
    status: str = Field(sa_column=Column(String(16), nullable=False))
    proposed_by: str = Field(sa_column=Column(String(16), nullable=False))
    result: str | None = Field(default=None, sa_column=Column(Text))
    error: str | None = Field(default=None, sa_column=Column(Text))
    reason: str | None = Field(default=None, sa_column=Column(Text))
    task_thread_id: str | None = Field(
        default=None,
        sa_column=Column(
            String(36),
            ForeignKey("conversations.id", ondelete="SET NULL"),
            nullable=True,
            index=True,
        ),
    )
    tool_call_id: str | None = Field(default=None, sa_column=Column(String(128)))
    model: str | None = Field(default=None, sa_column=Column(String(200)))
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    # Who is running it: lets another process tell a live run from a dead one.
    runner_host: str | None = Field(default=None, sa_column=Column(String(255)))
    runner_pid: int | None = None
    runner_start: str | None = Field(default=None, sa_column=Column(String(64)))
    heartbeat_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    attempts: int = Field(default=0, nullable=False)
    created_at: datetime = _created()
    updated_at: datetime = _created()
    started_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class Goal(SQLModel, table=True):
    """What the person is working towards; theirs like facts, so `coach reset` keeps it."""

    __tablename__ = "goals"
    __table_args__ = (
        CheckConstraint(_in("status", GOAL_STATUSES), name="status"),
        Index("ix_goals_user_status", "user_id", "status"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(
        sa_column=Column(String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    title: str = Field(sa_column=Column(Text, nullable=False))
    why: str | None = Field(default=None, sa_column=Column(Text, nullable=True))
    due: date | None = Field(default=None, sa_column=Column(Date, nullable=True))
    status: str = Field(default="active", sa_column=Column(String(16), nullable=False))
    created_at: datetime = _created()
    updated_at: datetime = _created()
    closed_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class Progress(SQLModel, table=True):
    """A progress note, about one goal or none; it outlives a dropped or deleted goal."""

    __tablename__ = "progress"
    __table_args__ = (
        CheckConstraint(_in("source", PROGRESS_SOURCES), name="source"),
        Index("ix_progress_user_created", "user_id", "created_at"),
        Index("ix_progress_goal_created", "goal_id", "created_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(
        sa_column=Column(String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    goal_id: str | None = Field(
        default=None,
        sa_column=Column(String(36), ForeignKey("goals.id", ondelete="SET NULL"), nullable=True),
    )
    text: str = Field(sa_column=Column(Text, nullable=False))
    source: str = Field(default="manual", sa_column=Column(String(16), nullable=False))
    created_at: datetime = _created()


class Checkin(SQLModel, table=True):
    """One check-in attempt: the row is claimed before the model is called, so racing
    `coach checkin --if-due` runs produce one check-in. Kept by reset (the schedule is the user's)."""

    __tablename__ = "checkins"
    __table_args__ = (
        CheckConstraint(_in("status", CHECKIN_STATUSES), name="status"),
        Index("ix_checkins_user_started", "user_id", "started_at"),
    )

    id: str = Field(default_factory=new_id, primary_key=True, max_length=36)
    user_id: str = Field(
        sa_column=Column(String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    status: str = Field(default="running", sa_column=Column(String(16), nullable=False))
    message_id: int | None = Field(
        default=None,
        sa_column=Column(Integer, ForeignKey("messages.id", ondelete="SET NULL"), nullable=True),
    )
    started_at: datetime = _created()
    finished_at: datetime | None = Field(default=None, sa_type=UTCDateTime, nullable=True)


class ModelCall(SQLModel, table=True):
    """One model call and what it cost, never its content: the ledger `coach usage` sums.

    Billing history: `coach reset` keeps it (the coaching conversation stays, so the link does too);
    a deleted conversation or dispatch only clears the link (SET NULL)."""

    __tablename__ = "model_calls"
    __table_args__ = (
        CheckConstraint(_in("kind", MODEL_CALL_KINDS), name="kind"),
        # Covers every column `coach usage` sums: the report reads this index alone, never the table.
        Index(
            "ix_model_calls_user_created",
            "user_id",
            "created_at",
            "kind",
            "model",
            "agent",
            "input_tokens",
            "output_tokens",
            "cost_usd",
        ),
    )

    id: int | None = Field(default=None, sa_column=Column(Integer, primary_key=True))
    user_id: str = Field(
        sa_column=Column(String(36), ForeignKey("users.id", ondelete="CASCADE"), nullable=False)
    )
    kind: str = Field(sa_column=Column(String(16), nullable=False))
    model: str = Field(sa_column=Column(String(200), nullable=False))
    agent: str | None = Field(default=None, sa_column=Column(String(40), nullable=True))
    conversation_id: str | None = Field(
        default=None,
        sa_column=Column(
            String(36), ForeignKey("conversations.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    dispatch_id: str | None = Field(
        default=None,
        sa_column=Column(
            String(36), ForeignKey("dispatches.id", ondelete="SET NULL"), nullable=True, index=True
        ),
    )
    input_tokens: int = Field(default=0, nullable=False)
    output_tokens: int = Field(default=0, nullable=False)
    cost_usd: float | None = None  # None: the price of this model is unknown
    created_at: datetime = _created()
