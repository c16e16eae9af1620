"""Full-text search over messages, facts, memories and progress (issue 11).

SQLite: FTS5 tables kept in sync by triggers. Messages are indexed from the table itself
(external content through a view, so nothing is stored twice); facts, memories and progress
notes (string ids, so no stable rowid to index by) are mirrored into `search_notes`, a small
table with integer ids, and indexed from there. Every indexed row carries an `owner` token,
so a search filters to one user inside the index. PostgreSQL: a stored `search_vector`
(english configuration) with a GIN index on each of the four tables.

Only user and assistant messages are indexed: tool results (including earlier search results)
and system text would echo the history back into every search.

Revision ID: 0004_search_index
Revises: 0003_goals_progress
"""

from __future__ import annotations

import sys
from typing import Any

from alembic import op
from sqlalchemy import text

revision = "0004_search_index"
down_revision = "0003_goals_progress"
branch_labels = None
depends_on = None

TOKENIZE = "porter unicode61 remove_diacritics 2"
INDEXED_ROLES = "('user', 'assistant')"
# One token per user: the id without dashes, ended by a digit so the stemmer leaves it alone.
OWNER = "'u' || replace({user_id}, '-', '') || '0'"

NOTE_SOURCES = (  # (kind, table, text column)
    ("fact", "user_facts", "text"),
    ("memory", "memories", "content"),
    ("progress", "progress", "text"),
)


def _owner_of_conversation(conversation_id: str) -> str:
    owner = OWNER.format(user_id="c.user_id")
    return f"SELECT {owner} FROM conversations c WHERE c.id = {conversation_id}"


def _sqlite_statements() -> list[str]:
    msg_owner = "(" + _owner_of_conversation("m.conversation_id") + ")"
    statements = [
        f"""CREATE VIEW search_message_source AS
            SELECT m.id AS id, m.content AS content, {msg_owner} AS owner
            FROM messages m WHERE m.role IN {INDEXED_ROLES}""",
        f"""CREATE VIRTUAL TABLE search_messages USING fts5(
            content, owner, content='search_message_source', content_rowid='id',
            tokenize='{TOKENIZE}')""",
        # Per-word document counts, read instead of counted when one user owns every row.
        "CREATE VIRTUAL TABLE search_messages_vocab USING fts5vocab(search_messages, 'row')",
        f"""CREATE TRIGGER search_messages_ai AFTER INSERT ON messages
            WHEN new.role IN {INDEXED_ROLES} BEGIN
              INSERT INTO search_messages(rowid, content, owner)
              SELECT new.id, new.content, {OWNER.format(user_id="c.user_id")}
              FROM conversations c WHERE c.id = new.conversation_id;
            END""",
        f"""CREATE TRIGGER search_messages_ad AFTER DELETE ON messages
            WHEN old.role IN {INDEXED_ROLES} BEGIN
              INSERT INTO search_messages(search_messages, rowid, content, owner)
              SELECT 'delete', old.id, old.content, {OWNER.format(user_id="c.user_id")}
              FROM conversations c WHERE c.id = old.conversation_id;
            END""",
        f"""CREATE TRIGGER search_messages_au AFTER UPDATE OF content, role, conversation_id ON messages
            BEGIN
              INSERT INTO search_messages(search_messages, rowid, content, owner)
              SELECT 'delete', old.id, old.content, {OWNER.format(user_id="c.user_id")}
              FROM conversations c WHERE c.id = old.conversation_id AND old.role IN {INDEXED_ROLES};
              INSERT INTO search_messages(rowid, content, owner)
              SELECT new.id, new.content, {OWNER.format(user_id="c.user_id")}
              FROM conversations c WHERE c.id = new.conversation_id AND new.role IN {INDEXED_ROLES};
            END""",
        # A cascade from a deleted conversation (or user) would delete its messages after the
        # conversation row is gone, when their owner can no longer be looked up: delete them first.
        """CREATE TRIGGER search_conversations_bd BEFORE DELETE ON conversations BEGIN
              DELETE FROM messages WHERE conversation_id = old.id;
            END""",
        """CREATE TABLE search_notes (
              id INTEGER PRIMARY KEY,
              kind VARCHAR(16) NOT NULL,
              ref VARCHAR(36) NOT NULL,
              owner VARCHAR(40) NOT NULL,
              body TEXT NOT NULL,
              CONSTRAINT uq_search_notes_kind_ref UNIQUE (kind, ref))""",
        f"""CREATE VIRTUAL TABLE search_notes_fts USING fts5(
            body, owner, content='search_notes', content_rowid='id', tokenize='{TOKENIZE}')""",
        """CREATE TRIGGER search_notes_ai AFTER INSERT ON search_notes BEGIN
              INSERT INTO search_notes_fts(rowid, body, owner) VALUES (new.id, new.body, new.owner);
            END""",
        """CREATE TRIGGER search_notes_ad AFTER DELETE ON search_notes BEGIN
              INSERT INTO search_notes_fts(search_notes_fts, rowid, body, owner)
              VALUES ('delete', old.id, old.body, old.owner);
            END""",
        """CREATE TRIGGER search_notes_au AFTER UPDATE ON search_notes BEGIN
              INSERT INTO search_notes_fts(search_notes_fts, rowid, body, owner)
              VALUES ('delete', old.id, old.body, old.owner);
              INSERT INTO search_notes_fts(rowid, body, owner) VALUES (new.id, new.body, new.owner);
            END""",
    ]
    for kind, table, column in NOTE_SOURCES:
        owner = OWNER.format(user_id="new.user_id")
        statements += [
            f"""CREATE TRIGGER search_{table}_ai AFTER INSERT ON {table} BEGIN
                  INSERT INTO search_notes(kind, ref, owner, body)
                  VALUES ('{kind}', new.id, {owner}, new.{column});
                END""",
            f"""CREATE TRIGGER search_{table}_au AFTER UPDATE OF {column} ON {table} BEGIN
                  UPDATE search_notes SET body = new.{column} WHERE kind = '{kind}' AND ref = old.id;
                END""",
            f"""CREATE TRIGGER search_{table}_ad AFTER DELETE ON {table} BEGIN
                  DELETE FROM search_notes WHERE kind = '{kind}' AND ref = old.id;
                END""",
        ]
    return statements


