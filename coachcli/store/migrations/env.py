"""Alembic environment: runs on the connection coachcli hands it (see store/migrate.py)."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import coachcli.store.models  # noqa: F401  (registers the tables on SQLModel.metadata)

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only for `alembic` run by hand
    raise RuntimeError("run migrations through `coach db upgrade`")

context.configure(
    connection=connection,
    target_metadata=SQLModel.metadata,
    # SQLite cannot ALTER most things: batch mode copies the table (with foreign keys off).
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
