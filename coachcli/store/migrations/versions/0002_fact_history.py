"""Facts keep their history: superseded_at and a link to the successor (issue 11).

Revision ID: 0002_fact_history
Revises: 0001_initial
"""

from __future__ import annotations

revision = "0002_fact_history"
down_revision = "0001_initial"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder in the chain; filled in by the issue that owns it


def downgrade() -> None:
    pass
