"""Full-text search over messages, facts, memories and progress (issue 11).

SQLite: FTS5 tables kept in sync by triggers. Messages are indexed from the table itself
(external content through a view, so nothing is stored twice); facts, memories and progress
notes (string ids, so no stable rowid to index by) are mirrored into `search_notes`, a small
table with integer ids, and indexed from there. Every indexed row carries an `owner` token,
so a search filters to one user inside the index. PostgreSQL: a stored `search_vector`
(english configuration) with a GIN index on each of the four tables.

Ranking uses each user's own statistics, so both engines also keep `search_terms`: per user, in
how many of their indexed messages each word occurs (term '' = how many there are). The index
itself only knows everyone's counts, and counting one user's inside it costs tens of
milliseconds per search in a store that several people share. SQLite's triggers tokenize a
message with the index's own tokenizer by passing it through `search_scratch`, an always-empty
contentless FTS5 table (insert, read its vocabulary, clear it); PostgreSQL's take the lexemes
of the generated `search_vector`.

Only user and assistant messages are indexed: tool results (including earlier search results)
and system text would echo the history back into every search.

Revision ID: 0004_search_index
Revises: 0003_goals_progress
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
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


def _count_words(row: str, step: str) -> list[str]:
    """Trigger body: add `step` (+1/-1) to the owner's counts of the words in message `row`
    (`new`/`old`), if it is indexed. SQLite runs the text through the scratch table's tokenizer."""
    return [
        f"INSERT INTO search_scratch(rowid, content) SELECT 1, {row}.content WHERE {row}.role IN {INDEXED_ROLES};",
        f"""INSERT INTO search_terms(user_id, term, docs)
              SELECT c.user_id, v.term, {step} FROM conversations c, (SELECT term FROM search_scratch_vocab
                UNION ALL SELECT '' WHERE {row}.role IN {INDEXED_ROLES}) v WHERE c.id = {row}.conversation_id
              ON CONFLICT (user_id, term) DO UPDATE SET docs = docs + excluded.docs;""",
        "INSERT INTO search_scratch(search_scratch) VALUES ('delete-all');",
    ]


TERMS_TABLE = """CREATE TABLE search_terms (
      user_id VARCHAR(36) NOT NULL,
      term TEXT NOT NULL,
      docs INTEGER NOT NULL,
      PRIMARY KEY (user_id, term))"""


