"""The engine-specific half of search: candidate rows and per-user counts from the index.

SQLite answers from the FTS5 tables of migration 0004 (`search_messages`, `search_notes_fts`),
where every row carries its owner's token, so filtering to one user happens inside the index.
PostgreSQL answers from the `search_vector` columns and their GIN indexes (english
configuration), joined to the owner. Both receive plain words (letters and digits only) and
build an OR of them: a query is never syntax, and never an AND of every word.

Ranking here only picks candidates; coaching/search.py ranks them with the user's own counts.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from sqlalchemy import TextClause, bindparam, text
from sqlmodel import Session

from coachcli.store.types import UTCDateTime

INDEXED_ROLES = ("user", "assistant")
NOTE_KINDS = ("fact", "memory", "progress")


@dataclass(frozen=True)
class Word:
    """One query word as the engines get it: `text` is letters and digits only."""

    text: str
    prefix: bool
    stem: str  # the Porter stem, as the SQLite index stores the word
    typed: str = ""  # with its accents, if it had any: PostgreSQL's english configuration keeps them


@dataclass(frozen=True)
class MessageRow:
    id: int
    conversation_id: str
    position: int
    role: str
    content: str
    created_at: datetime
    conversation_type: str
    title: str | None


class Turn(NamedTuple):
    """A message as ranking needs it (the full row is read for the hits only). A tuple: a
    search builds hundreds of them, and a frozen dataclass takes twice as long to make."""

    id: int
    conversation_id: str
    position: int
    content: str
    coaching: bool  # of the coaching conversation (else of a task thread)


@dataclass(frozen=True)
class NoteRow:
    kind: str  # fact | memory | progress
    id: str
    conversation_id: str | None
    content: str
    created_at: datetime
    replaced: bool  # a fact that a correction superseded
    summary: bool  # a memory that is the running summary


def owner_token(user_id: str) -> str:
    """The token that marks a user's rows in the SQLite index (see migration 0004)."""
    return "u" + user_id.replace("-", "") + "0"


def _fts_word(word: Word) -> str:
    return f'"{word.text}"' + ("*" if word.prefix else "")


def _fts_query(user_id: str | None, words: Sequence[Word], *, pairs: bool = False) -> str:
    """FTS5 syntax built by us from plain words: the owner's token AND any of the words
    (`pairs`: any two of them); without a user, the words alone."""
    if pairs:
        any_word = " OR ".join(
            f"({_fts_word(a)} AND {_fts_word(b)})" for i, a in enumerate(words) for b in words[i + 1 :]
        )
    else:
        any_word = " OR ".join(_fts_word(w) for w in words)
    if user_id is None:
        return any_word
    owner = f'owner : "{owner_token(user_id)}"'
    return f"{owner} AND ({any_word})" if words else owner


def _ts_query(words: Sequence[Word], *, pairs: bool = False) -> str:
    if pairs:
        return " | ".join(
            f"(({_ts_query([a])}) & ({_ts_query([b])}))" for i, a in enumerate(words) for b in words[i + 1 :]
        )
    return " | ".join(form + (":*" if w.prefix else "") for w in words for form in (w.text, w.typed) if form)


def _is_sqlite(session: Session) -> bool:
    return session.get_bind().dialect.name == "sqlite"


def user_id_of(session: Session, handle: str) -> str | None:
    """The id of the user with this handle, or None (no ORM model: see coaching.search.search)."""
    found = session.execute(text("SELECT id FROM users WHERE handle = :h"), {"h": handle}).first()
    return str(found[0]) if found else None


