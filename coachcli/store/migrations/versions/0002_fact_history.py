"""Facts keep their history: superseded_at and a link to the successor (issue 11).

A correction no longer overwrites a fact: the old row gets `superseded_at` and `superseded_by`
(its successor, SET NULL if that one is removed). "No duplicates per user" becomes a partial
unique index over current facts only. Existing facts are carried over unchanged (all current).

Downgrade drops the history: replaced facts are deleted, since the old schema has no place for
them and its unique rule could not hold with them.

Revision ID: 0002_fact_history
Revises: 0001_initial
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002_fact_history"
down_revision = "0001_initial"
branch_labels = None
depends_on = None

CURRENT = sa.text("superseded_at IS NULL")


def upgrade() -> None:
    with op.batch_alter_table("user_facts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("superseded_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("superseded_by", sa.String(length=36), nullable=True))
        batch_op.create_foreign_key(
            "fk_user_facts_superseded_by_user_facts",
            "user_facts",
            ["superseded_by"],
            ["id"],
            ondelete="SET NULL",
        )
        batch_op.drop_constraint("uq_user_facts_user_id_normalized", type_="unique")
        batch_op.create_index("ix_user_facts_superseded_by", ["superseded_by"], unique=False)
        batch_op.create_index("ix_user_facts_user_created", ["user_id", "created_at"], unique=False)
        batch_op.create_index(
            "uq_user_facts_current",
            ["user_id", "normalized"],
            unique=True,
            sqlite_where=CURRENT,
            postgresql_where=CURRENT,
        )


def downgrade() -> None:
    op.execute(sa.text("DELETE FROM user_facts WHERE superseded_at IS NOT NULL"))
    with op.batch_alter_table("user_facts", schema=None) as batch_op:
        batch_op.drop_index("uq_user_facts_current")
        batch_op.drop_index("ix_user_facts_user_created")
        batch_op.drop_index("ix_user_facts_superseded_by")
        batch_op.drop_constraint("fk_user_facts_superseded_by_user_facts", type_="foreignkey")
        batch_op.create_unique_constraint("uq_user_facts_user_id_normalized", ["user_id", "normalized"])
        batch_op.drop_column("superseded_by")
        batch_op.drop_column("superseded_at")
