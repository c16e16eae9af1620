"""Durable user facts: survive reset, never duplicated, never silently lost.

A new fact merges into an existing one only when it is a true restatement: the same words in the
same order once case, punctuation, spacing, contractions ("I'm", "doesn't"), a leading verb's
person ("Prefers" / "I prefer") and a few words that carry no meaning ("a", "the", "is", the
user's own "I"/"my") are set aside. Any other difference (another person, a negation, a number,
an object, a time) makes a new fact. A correction is
explicit (`replaces` / `coach facts edit`) and keeps the old fact as history: it gets
`superseded_at` and a link to its successor. Prompts and listings use current facts only.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import delete
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from coachcli.coaching.ids import by_prefix
from coachcli.coaching.text import require_storable
from coachcli.errors import ConflictError, UsageError
from coachcli.store.models import FACT_SOURCES, User, UserFact
from coachcli.store.types import utcnow

MAX_FACT_LENGTH = 500

# Words whose presence or absence never changes who or what a fact is about. Pronouns other than
# the user's own ("he", "her", "they", "we") and "me" (an object) are deliberately not here.
_FILLER = frozenset(["a", "an", "the", "am", "is", "are", "i", "my"])
# Same word, other grammatical person: "I do not" / "does not", "I have" / "has".
_SAME_WORD = {"does": "do", "has": "have"}
# After a leading plural noun a copula follows ("Parents are …"): that word is not a verb to fold.
_COPULAS = frozenset(["am", "is", "are", "was", "were"])
_WHOLE_CONTRACTIONS = {
    "can't": "can not",
    "cannot": "can not",
    "won't": "will not",
    "shan't": "shall not",
    "ain't": "is not",
    "it's": "it is",
    "he's": "he is",
    "she's": "she is",
    "that's": "that is",
    "there's": "there is",
}
_SUFFIX_CONTRACTIONS = (("n't", " not"), ("'m", " am"), ("'re", " are"), ("'ve", " have"), ("'ll", " will"))
# Numbers (with decimals and times), words (with apostrophes), and symbols that carry meaning
# ($, %, +, °, emoji …); plain punctuation and hyphens separate words and are dropped.
_TOKEN = re.compile(r"\d+(?:[.,:]\d+)*|[^\W\d_]+(?:'[^\W\d_]+)*|[^\w\s.,;:!?'\"()\[\]{}\-]")
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})

Action = Literal["added", "merged", "replaced", "unchanged"]


@dataclass(frozen=True)
class FactChange:
    """What saving a fact did. `fact` is the current fact holding the claim afterwards."""

    action: Action
    fact: UserFact
    replaced: UserFact | None = None  # for "replaced": the fact now kept as history
    created: bool = False  # a new row was written (an added fact, or a correction's successor)

    def describe(self) -> str:
        """One line for people and for the coach's tool result: always names the fact."""
        fact = self.fact
        if self.action == "added":
            return f"Added fact {fact.id[:8]}: {fact.text}"
        if self.action == "merged":
            return f"Merged into fact {fact.id[:8]} (same fact, restated; nothing added): {fact.text}"
        if self.action == "unchanged":
            return f"Fact {fact.id[:8]} already says that: {fact.text}"
        old = self.replaced.id[:8] if self.replaced is not None else "?"
        if not self.created:
            return f"Replaced fact {old} (kept in history); it now restates fact {fact.id[:8]}: {fact.text}"
        return f"Replaced fact {old} (kept in history) with fact {fact.id[:8]}: {fact.text}"


def normalize(text: str) -> str:
    """Case, spacing and end punctuation do not make a new fact (stored, unique per user)."""
    folded = re.sub(r"\s+", " ", text).strip().lower()
    return folded.rstrip(".!;, ")


def claim_key(text: str) -> tuple[str, ...]:
    """The words that carry a fact's meaning, in order: equal keys are the same claim."""
    folded = unicodedata.normalize("NFKC", text).translate(_APOSTROPHES).casefold()
    raw: list[str] = []
    for token in _TOKEN.findall(folded):
        expanded = _WHOLE_CONTRACTIONS.get(token)
        if expanded is None:
            expanded = next(
                (token[: -len(s)] + r for s, r in _SUFFIX_CONTRACTIONS if token.endswith(s)), token
            )
        raw.extend(expanded.split())
    words = [_SAME_WORD.get(w, w) for w in raw if w not in _FILLER]
    first = next((i for i, w in enumerate(raw) if w not in _FILLER), None)
    if first is not None and words and (first + 1 == len(raw) or raw[first + 1] not in _COPULAS):
        words[0] = _verb_base(words[0])  # "Prefers …" (about the user) = "I prefer …"
    return tuple(words)


