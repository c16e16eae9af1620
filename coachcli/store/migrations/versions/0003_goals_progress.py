"""Goals, progress notes and check-in messages (issue 12).

Revision ID: 0003_goals_progress
Revises: 0002_fact_history
"""

from __future__ import annotations

revision = "0003_goals_progress"
down_revision = "0002_fact_history"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder in the chain; filled in by the issue that owns it


def downgrade() -> None:
    pass
