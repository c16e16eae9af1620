"""Search one user's whole history: messages, facts, memories and progress notes.

The index (store/search_sql.py) finds candidates; they are ranked here with BM25 computed from
the user's own rows only (their word counts are kept per user as messages change, so a search
reads them instead of counting). A full-text index shared by everyone in a store would otherwise weigh
a word by how common it is across all users: one person's everyday word would look rare
because the others never use it. Each message is also scored with the turns around it, at a
lower weight, so a short reply ("Yes, Monday!") is found through the question it answers.
Both engines hand over the same candidates' text and counts, so they rank alike.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import TYPE_CHECKING

from sqlmodel import Session

from coachcli.coaching.search_text import Counted, QueryTerm, TermMatcher, query_terms
from coachcli.errors import UsageError
from coachcli.store import search_sql
from coachcli.store.search_sql import MessageRow, NoteRow, Turn, Word

if TYPE_CHECKING:
    from coachcli.store.models import User

TYPE_FILTERS = ("message", "task", "fact", "memory", "progress")  # `task`: messages of task threads
MAX_LIMIT = 200
MAX_CONTEXT = 10

K1 = 1.2  # the usual BM25 constants
B = 0.75
# Each message is scored as one field of a two-field document (BM25F): its own words, plus the
# words of the turns around it at a lower weight, 0.5 for the next turn each side, 0.25 for the
# one after. A short reply ("Yes, Monday!") is found through the question it answers.
CONTEXT_WEIGHT = 0.5
CONTEXT_TURNS = 2
CONTEXT_DECAY = 0.5
CANDIDATE_BUDGET = 5_000  # messages the candidate words may match together (see _selective)
PAIR_WORDS = 3  # when every word is common: the rarest this many, any two of them together
CANDIDATES = 100  # messages taken from the index before re-ranking (more when the limit is larger)
WINDOW = CONTEXT_TURNS  # positions fetched around each candidate (farther turns count as absent)


@dataclass(frozen=True)
class ContextMessage:
    id: int
    role: str
    content: str
    created_at: datetime
    before: bool  # said before the hit (else after it)


@dataclass
class Hit:
    type: str  # message | fact | memory | progress
    id: int | str
    conversation_id: str | None
    role: str | None
    content: str
    created_at: datetime
    score: float
    source: str  # coaching | task | fact | memory | summary | progress
    title: str | None = None  # the task thread's title
    replaced: bool = False  # a fact that a correction superseded
    context: list[ContextMessage] = field(default_factory=list)
    position: int | None = None  # a message's place in its conversation

    @property
    def where(self) -> str:
        """Where the hit came from, in words: "coaching", "task: Planner: …", "fact (replaced)"."""
        if self.source == "task":
            return f"task: {self.title}" if self.title else "task thread"
        if self.replaced:
            return "fact (replaced)"
        return self.source


def search(
    session: Session | None,
    owner: User | str | None,
    query: str,
    *,
    limit: int = 10,
    types: Iterable[str] | None = None,
    context: int = 0,
) -> list[Hit]:
    """The best hits of the user (or of the user with that handle) for the words of `query`,
    best first.

    A query with no word to search for (empty, punctuation, only stop words) is a UsageError:
    the person should say what to look for. Nobody's rows but the user's are ever returned.
    `coach search` passes the handle: the search itself needs no ORM model, and loading them
    would cost the command more start-up time than the search (as for `coach tasks list`).
    """
    terms = query_terms(query)
    if not terms:
        raise UsageError(
            "the search has no words to look for (common words like 'the' or 'did' are ignored): "
            "give a few words, e.g. coach search knee physio."
        )
    if not 1 <= limit <= MAX_LIMIT:
        raise UsageError(f"--limit must be between 1 and {MAX_LIMIT}.")
    if not 0 <= context <= MAX_CONTEXT:
        raise UsageError(f"--context must be between 0 and {MAX_CONTEXT}.")
    wanted = set(types or TYPE_FILTERS)
    unknown = wanted - set(TYPE_FILTERS)
    if unknown:
        raise UsageError(f"unknown --type {sorted(unknown)[0]!r}: use one of {', '.join(TYPE_FILTERS)}.")
    if session is None or owner is None:  # no store yet, or no such user: nothing to find
        return []
    user_id = search_sql.user_id_of(session, owner) if isinstance(owner, str) else owner.id
    if user_id is None:
        return []
    words = [Word(t.word, t.prefix, t.stem, t.typed) for t in terms]
    hits: list[Hit] = []
    if wanted & {"message", "task"}:
        hits += _message_hits(session, user_id, terms, words, limit, wanted)
    if wanted & {"fact", "memory", "progress"}:
        hits += _note_hits(session, user_id, terms, words, limit, wanted)
    hits.sort(key=lambda h: (-h.score, -h.created_at.timestamp()))
    hits = hits[:limit]
    if context:
        _attach_context(session, hits, context)
    return hits


class _Scorer:
    """BM25 over the user's own rows: counts from the index, text from the candidates."""

    def __init__(self, terms: Sequence[QueryTerm], total: int, doc_counts: Sequence[int]) -> None:
        self.matcher = TermMatcher(terms)
        self.idf = [math.log(1 + (total - df + 0.5) / (df + 0.5)) for df in doc_counts]
        self.average_length = 1.0

    def set_average(self, lengths: Iterable[float]) -> None:
        """The mean length of the candidates stands in for the user's (one scan fewer per search)."""
        values = list(lengths)
        self.average_length = max(sum(values) / len(values), 1.0) if values else 1.0

    def score(self, doc: Counted, average_length: float | None = None) -> float:
        frequencies, length = doc
        if not length:
            return 0.0
        norm = K1 * (1 - B + B * length / (average_length or self.average_length))
        return sum(
            idf * tf * (K1 + 1) / (tf + norm) for idf, tf in zip(self.idf, frequencies, strict=True) if tf
        )