def message_candidates(
    session: Session,
    user_id: str,
    words: Sequence[Word],
    limit: int,
    *,
    pairs: bool = False,
    sole_owner: bool = False,
) -> list[int]:
    """Ids of the user's indexed messages that contain any of the words (`pairs`: any two of
    them), best first.

    `sole_owner` (every indexed message is this user's, see Counts) leaves the owner's token out
    of the SQLite query: FTS5's bm25() counts the rows of every phrase it is given, and the
    owner's phrase is in all the user's rows (at 100,000 messages that count is most of the
    query's time). The rows are still the user's: whoever reads them checks (messages_by_id)."""
    if _is_sqlite(session):
        query = text(
            "SELECT rowid FROM search_messages WHERE search_messages MATCH :q "
            "ORDER BY bm25(search_messages, 1.0, 0.0) LIMIT :n"
        )
        owner = None if sole_owner else user_id
        params: dict[str, Any] = {"q": _fts_query(owner, words, pairs=pairs), "n": limit}
    else:
        query = text(
            "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id "
            "WHERE c.user_id = :u AND m.search_vector @@ to_tsquery('english', :q) "
            "ORDER BY ts_rank(m.search_vector, to_tsquery('english', :q)) DESC, m.id LIMIT :n"
        )
        params = {"u": user_id, "q": _ts_query(words, pairs=pairs), "n": limit}
    return [int(row[0]) for row in session.execute(query, params)]


@dataclass(frozen=True)
class Counts:
    """The user's indexed messages: how many, how many hold each word, and for each word
    that may start longer ones (`prefix`) whether the user has written any such longer word.
    `sole_owner`: nobody else has an indexed message in this store (a personal store)."""

    total: int
    docs: list[int]
    longer: list[bool]
    sole_owner: bool = False


def message_counts(session: Session, user_id: str, words: Sequence[Word]) -> Counts:
    """Read from `search_terms`, which the index's triggers keep per user (migration 0004), in one
    statement: counting them in an index that several users share costs far more. A word that
    also matches longer words (`prefix`) counts the messages of each word it starts, summed: an
    upper bound when a message holds two of them (capped at the total). On PostgreSQL a word
    counts under each of its forms (as typed and without accents), also summed."""
    sqlite = _is_sqlite(session)
    params: dict[str, Any] = {"u": user_id, "end": "\U0010ffff"}
    lookup = "(SELECT {agg} FROM search_terms WHERE user_id = :u AND docs > 0 AND {where})"
    parts = [
        lookup.format(agg="docs", where="term = ''"),
        # Anyone else's indexed messages? Two seeks on the key (user_id, term): each user's rows
        # start with their total (term ''), so the first row either side answers (unless that
        # user's messages are all gone; then the scan goes on to the next user's total).
        "(SELECT count(*) FROM (SELECT 1 FROM search_terms WHERE user_id < :u AND term = '' AND docs > 0 "
        "LIMIT 1) b) + (SELECT count(*) FROM (SELECT 1 FROM search_terms WHERE user_id > :u AND term = '' "
        "AND docs > 0 LIMIT 1) a)",
    ]
    longer_parts = []
    for i, word in enumerate(words):
        forms = [word.stem] if sqlite else [f for f in (word.text, word.typed) if f]
        exact, ranges, longer = [], [], []
        for j, form in enumerate(forms):
            params[f"t{i}_{j}"] = form
            term = f":t{i}_{j}" if sqlite else _PG_LEXEME.format(f":t{i}_{j}")
            exact.append(f"term = {term}")
            ranges.append(f"(term >= {term} AND term < {term} || :end)")
            longer.append(f"(term > {term} AND term < {term} || :end)")
        parts.append(
            lookup.format(agg="sum(docs)", where="(" + " OR ".join(ranges if word.prefix else exact) + ")")
        )
        if word.prefix:
            longer_parts.append(lookup.format(agg="count(*)", where="(" + " OR ".join(longer) + ")"))
        else:
            longer_parts.append("0")
    row = session.execute(text("SELECT " + ", ".join(parts + longer_parts)), params).one()
    total, others = int(row[0] or 0), int(row[1] or 0)
    docs = [min(int(v or 0), total) for v in row[2 : len(words) + 2]]
    return Counts(total, docs, [bool(v) for v in row[len(words) + 2 :]], sole_owner=not others)


# PostgreSQL: the lexeme a word is stored as (its english stem; '' for a stop word).
_PG_LEXEME = "coalesce((SELECT min(x) FROM unnest(tsvector_to_array(to_tsvector('english', {}))) x), '')"


