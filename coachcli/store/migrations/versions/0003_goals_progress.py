"""Goals, progress notes and check-in messages (issue 12).

Revision ID: 0003_goals_progress
Revises: 0002_fact_history
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003_goals_progress"
down_revision = "0002_fact_history"
branch_labels = None
depends_on = None

KIND_CHECK = "kind IN ('checkin')"


def upgrade() -> None:
    op.create_table(
        "goals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("why", sa.Text(), nullable=True),
        sa.Column("due", sa.Date(), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('active', 'done', 'dropped')", name=op.f("ck_goals_status")),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_goals_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_goals")),
    )
    op.create_index("ix_goals_user_status", "goals", ["user_id", "status"], unique=False)

    op.create_table(
        "progress",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("goal_id", sa.String(length=36), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("source", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.CheckConstraint("source IN ('manual', 'coach')", name=op.f("ck_progress_source")),
        sa.ForeignKeyConstraint(
            ["goal_id"], ["goals.id"], name=op.f("fk_progress_goal_id_goals"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_progress_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_progress")),
    )
    op.create_index("ix_progress_user_created", "progress", ["user_id", "created_at"], unique=False)
    op.create_index("ix_progress_goal_created", "progress", ["goal_id", "created_at"], unique=False)

    op.create_table(
        "checkins",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("user_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("message_id", sa.Integer(), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('running', 'done', 'failed')", name=op.f("ck_checkins_status")),
        sa.ForeignKeyConstraint(
            ["message_id"], ["messages.id"], name=op.f("fk_checkins_message_id_messages"), ondelete="SET NULL"
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_checkins_user_id_users"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_checkins")),
    )
    op.create_index("ix_checkins_user_started", "checkins", ["user_id", "started_at"], unique=False)

    # messages.kind: a nullable column with a named check. SQLite can add both in one
    # ALTER TABLE (no copy of what may be a large table); PostgreSQL adds the check separately.
    if op.get_bind().dialect.name == "sqlite":
        op.execute(
            f"ALTER TABLE messages ADD COLUMN kind VARCHAR(16) CONSTRAINT ck_messages_kind CHECK ({KIND_CHECK})"
        )
    else:
        op.add_column("messages", sa.Column("kind", sa.String(length=16), nullable=True))
        op.create_check_constraint(op.f("ck_messages_kind"), "messages", KIND_CHECK)


def downgrade() -> None:
    # SQLite cannot drop a column a CHECK names: the batch copies the table without both.
    with op.batch_alter_table("messages") as batch_op:
        batch_op.drop_constraint(op.f("ck_messages_kind"), type_="check")
        batch_op.drop_column("kind")
    op.drop_index("ix_checkins_user_started", table_name="checkins")
    op.drop_table("checkins")
    op.drop_index("ix_progress_goal_created", table_name="progress")
    op.drop_index("ix_progress_user_created", table_name="progress")
    op.drop_table("progress")
    op.drop_index("ix_goals_user_status", table_name="goals")
    op.drop_table("goals")