def _message_hits(
    session: Session,
    user_id: str,
    terms: Sequence[QueryTerm],
    words: Sequence[Word],
    limit: int,
    wanted: set[str],
) -> list[Hit]:
    counts = search_sql.message_counts(session, user_id, words)
    total, doc_counts = counts.total, counts.docs
    # A word that may start longer ones is looked up as such only if the user wrote any (the
    # same messages either way; an index finds a whole word much faster than a prefix).
    words = [replace(w, prefix=w.prefix and more) for w, more in zip(words, counts.longer, strict=True)]
    ids = _candidates(session, user_id, words, counts, max(CANDIDATES, 5 * limit))
    if not ids:
        return []
    scorer = _Scorer(terms, total, doc_counts)
    threads: dict[str, list[Turn]] = {}
    for turn in search_sql.neighbourhoods(session, user_id, ids, WINDOW):
        threads.setdefault(turn.conversation_id, []).append(turn)
    docs = {turn.id: scorer.matcher.count(turn.content) for thread in threads.values() for turn in thread}
    scorer.set_average(length for _, length in docs.values())
    scored: list[tuple[float, Turn]] = []
    idf, average = scorer.idf, scorer.average_length  # Scorer.score, inlined below: 500 calls a search
    offsets = [(d, CONTEXT_WEIGHT * CONTEXT_DECAY ** (d - 1)) for d in range(1, CONTEXT_TURNS + 1)]
    for thread in threads.values():
        counted = [docs[turn.id] for turn in thread]
        size = len(thread)
        # Each turn that holds a word passes it on to its neighbours (most turns hold none, so
        # this is far less work than each turn gathering from all of its neighbours).
        spread: list[list[float] | None] = [None] * size
        for j, (f, _length) in enumerate(counted):
            if not any(f):
                continue
            for distance, w in offsets:
                for i in (j - distance, j + distance):
                    if 0 <= i < size:
                        got = spread[i]
                        spread[i] = (
                            [w * b for b in f]
                            if got is None
                            else [a + w * b for a, b in zip(got, f, strict=True)]
                        )
        # Lengths with the neighbours' at their weights, and the weights' sum, for all turns at
        # once: one pass over shifted lists per side and distance.
        lengths: list[float] = [float(n) for _, n in counted]
        weights = [1.0] * size
        own = lengths[:]
        for distance, w in offsets:
            if distance >= size:
                break
            before = [0.0] * distance + own[:-distance]  # the turn `distance` earlier
            after = own[distance:] + [0.0] * distance
            lengths = [x + w * y for x, y in zip(lengths, before, strict=True)]
            lengths = [x + w * y for x, y in zip(lengths, after, strict=True)]
            weights = [x + (w if i >= distance else 0.0) for i, x in enumerate(weights)]
            weights = [x + (w if i < size - distance else 0.0) for i, x in enumerate(weights)]
        for i, turn in enumerate(thread):
            extra = spread[i]
            frequencies = counted[i][0]
            if extra is None:
                if not any(frequencies):
                    continue
            else:
                frequencies = [a + b for a, b in zip(frequencies, extra, strict=True)]
            norm = K1 * (1 - B + B * lengths[i] / (average * weights[i]))
            score = round(
                sum(w * tf * (K1 + 1) / (tf + norm) for w, tf in zip(idf, frequencies, strict=True) if tf), 4
            )
            if score <= 0 or not turn.content.strip():
                continue
            if ("message" if turn.coaching else "task") not in wanted:
                continue
            scored.append((score, turn))
    scored.sort(key=lambda pair: -pair[0])
    if len(scored) > limit:  # only those that can make the list (ties are ordered by date later)
        scored = [pair for pair in scored if pair[0] >= scored[limit - 1][0]]
    rows = {row.id: row for row in search_sql.messages_by_id(session, user_id, [t.id for _, t in scored])}
    return [_message_hit(rows[turn.id], score) for score, turn in scored if turn.id in rows]