def note_counts(session: Session, user_id: str, words: Sequence[Word]) -> tuple[int, list[int]]:
    """The user's facts, memories and progress notes together: how many, and how many contain
    each word, counted in the index (a few hundred rows per user, unlike messages)."""
    params: dict[str, Any] = {"u": user_id}
    if _is_sqlite(session):
        parts = []
        for i, word in enumerate([None, *words]):
            params[f"q{i}"] = _fts_query(user_id, [word] if word else [])
            parts.append(f"(SELECT count(*) FROM search_notes_fts WHERE search_notes_fts MATCH :q{i})")
        row = session.execute(text("SELECT " + ", ".join(parts)), params).one()
        return int(row[0]), [int(v) for v in row[1:]]
    total = 0
    per_word = [0] * len(words)
    for table in NOTE_TABLES:
        where = f"FROM {table} t WHERE t.user_id = :u AND t.search_vector IS NOT NULL"
        total += int(session.execute(text(f"SELECT count(*) {where}"), params).scalar() or 0)
        if not words:
            continue
        filters = []
        for i, word in enumerate(words):
            params[f"q{i}"] = _ts_query([word])
            filters.append(f"count(*) FILTER (WHERE t.search_vector @@ to_tsquery('english', :q{i}))")
        params["any"] = _ts_query(words)
        query = f"SELECT {', '.join(filters)} {where} AND t.search_vector @@ to_tsquery('english', :any)"
        row = session.execute(text(query), params).one()
        per_word = [a + int(b) for a, b in zip(per_word, row, strict=True)]
    return total, per_word


NOTE_TABLES = ("user_facts", "memories", "progress")


# CROSS JOIN: SQLite then reads the few messages asked for first, by their keys, and never walks
# the user's conversations (PostgreSQL plans it as any join).
_MESSAGE_COLUMNS = (
    "SELECT m.id, m.conversation_id, m.position, m.role, m.content, m.created_at, c.type, c.title "
    "FROM messages m CROSS JOIN conversations c WHERE c.id = m.conversation_id AND "
)


def _message_rows(session: Session, query: TextClause, params: dict[str, Any]) -> list[MessageRow]:
    typed = query.columns(created_at=UTCDateTime)
    return [
        MessageRow(int(r[0]), r[1], int(r[2]), r[3], r[4], r[5], r[6], r[7])
        for r in session.execute(typed, params).all()
    ]


def _id_list(session: Session, column: str) -> tuple[str, Any]:
    """`column` is one of a list of ids given as one parameter (:ids), and how to pass the list.

    One parameter, not one per id: the statement's text stays the same whatever the number of
    ids, so it is compiled once (an expanding IN of 100 ids cost more than the query itself)."""
    if _is_sqlite(session):
        return f"{column} IN (SELECT value FROM json_each(:ids))", json.dumps
    return f"{column} = ANY(:ids)", list


def messages_by_id(session: Session, user_id: str, ids: Sequence[int]) -> list[MessageRow]:
    """Those of the ids that are the user's indexed messages (the index is never trusted alone)."""
    if not ids:
        return []
    among, pack = _id_list(session, "m.id")
    query = text(_MESSAGE_COLUMNS + among + " AND c.user_id = :u AND m.role IN ('user', 'assistant')")
    return _message_rows(session, query, {"ids": pack([int(i) for i in ids]), "u": user_id})


