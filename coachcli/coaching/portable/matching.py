"""Is this record already there? By id when it is one of the user's own, else by content and time.

A multiset: each stored row answers for at most one record of the file, so a file holding the
same short reply twice ("Yes") imports both the first time and neither the second time.
"""

from __future__ import annotations

from collections import defaultdict, deque
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

    def owns(self, row_id: Hashable) -> bool:
        return row_id in self._ids

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
