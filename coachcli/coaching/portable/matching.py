"""Is this record already there? By id when it is one of the user's own, else by content and time.

A multiset: each stored row answers for at most one record of the file, so a file holding the
same short reply twice ("Yes") imports both the first time and neither the second time.
"""

from __future__ import annotations

from collections import Counter, defaultdict, deque
from collections.abc import Hashable
from datetime import datetime
from hashlib import blake2b


def digest(text: str) -> bytes:
    """A short stand-in for a long text in a key (keeps the keys of big conversations small)."""
    return blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).digest()


class Matcher:
    """Stored rows, found by id, by (content, time) or, for records without a time, by content."""

    def __init__(self) -> None:
        self._ids: dict[Hashable, int] = {}
        self._exact: dict[Hashable, deque[int]] = defaultdict(deque)
        self._loose: dict[Hashable, deque[int]] = defaultdict(deque)
        self._rows: list[Hashable] = []
        self._taken: set[int] = set()

    def add(self, row_id: Hashable, content: tuple[Hashable, ...], at: datetime | None) -> None:
        slot = len(self._rows)
        self._rows.append(row_id)
        self._ids[row_id] = slot
        self._exact[(*content, at)].append(slot)
        self._loose[content].append(slot)

    def take(
        self, row_id: Hashable | None, content: tuple[Hashable, ...], at: datetime | None
    ) -> Hashable | None:
        """The stored row this record is, or None; a row is given out once."""
        if row_id is not None and row_id in self._ids and self._ids[row_id] not in self._taken:
            self._taken.add(self._ids[row_id])
            return row_id
        queue = self._exact[(*content, at)] if at is not None else self._loose[content]
        while queue:
            slot = queue.popleft()
            if slot not in self._taken:
                self._taken.add(slot)
                return self._rows[slot]
        return None


class MessageIndex:
    """One conversation's stored messages, for "is this message already there?".

    A conversation can hold hundreds of thousands of messages, so each is kept as a counted
    16-byte key rather than a tuple per row: tens of MB where tuples and queues took hundreds.
    Counting keeps the multiset rule of Matcher (two stored "Yes" at one time match two records).
    Ids and the time-less keys are kept only when the file has messages that need them.
    """

    def __init__(self, *, ids: bool, timeless: bool) -> None:
        self.exact: Counter[bytes] = Counter()
        self.loose: Counter[bytes] | None = Counter() if timeless else None
        self.ids: set[int] | None = set() if ids else None

    @staticmethod
    def _keys(role: str, content: str, at: datetime | None) -> tuple[bytes, bytes]:
        loose = digest(f"{role}\0{content}")
        return loose, digest(f"{role}\0{content}\0{at.isoformat() if at else ''}")

    def add(self, ident: int, role: str, content: str, at: datetime) -> None:
        loose, exact = self._keys(role, content, at)
        self.exact[exact] += 1
        if self.loose is not None:
            self.loose[loose] += 1
        if self.ids is not None:
            self.ids.add(ident)

    def take(self, ident: int | None, role: str, content: str, at: datetime | None) -> bool:
        """True when the record is a stored message (by id, by content and time, or for a record
        without a time by content); that stored message then answers for no other record."""
        loose, exact = self._keys(role, content, at)
        if self.ids is not None and ident is not None and ident in self.ids:
            self.ids.discard(ident)
            _use(self.exact, exact)
            return True
        if at is None:
            return self.loose is not None and _use(self.loose, loose)
        if _use(self.exact, exact):
            if self.loose is not None:
                _use(self.loose, loose)
            return True
        return False


def _use(counter: Counter[bytes], key: bytes) -> bool:
    if counter.get(key, 0) > 0:
        counter[key] -= 1
        return True
    return False
