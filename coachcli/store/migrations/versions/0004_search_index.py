"""Full-text search over messages, facts, memories and progress (issue 11).

Revision ID: 0004_search_index
Revises: 0003_goals_progress
"""

from __future__ import annotations

revision = "0004_search_index"
down_revision = "0003_goals_progress"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder in the chain; filled in by the issue that owns it


def downgrade() -> None:
    pass