def _sqlite_statements() -> list[str]:
    msg_owner = "(" + _owner_of_conversation("m.conversation_id") + ")"
    add, remove = "\n".join(_count_words("new", "1")), "\n".join(_count_words("old", "-1"))
    statements = [
        TERMS_TABLE + " WITHOUT ROWID",
        f"CREATE VIRTUAL TABLE search_scratch USING fts5(content, content='', tokenize='{TOKENIZE}')",
        "CREATE VIRTUAL TABLE search_scratch_vocab USING fts5vocab(search_scratch, 'row')",
        f"""CREATE VIEW search_message_source AS
            SELECT m.id AS id, m.content AS content, {msg_owner} AS owner
            FROM messages m WHERE m.role IN {INDEXED_ROLES}""",
        f"""CREATE VIRTUAL TABLE search_messages USING fts5(
            content, owner, content='search_message_source', content_rowid='id',
            tokenize='{TOKENIZE}')""",
        f"""CREATE TRIGGER search_messages_ai AFTER INSERT ON messages
            WHEN new.role IN {INDEXED_ROLES} BEGIN
              INSERT INTO search_messages(rowid, content, owner)
              SELECT new.id, new.content, {OWNER.format(user_id="c.user_id")}
              FROM conversations c WHERE c.id = new.conversation_id;
              {add}
            END""",
        f"""CREATE TRIGGER search_messages_ad AFTER DELETE ON messages
            WHEN old.role IN {INDEXED_ROLES} BEGIN
              INSERT INTO search_messages(search_messages, rowid, content, owner)
              SELECT 'delete', old.id, old.content, {OWNER.format(user_id="c.user_id")}
              FROM conversations c WHERE c.id = old.conversation_id;
              {remove}
            END""",
        f"""CREATE TRIGGER search_messages_au AFTER UPDATE OF content, role, conversation_id ON messages
            BEGIN
              INSERT INTO search_messages(search_messages, rowid, content, owner)
              SELECT 'delete', old.id, old.content, {OWNER.format(user_id="c.user_id")}
              FROM conversations c WHERE c.id = old.conversation_id AND old.role IN {INDEXED_ROLES};
              INSERT INTO search_messages(rowid, content, owner)
              SELECT new.id, new.content, {OWNER.format(user_id="c.user_id")}
              FROM conversations c WHERE c.id = new.conversation_id AND new.role IN {INDEXED_ROLES};
              {remove}
              {add}
            END""",
        """CREATE TRIGGER search_users_ad AFTER DELETE ON users BEGIN
              DELETE FROM search_terms WHERE user_id = old.id;
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
    total *= 2  # two passes: the index, then each user's word counts
    done = 0
    for span in _id_batches(bind):
        result = bind.execute(
            text(
                "INSERT INTO search_messages(rowid, content, owner) "
                "SELECT id, content, owner FROM search_message_source WHERE id > :last AND id <= :upto"
            ),
            span,
        )
        done += max(result.rowcount or 0, 0)
        if show:
            _progress(done, total)
    _backfill_terms(bind, done, total, show)
    if show:
        sys.stderr.write("\n")


def _id_batches(bind: Any) -> Iterator[dict[str, int]]:
    """Consecutive spans of message ids, BATCH messages each: {"last": after, "upto": through}."""
    last = 0
    while True:
        upto = bind.execute(
            text("SELECT max(id) FROM (SELECT id FROM messages WHERE id > :last ORDER BY id LIMIT :n)"),
            {"last": last, "n": BATCH},
        ).scalar()
        if upto is None:
            return
        yield {"last": last, "upto": upto}
        last = upto


def _backfill_terms(bind: Any, done: int, total: int, show: bool) -> None:
    """Each user's word counts, batch by batch through the scratch table's tokenizer."""
    batch_rows = (
        "FROM messages m JOIN conversations c ON c.id = m.conversation_id "
        f"WHERE m.id > :last AND m.id <= :upto AND m.role IN {INDEXED_ROLES}"
    )
    for span in _id_batches(bind):
        for (user_id,) in bind.execute(text(f"SELECT DISTINCT c.user_id {batch_rows}"), span).all():
            rows = bind.execute(
                text(
                    f"INSERT INTO search_scratch(rowid, content) SELECT m.id, m.content {batch_rows} AND c.user_id = :u"
                ),
                {**span, "u": user_id},
            ).rowcount
            bind.execute(
                text(
                    "INSERT INTO search_terms(user_id, term, docs) SELECT * FROM "
                    "(SELECT :u, term, doc FROM search_scratch_vocab UNION ALL SELECT :u, '', :rows) "
                    "WHERE true ON CONFLICT (user_id, term) DO UPDATE SET docs = docs + excluded.docs"
                ),
                {"u": user_id, "rows": rows},
            )
            bind.execute(text("INSERT INTO search_scratch(search_scratch) VALUES ('delete-all')"))
            done += max(rows or 0, 0)
        if show:
            _progress(done, total)


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


# PostgreSQL: one function keeps search_terms from the lexemes of the generated search_vector.
PG_COUNT_WORDS = """CREATE FUNCTION search_count_words() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP <> 'INSERT' AND OLD.search_vector IS NOT NULL THEN
    INSERT INTO search_terms (user_id, term, docs)
      SELECT c.user_id, t.term, -1 FROM conversations c,
        unnest(array_append(tsvector_to_array(OLD.search_vector), '')) AS t(term)
      WHERE c.id = OLD.conversation_id
    ON CONFLICT (user_id, term) DO UPDATE SET docs = search_terms.docs + excluded.docs;
  END IF;
  IF TG_OP <> 'DELETE' AND NEW.search_vector IS NOT NULL THEN
    INSERT INTO search_terms (user_id, term, docs)
      SELECT c.user_id, t.term, 1 FROM conversations c,
        unnest(array_append(tsvector_to_array(NEW.search_vector), '')) AS t(term)
      WHERE c.id = NEW.conversation_id
    ON CONFLICT (user_id, term) DO UPDATE SET docs = search_terms.docs + excluded.docs;
  END IF;
  RETURN NULL;
END $$"""

# A cascade from a deleted conversation would remove its messages once the conversation (their
# owner) is gone: delete them first, as on SQLite. A deleted user's counts go with them.
PG_TRIGGERS = (
    "CREATE TRIGGER search_messages_terms AFTER INSERT OR DELETE OR UPDATE OF content, role, "
    "conversation_id ON messages FOR EACH ROW EXECUTE FUNCTION search_count_words()",
    """CREATE FUNCTION search_conversation_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM messages WHERE conversation_id = OLD.id;
  RETURN OLD;
END $$""",
    "CREATE TRIGGER search_conversations_bd BEFORE DELETE ON conversations "
    "FOR EACH ROW EXECUTE FUNCTION search_conversation_gone()",
    """CREATE FUNCTION search_user_gone() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM search_terms WHERE user_id = OLD.id;
  RETURN NULL;
END $$""",
    "CREATE TRIGGER search_users_ad AFTER DELETE ON users FOR EACH ROW EXECUTE FUNCTION search_user_gone()",
)

PG_BACKFILL_TERMS = """INSERT INTO search_terms (user_id, term, docs)
SELECT c.user_id, t.term, count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id,
  unnest(array_append(tsvector_to_array(m.search_vector), '')) AS t(term)
WHERE m.search_vector IS NOT NULL GROUP BY c.user_id, t.term"""


def _upgrade_postgresql() -> None:
    for table, column, condition in PG_SOURCES:
        vector = f"to_tsvector('english'::regconfig, {column})"
        if condition:
            vector = f"CASE WHEN {condition} THEN {vector} END"
        op.execute(
            f"ALTER TABLE {table} ADD COLUMN search_vector tsvector GENERATED ALWAYS AS ({vector}) STORED"
        )
        op.execute(f"CREATE INDEX ix_{table}_search_vector ON {table} USING gin (search_vector)")
    # COLLATE "C": a word's prefix is then a range of the primary key.
    op.execute(TERMS_TABLE.replace("term TEXT", 'term TEXT COLLATE "C"'))
    op.execute(PG_BACKFILL_TERMS)
    op.execute(PG_COUNT_WORDS)
    for statement in PG_TRIGGERS:
        op.execute(statement)


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
        op.execute("DROP TRIGGER IF EXISTS search_users_ad ON users")
        op.execute("DROP TRIGGER IF EXISTS search_conversations_bd ON conversations")
        op.execute("DROP TRIGGER IF EXISTS search_messages_terms ON messages")
        for function in ("search_user_gone", "search_conversation_gone", "search_count_words"):
            op.execute(f"DROP FUNCTION IF EXISTS {function}()")
        op.execute("DROP TABLE IF EXISTS search_terms")
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
    op.execute("DROP TRIGGER IF EXISTS search_users_ad")
    op.execute("DROP TABLE IF EXISTS search_scratch_vocab")
    op.execute("DROP TABLE IF EXISTS search_scratch")
    op.execute("DROP TABLE IF EXISTS search_terms")
    op.execute("DROP TABLE IF EXISTS search_messages")
    op.execute("DROP VIEW IF EXISTS search_message_source")
