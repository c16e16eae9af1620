"""Words, not syntax: how a search query and a stored text are cut into comparable terms.

A query is read the way a person writes it. Everything that is not a letter or a digit
(quotes, parentheses, `*`, `^`, `:`, `-`) separates words; `AND`, `OR`, `NEAR` are just words
(and stop words, like "the" or "did", do not count). Each remaining word is stemmed, so
"started" meets "start"; a word the stemmer left whole may also be the start of a longer one
("physio" → "physiotherapy"), which counts, but less than the word itself.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from coachcli.coaching.search_porter import stem

MAX_TERMS = 32  # a pasted page becomes its first 32 distinct words: a clean result, not a slow one
PREFIX_WEIGHT = 0.5  # a longer word that starts with the query's word counts half
MIN_PREFIX = 4  # shorter words as prefixes match too much ("car" → "card", "care", "cart")

# PostgreSQL's (and Snowball's) English stop words, plus the modal verbs questions are made of.
STOP_WORDS = frozenset(
    """
    i me my myself we our ours ourselves you your yours yourself yourselves he him his himself
    she her hers herself it its itself they them their theirs themselves what which who whom
    this that these those am is are was were be been being have has had having do does did
    doing a an the and but if or because as until while of at by for with about against between
    into through during before after above below to from up down in out on off over under again
    further then once here there when where why how all any both each few more most other some
    such no nor not only own same so than too very s t can will just don should now
    would could shall may might must
    """.split()  # noqa: SIM905 - a word list reads better as text
)

_WORD = re.compile(r"[^\W_]+")


def fold(text: str) -> str:
    """Lower case without diacritics (like FTS5's remove_diacritics): "Café" → "cafe"."""
    if text.isascii():
        return text.lower()
    decomposed = unicodedata.normalize("NFKD", text.lower())
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def words(text: str) -> list[str]:
    """The folded words of a text, in order."""
    return _WORD.findall(fold(text))


@dataclass(frozen=True)
class QueryTerm:
    word: str  # as typed (folded): what the engines are given, each stems it its own way
    stem: str  # the Porter stem, for re-ranking
    prefix: bool  # also match longer words that start with the stem
    typed: str = ""  # lower case with its accents, when it had any (PostgreSQL keeps accents)

    def matches(self, token_stem: str) -> float:
        """How much a stored word counts for this term: 1 for the word, 0.5 for a longer one."""
        if token_stem == self.stem:
            return 1.0
        if self.prefix and token_stem.startswith(self.stem):
            return PREFIX_WEIGHT
        return 0.0


Counted = tuple[list[float], float]  # how often each query term occurs in a text, and its length


class TermMatcher:
    """Counts the query terms in texts; what each distinct word matches is worked out once."""

    def __init__(self, terms: Sequence[QueryTerm]) -> None:
        self.size = len(terms)
        self.terms = terms
        self._seen: set[str] = set()  # every word met so far
        self._matching: dict[str, tuple[tuple[int, float], ...]] = {}  # those that match a term

    def _learn(self, word: str) -> None:
        self._seen.add(word)
        stemmed = stem(word)
        found = tuple((i, w) for i, term in enumerate(self.terms) if (w := term.matches(stemmed)))
        if found:
            self._matching[word] = found

    def count(self, text: str) -> Counted:
        found = words(text)
        present = set(found)
        for word in present - self._seen:  # set operations: most texts hold no new word
            self._learn(word)
        frequencies = [0.0] * self.size
        for word in present.intersection(self._matching):
            times = found.count(word)
            for i, weight in self._matching[word]:
                frequencies[i] += weight * times
        return frequencies, len(found)


def query_terms(query: str) -> list[QueryTerm]:
    """The distinct searchable words of a query, in order (at most MAX_TERMS)."""
    terms: list[QueryTerm] = []
    seen: set[str] = set()
    for typed, word in _typed_words(query[:100_000]):
        if word in STOP_WORDS or (len(word) == 1 and not word.isdigit()):
            continue
        stemmed = stem(word)
        if stemmed in seen:
            continue
        seen.add(stemmed)
        prefix = stemmed == word and len(word) >= MIN_PREFIX
        terms.append(QueryTerm(word, stemmed, prefix, typed if typed != word else ""))
        if len(terms) == MAX_TERMS:
            break
    return terms


def _typed_words(text: str) -> list[tuple[str, str]]:
    """(as typed in lower case, folded) for each word of `text`."""
    pairs = []
    for typed in _WORD.findall(text.lower()):
        folded = _WORD.findall(fold(typed))
        pairs += [(typed, folded[0])] if len(folded) == 1 else [(part, part) for part in folded]
    return pairs


def match_spans(text: str, terms: list[QueryTerm]) -> list[tuple[int, int]]:
    """Where the words of `text` that match a query term are: (start, end) offsets to highlight."""
    spans = []
    for found in _WORD.finditer(text):
        folded = fold(found.group())
        if any(term.matches(stem(folded)) for term in terms):
            spans.append((found.start(), found.end()))
    return spans
