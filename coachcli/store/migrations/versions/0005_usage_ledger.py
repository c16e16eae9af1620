"""One row per model call, for coach usage (issue 14); the history already in the store is kept.

Revision ID: 0005_usage_ledger
Revises: 0004_search_index

Backfill: every assistant message of a coaching conversation that names its model is a `chat`
call (`checkin` when the message is a check-in), and every dispatch that recorded a model is a
`dispatch` call (`review` for the built-in reviewer) with the usage it recorded (which included
the model's pick of a specialist: it was not kept apart before this revision). Task-thread
messages are left out: they repeat their dispatch's usage.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005_usage_ledger"
down_revision = "0004_search_index"
branch_labels = None
depends_on = None

# The report's index covers every column it sums: `coach usage` reads the index alone, in order,
# never the table (at 50,000 calls of one user, about half the query's time).
REPORT_COLUMNS = (
    "user_id",
    "created_at",
    "kind",
    "model",
    "agent",
    "input_tokens",
    "output_tokens",
    "cost_usd",
)
KIND_CHECK = "kind IN ('chat', 'checkin', 'summary', 'pick', 'dispatch', 'review')"

BACKFILL_MESSAGES = """
INSERT INTO model_calls (user_id, kind, model, agent, conversation_id, dispatch_id,
                         input_tokens, output_tokens, cost_usd, created_at)
SELECT c.user_id, CASE WHEN m.kind = 'checkin' THEN 'checkin' ELSE 'chat' END, m.model, NULL,
       m.conversation_id, NULL, COALESCE(m.input_tokens, 0), COALESCE(m.output_tokens, 0),
       m.cost_usd, m.created_at
FROM messages m JOIN conversations c ON c.id = m.conversation_id
WHERE m.role = 'assistant' AND m.model IS NOT NULL AND c.type = 'coaching'
ORDER BY m.id
"""

BACKFILL_DISPATCHES = """
INSERT INTO model_calls (user_id, kind, model, agent, conversation_id, dispatch_id,
                         input_tokens, output_tokens, cost_usd, created_at)
SELECT d.user_id, CASE WHEN d.agent = 'reviewer' THEN 'review' ELSE 'dispatch' END, d.model, d.agent,
       d.conversation_id, d.id, COALESCE(d.input_tokens, 0), COALESCE(d.output_tokens, 0),
       d.cost_usd, COALESCE(d.finished_at, d.updated_at)
FROM dispatches d
WHERE d.model IS NOT NULL
ORDER BY d.created_at
"""


def upgrade() -> None:
    op.create_table(
        "model_calls",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("model", sa.String(length=200), nullable=False),
        sa.Column("agent", sa.String(length=40), nullable=True),
        sa.Column("conversation_id", sa.String(length=36), nullable=True),
        sa.Column("dispatch_id", sa.String(length=36), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=False),
        sa.Column("output_tokens", sa.Integer(), nullable=False),
        sa.Column("cost_usd", sa.Float(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint(KIND_CHECK, name=op.f("ck_model_calls_kind")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_model_calls_user_id_users"), ondelete="CASCADE"
        ),
        sa.ForeignKeyConstraint(
            ["conversation_id"],
            ["conversations.id"],
            name=op.f("fk_model_calls_conversation_id_conversations"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["dispatch_id"],
            ["dispatches.id"],
            name=op.f("fk_model_calls_dispatch_id_dispatches"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_model_calls")),
    )
    op.create_index("ix_model_calls_user_created", "model_calls", list(REPORT_COLUMNS), unique=False)
    op.create_index("ix_model_calls_conversation_id", "model_calls", ["conversation_id"], unique=False)
    op.create_index("ix_model_calls_dispatch_id", "model_calls", ["dispatch_id"], unique=False)
    # The day `coach chat` last warned about the monthly budget: one warning a day.
    op.add_column("users", sa.Column("budget_warned_on", sa.Date(), nullable=True))
    op.execute(BACKFILL_MESSAGES)
    op.execute(BACKFILL_DISPATCHES)


def downgrade() -> None:
    with op.batch_alter_table("users") as batch_op:
        batch_op.drop_column("budget_warned_on")
    op.drop_index("ix_model_calls_dispatch_id", table_name="model_calls")
    op.drop_index("ix_model_calls_conversation_id", table_name="model_calls")
    op.drop_index("ix_model_calls_user_created", table_name="model_calls")
    op.drop_table("model_calls")