def _message_hit(row: MessageRow, score: float) -> Hit:
    source = "coaching" if row.conversation_type == "coaching" else "task"
    return Hit(
        "message",
        row.id,
        row.conversation_id,
        row.role,
        row.content,
        row.created_at,
        score,
        source,
        row.title,
        position=row.position,
    )


def _candidates(
    session: Session, user_id: str, words: Sequence[Word], counts: search_sql.Counts, wanted: int
) -> list[int]:
    """Messages worth ranking: those with the rarest words (see _selective).

    When every word is common for this user (even the rarest is in more than CANDIDATE_BUDGET
    messages), the index ranks only the messages that hold two of the PAIR_WORDS rarest words
    (BM25 puts those first anyway, and there are far fewer of them), topped up from the rarest
    word alone when they are too few. This depends on the user's counts only, not on the data."""
    doc_counts = counts.docs
    find = partial(
        search_sql.message_candidates, session, user_id, limit=wanted, sole_owner=counts.sole_owner
    )
    present = sorted((i for i in range(len(words)) if doc_counts[i]), key=lambda i: doc_counts[i])
    if len(present) >= 2 and doc_counts[present[0]] > CANDIDATE_BUDGET:
        common = [words[i] for i in present[:PAIR_WORDS]]
        ids = find(common, pairs=True)
        if len(ids) >= wanted:
            return ids
        more = find(common[:1])
        seen = set(ids)
        return ids + [i for i in more if i not in seen][: wanted - len(ids)]
    selective = _selective(words, doc_counts)
    if not selective:  # none of the words is in any of the user's messages
        return []
    return find(selective)


def _selective(words: Sequence[Word], doc_counts: Sequence[int]) -> list[Word]:
    """The words that pick candidates: the rarest, until they match CANDIDATE_BUDGET messages.

    A word in thousands of messages adds little to any score (BM25 weighs it low), but ranking
    every message it is in costs time: such words only re-rank. Every word counts when the
    words together match fewer messages than the budget.
    """
    order = sorted((i for i in range(len(words)) if doc_counts[i]), key=lambda i: doc_counts[i])
    chosen: list[Word] = []
    covered = 0
    for i in order:
        if chosen and covered + doc_counts[i] > CANDIDATE_BUDGET:
            break
        chosen.append(words[i])
        covered += doc_counts[i]
    return chosen


def _note_hits(
    session: Session,
    user_id: str,
    terms: Sequence[QueryTerm],
    words: Sequence[Word],
    limit: int,
    wanted: set[str],
) -> list[Hit]:
    notes = [
        n
        for n in search_sql.note_candidates(session, user_id, words, max(CANDIDATES, 5 * limit))
        if n.kind in wanted
    ]
    if not notes:
        return []
    total, doc_counts = search_sql.note_counts(session, user_id, words)
    scorer = _Scorer(terms, total, doc_counts)
    docs = [scorer.matcher.count(note.content) for note in notes]
    scorer.set_average(length for _, length in docs)
    hits = []
    for note, doc in zip(notes, docs, strict=True):
        score = scorer.score(doc)
        if score > 0:
            hits.append(_note_hit(note, score))
    return hits


def _note_hit(note: NoteRow, score: float) -> Hit:
    source = "summary" if note.summary else note.kind
    return Hit(
        note.kind,
        note.id,
        note.conversation_id,
        None,
        note.content,
        note.created_at,
        round(score, 4),
        source,
        replaced=note.replaced,
    )


def _attach_context(session: Session, hits: Sequence[Hit], turns: int) -> None:
    """Give each message hit up to `turns` indexed messages before and after it."""
    for hit in hits:
        if hit.type != "message" or hit.conversation_id is None or hit.position is None:
            continue
        span = range(hit.position - turns - 3, hit.position + turns + 4)  # skips tool turns between
        thread = search_sql.messages_around(session, hit.conversation_id, list(span))
        index = next((i for i, row in enumerate(thread) if row.id == hit.id), None)
        if index is None:
            continue
        chosen = thread[max(index - turns, 0) : index] + thread[index + 1 : index + 1 + turns]
        hit.context = [
            ContextMessage(r.id, r.role, r.content, r.created_at, r.position < hit.position) for r in chosen
        ]