def neighbourhoods(session: Session, user_id: str, ids: Sequence[int], window: int) -> list[Turn]:
    """The user's indexed messages within `window` positions of any of the messages `ids`
    (themselves included), by conversation and position: one statement for all of them."""
    if not ids:
        return []
    among, pack = _id_list(session, "m.id")
    # Each neighbour by its exact position (m.position + k for k in -window..window): with a
    # range instead, PostgreSQL cannot tell how many rows it matches, guesses thousands a
    # message, and plans a parallel scan with JIT (70-700 ms at 100,000 messages, not 3).
    offsets = " UNION ALL ".join(f"SELECT {k} AS k" for k in range(-int(window), int(window) + 1))
    query = text(
        "SELECT DISTINCT n.id, n.conversation_id, n.position, n.content, c.type "
        f"FROM messages m CROSS JOIN ({offsets}) d CROSS JOIN messages n CROSS JOIN conversations c "
        f"WHERE {among} AND n.conversation_id = m.conversation_id AND n.position = m.position + d.k "
        "AND c.id = n.conversation_id AND c.user_id = :u "
        "AND n.role IN ('user', 'assistant') AND n.content <> '' ORDER BY n.conversation_id, n.position"
    )
    rows = session.execute(query, {"ids": pack([int(i) for i in ids]), "u": user_id}).all()
    return [Turn(r[0], r[1], r[2], r[3], r[4] == "coaching") for r in rows]


def messages_around(session: Session, conversation_id: str, positions: Sequence[int]) -> list[MessageRow]:
    """Indexed messages of one conversation at the given positions, in order."""
    if not positions:
        return []
    query = text(
        _MESSAGE_COLUMNS + "m.conversation_id = :c AND m.position IN :p "
        "AND m.role IN ('user', 'assistant') AND m.content <> '' ORDER BY m.position"
    ).bindparams(bindparam("p", expanding=True))
    return _message_rows(session, query, {"c": conversation_id, "p": sorted(set(positions))})


def note_candidates(session: Session, user_id: str, words: Sequence[Word], limit: int) -> list[NoteRow]:
    """The user's facts, memories and progress notes that contain any of the words."""
    if _is_sqlite(session):
        refs = session.execute(
            text(
                "SELECT n.kind, n.ref FROM search_notes_fts f JOIN search_notes n ON n.id = f.rowid "
                "WHERE search_notes_fts MATCH :q ORDER BY bm25(search_notes_fts, 1.0, 0.0) LIMIT :n"
            ),
            {"q": _fts_query(user_id, words), "n": limit},
        ).all()
        wanted: dict[str, list[str]] = {}
        for kind, ref in refs:
            wanted.setdefault(kind, []).append(ref)
        where = {kind: "t.id IN :ids" for kind in wanted}
        params: dict[str, Any] = {"u": user_id}
    else:
        wanted = {kind: [] for kind in NOTE_KINDS}
        where = {kind: "t.search_vector @@ to_tsquery('english', :q)" for kind in NOTE_KINDS}
        params = {"u": user_id, "q": _ts_query(words)}
    notes: list[NoteRow] = []
    for kind, ids in wanted.items():
        query = text(_note_select(kind) + f" WHERE t.user_id = :u AND {where[kind]} LIMIT {int(limit)}")
        if _is_sqlite(session):
            query = query.bindparams(bindparam("ids", expanding=True))
            params["ids"] = ids
        for r in session.execute(query.columns(created_at=UTCDateTime), params):
            notes.append(NoteRow(kind, r[0], r[1], r[2], r[3], bool(r[4]), bool(r[5])))
    return notes


def _note_select(kind: str) -> str:
    """id, conversation_id, text, created_at, replaced, summary of one kind of note."""
    if kind == "fact":
        return "SELECT t.id, NULL, t.text, t.created_at, t.superseded_at IS NOT NULL, 0 = 1 FROM user_facts t"
    if kind == "memory":
        return (
            "SELECT t.id, t.conversation_id, t.content, t.created_at, 0 = 1, t.kind = 'summary' "
            "FROM memories t"
        )
    return "SELECT t.id, NULL, t.text, t.created_at, 0 = 1, 0 = 1 FROM progress t"


def not_search_index(name: str | None, type_: str, _parents: Any = None) -> bool:
    """Alembic `include_name`: the search index's tables and columns live outside the models.

    They are created by migration 0004 only (FTS5 tables and triggers are SQLite's; the
    generated `search_vector` columns PostgreSQL's), so a model comparison leaves them out.
    """
    if name is None:
        return True
    if type_ == "table":
        return not name.startswith("search_")
    if type_ == "column":
        return name != "search_vector"
    if type_ == "index":
        return not name.endswith("_search_vector")
    return True
