"""Durable user facts: survive reset, never duplicated; a restatement updates the original."""

from __future__ import annotations

import re

from sqlalchemy import delete
from sqlmodel import Session, col, select

from coachcli.coaching.ids import by_prefix
from coachcli.errors import UsageError
from coachcli.store.models import FACT_SOURCES, User, UserFact
from coachcli.store.types import utcnow

MAX_FACT_LENGTH = 500
# Words that do not change what a fact says; a restatement may add or drop them freely.
_FILLER = frozenset(
    [
        "a",
        "an",
        "the",
        "in",
        "on",
        "at",
        "to",
        "of",
        "for",
        "with",
        "and",
        "or",
        "is",
        "are",
        "am",
        "was",
        "be",
        "i",
        "my",
        "me",
        "he",
        "she",
        "they",
        "their",
        "his",
        "her",
        "it",
        "its",
        "this",
        "that",
        "very",
        "really",
    ]
)
# A restatement may add this many content words ("early" in "prefers early morning workouts").
_MAX_ADDED_WORDS = 2


def normalize(text: str) -> str:
    """Case, spacing and end punctuation do not make a new fact."""
    folded = re.sub(r"\s+", " ", text).strip().lower()
    return folded.rstrip(".!;, ")


def _clean(text: str) -> str:
    cleaned = re.sub(r"\s+", " ", text).strip()
    if not cleaned:
        raise UsageError("a fact cannot be empty.")
    if len(cleaned) > MAX_FACT_LENGTH:
        raise UsageError(f"a fact is at most {MAX_FACT_LENGTH} characters; this one has {len(cleaned)}.")
    return cleaned


def list_facts(session: Session, user: User) -> list[UserFact]:
    query = select(UserFact).where(UserFact.user_id == user.id).order_by(col(UserFact.created_at))
    return list(session.exec(query))


def _content_words(normalized: str) -> frozenset[str]:
    words = re.findall(r"[a-z0-9']+", normalized)
    return frozenset(w.rstrip("s") if len(w) > 3 else w for w in words if w not in _FILLER)


def _restated(facts: list[UserFact], normalized: str) -> UserFact | None:
    """A fact this one restates or refines: same content words, give or take a couple added.

    A changed word is a different fact ("allergic to peanuts" vs "walnuts"): only an explicit
    correction (`replaces`) may overwrite it, so nothing durable is lost by a near match.
    """
    new = _content_words(normalized)
    for fact in facts:
        old = _content_words(fact.normalized)
        small, large = sorted((old, new), key=len)
        if len(small) >= 2 and small <= large and len(large - small) <= _MAX_ADDED_WORDS:
            return fact
    return None


def add_fact(
    session: Session,
    user: User,
    text: str,
    *,
    source: str = "manual",
    replaces: str | None = None,
) -> tuple[UserFact, bool]:
    """Add a fact, or update the one it restates or `replaces` (id prefix). Returns (fact, created)."""
    if source not in FACT_SOURCES:
        raise UsageError(f"fact source must be one of {', '.join(FACT_SOURCES)}.")
    cleaned = _clean(text)
    normalized = normalize(cleaned)
    facts = list_facts(session, user)
    target: UserFact | None = None
    if replaces:
        target = by_prefix(session, UserFact, replaces, what="fact", where=[UserFact.user_id == user.id])
    exact = next((f for f in facts if f.normalized == normalized), None)
    if target is None:
        target = exact or _restated(facts, normalized)
    elif exact is not None and exact.id != target.id:
        session.delete(exact)  # the corrected fact would duplicate another: keep one
        session.flush()
    if target is None:
        fact = UserFact(user_id=user.id, text=cleaned, normalized=normalized, source=source)
        session.add(fact)
        session.flush()
        return fact, True
    target.text = cleaned
    target.normalized = normalized
    target.updated_at = utcnow()
    session.add(target)
    session.flush()
    return target, False


def remove_fact(session: Session, user: User, id_prefix: str) -> UserFact:
    fact = by_prefix(session, UserFact, id_prefix, what="fact", where=[UserFact.user_id == user.id])
    session.execute(delete(UserFact).where(col(UserFact.id) == fact.id))
    return fact