BATCH = 5_000
SHOW_PROGRESS_FROM = 20_000  # messages; smaller stores index in well under a second


def _backfill_sqlite(bind: Any) -> None:
    """Index what is already stored, in batches of ids: never all rows in memory at once."""
    for kind, table, column in NOTE_SOURCES:  # small tables: one streaming statement each
        bind.execute(
            text(
                f"INSERT INTO search_notes(kind, ref, owner, body) "
                f"SELECT '{kind}', id, {OWNER.format(user_id='user_id')}, {column} FROM {table}"
            )
        )
    total = bind.execute(text(f"SELECT count(*) FROM messages WHERE role IN {INDEXED_ROLES}")).scalar() or 0
    show = total >= SHOW_PROGRESS_FROM and sys.stderr.isatty()
    done, last = 0, 0
    while True:
        upto = bind.execute(
            text("SELECT max(id) FROM (SELECT id FROM messages WHERE id > :last ORDER BY id LIMIT :n)"),
            {"last": last, "n": BATCH},
        ).scalar()
        if upto is None:
            break
        result = bind.execute(
            text(
                "INSERT INTO search_messages(rowid, content, owner) "
                "SELECT id, content, owner FROM search_message_source WHERE id > :last AND id <= :upto"
            ),
            {"last": last, "upto": upto},
        )
        done += max(result.rowcount or 0, 0)
        last = upto
        if show:
            _progress(done, total)
    if show:
        sys.stderr.write("\n")


def _progress(done: int, total: int) -> None:
    share = min(done / total, 1.0) if total else 1.0
    bar = "#" * int(share * 30)
    sys.stderr.write(f"\rIndexing messages for search [{bar:<30}] {done:,}/{total:,}")
    sys.stderr.flush()


PG_SOURCES = (  # (table, text column, condition for being indexed)
    ("messages", "content", f"role IN {INDEXED_ROLES}"),
    ("user_facts", "text", None),
    ("memories", "content", None),
    ("progress", "text", None),
)


def _upgrade_postgresql() -> None:
    for table, column, condition in PG_SOURCES:
        vector = f"to_tsvector('english'::regconfig, {column})"
        if condition:
            vector = f"CASE WHEN {condition} THEN {vector} END"
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({vector}) STORED"
        )
        op.execute(f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector)")


def upgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        _upgrade_postgresql()  # the generated columns fill themselves as the table is rewritten
        return
    for statement in _sqlite_statements():
        op.execute(statement)
    _backfill_sqlite(bind)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table, _column, _condition in PG_SOURCES:
            op.execute(f"ALTER TABLE {table} DROP COLUMN search_vector")
        return
    for _kind, table, _column in NOTE_SOURCES:
        for suffix in ("ai", "au", "ad"):
            op.execute(f"DROP TRIGGER IF EXISTS search_{table}_{suffix}")
    for name in (
        "search_notes_ai",
        "search_notes_au",
        "search_notes_ad",
        "search_messages_ai",
        "search_messages_au",
        "search_messages_ad",
        "search_conversations_bd",
    ):
        op.execute(f"DROP TRIGGER IF EXISTS {name}")
    op.execute("DROP TABLE IF EXISTS search_notes_fts")
    op.execute("DROP TABLE IF EXISTS search_notes")
    op.execute("DROP TABLE IF EXISTS search_messages_vocab")
    op.execute("DROP TABLE IF EXISTS search_messages")
    op.execute("DROP VIEW IF EXISTS search_message_source")
