"""Checks shared by everything a person types: storable, not empty, not absurdly long."""

from __future__ import annotations

import re

from coachcli.errors import UsageError

# NUL (PostgreSQL text cannot hold it) and lone surrogates (undecodable input; no UTF-8 for them).
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def require_storable(text: str, *, what: str) -> str:
    """`text` unchanged, or a UsageError naming what cannot be stored (same on every engine)."""
    found = _UNSTORABLE.search(text)
    if found is not None:
        kind = "a NUL character" if found.group() == "\x00" else "bytes that are not UTF-8"
        raise UsageError(f"the {what} holds {kind} (at character {found.start() + 1}): remove it.")
    return text


def require_text(text: str, *, what: str, limit: int, empty_hint: str) -> str:
    """The text stripped, or a UsageError (exit 2) that says what to do."""
    text = require_storable(text, what=what).strip()
    if not text:
        raise UsageError(f"the {what} is empty: {empty_hint}")
    if len(text) > limit:
        raise UsageError(f"the {what} is at most {limit} characters; this one has {len(text)}.")
    return text
