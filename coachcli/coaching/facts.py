"""Durable user facts: survive reset, never duplicated; a restatement updates the original."""

from __future__ import annotations

import difflib
import re

from sqlalchemy import delete
from sqlmodel import Session, col, select

from coachcli.coaching.ids import by_prefix
from coachcli.errors import UsageError
from coachcli.store.models import FACT_SOURCES, User, UserFact
from coachcli.store.types import utcnow

MAX_FACT_LENGTH = 500
# Two facts this alike are the same fact restated (or corrected in a word or two).
SIMILAR = 0.85


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


def _most_similar(facts: list[UserFact], normalized: str) -> UserFact | None:
    best, best_score = None, 0.0
    for fact in facts:
        score = difflib.SequenceMatcher(None, fact.normalized, normalized).ratio()
        if score > best_score:
            best, best_score = fact, score
    return best if best_score >= SIMILAR else None


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
        target = exact or _most_similar(facts, normalized)
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