def _verb_base(word: str) -> str:
    """A leading verb without its third-person ending: prefers → prefer, tries → try, goes → go."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("ches", "shes", "sses", "xes", "oes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 3:
        return word[:-1]
    return word


def _clean(text: str) -> str:
    cleaned = re.sub(r"\s+", " ", require_storable(text, what="fact")).strip()
    if not cleaned:
        raise UsageError("a fact cannot be empty.")
    if len(cleaned) > MAX_FACT_LENGTH:
        raise UsageError(f"a fact is at most {MAX_FACT_LENGTH} characters; this one has {len(cleaned)}.")
    return cleaned


def list_facts(session: Session, user: User, *, include_replaced: bool = False) -> list[UserFact]:
    """The user's current facts, oldest first; with `include_replaced`, their history too."""
    query = select(UserFact).where(UserFact.user_id == user.id)
    if not include_replaced:
        query = query.where(col(UserFact.superseded_at).is_(None))
    return list(session.exec(query.order_by(col(UserFact.created_at), col(UserFact.id))))


def find_restated(facts: list[UserFact], text: str) -> UserFact | None:
    """The current fact that `text` restates, if any (see the module docstring for the rule)."""
    normalized = normalize(text)
    exact = next((f for f in facts if f.normalized == normalized), None)
    if exact is not None:
        return exact
    key = claim_key(text)
    if not key:
        return None
    return next((f for f in facts if claim_key(f.text) == key), None)


def save_fact(
    session: Session,
    user: User,
    text: str,
    *,
    source: str = "manual",
    replaces: str | None = None,
) -> FactChange:
    """Add a fact, merge a true restatement into the fact it restates, or correct `replaces`."""
    if source not in FACT_SOURCES:
        raise UsageError(f"fact source must be one of {', '.join(FACT_SOURCES)}.")
    cleaned = _clean(text)
    if replaces:
        return _replace(session, user, replaces, cleaned, source)
    restated = find_restated(list_facts(session, user), cleaned)
    if restated is not None:
        return FactChange("merged", restated)
    try:
        with session.begin_nested():  # a concurrent writer may have added the same fact just now
            fact = _insert(session, user, cleaned, source)
    except IntegrityError:
        restated = find_restated(list_facts(session, user), cleaned)
        if restated is None:
            raise
        return FactChange("merged", restated)
    return FactChange("added", fact, created=True)


def add_fact(
    session: Session,
    user: User,
    text: str,
    *,
    source: str = "manual",
    replaces: str | None = None,
) -> tuple[UserFact, bool]:
    """`save_fact` for callers that only need (the current fact, whether a row was written)."""
    change = save_fact(session, user, text, source=source, replaces=replaces)
    return change.fact, change.created


def edit_fact(
    session: Session, user: User, id_prefix: str, text: str, *, source: str = "manual"
) -> FactChange:
    """`coach facts edit`: correct a current fact; the old wording is kept as history."""
    return save_fact(session, user, text, source=source, replaces=id_prefix)


def _insert(session: Session, user: User, cleaned: str, source: str) -> UserFact:
    fact = UserFact(user_id=user.id, text=cleaned, normalized=normalize(cleaned), source=source)
    session.add(fact)
    session.flush()
    return fact


def _replace(session: Session, user: User, id_prefix: str, cleaned: str, source: str) -> FactChange:
    old = by_prefix(session, UserFact, id_prefix, what="fact", where=[UserFact.user_id == user.id])
    if old.superseded_at is not None:
        successor = f" by fact {old.superseded_by[:8]}" if old.superseded_by else ""
        raise ConflictError(
            f"fact {old.id[:8]} was already replaced{successor}: correct the current one instead "
            "(see `coach facts list`)."
        )
    if cleaned == old.text:
        return FactChange("unchanged", old)
    duplicate = find_restated([f for f in list_facts(session, user) if f.id != old.id], cleaned)
    now = utcnow()
    old.superseded_at = now
    old.updated_at = now
    session.add(old)
    session.flush()  # out of the current facts first: the successor may share its normalized text
    successor_fact = duplicate if duplicate is not None else _insert(session, user, cleaned, source)
    old.superseded_by = successor_fact.id
    session.add(old)
    session.flush()
    return FactChange("replaced", successor_fact, replaced=old, created=duplicate is None)


def remove_fact(session: Session, user: User, id_prefix: str) -> UserFact:
    fact = by_prefix(session, UserFact, id_prefix, what="fact", where=[UserFact.user_id == user.id])
    session.execute(delete(UserFact).where(col(UserFact.id) == fact.id))
    return fact
