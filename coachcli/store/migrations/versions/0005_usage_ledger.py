"""One row per model call, for coach usage (issue 14).

Revision ID: 0005_usage_ledger
Revises: 0004_search_index
"""

from __future__ import annotations

revision = "0005_usage_ledger"
down_revision = "0004_search_index"
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass  # placeholder in the chain; filled in by the issue that owns it


def downgrade() -> None:
    pass
