"""Checks shared by everything a person types: not empty, not absurdly long."""

from __future__ import annotations

from coachcli.errors import UsageError


def require_text(text: str, *, what: str, limit: int, empty_hint: str) -> str:
    """The text stripped, or a UsageError (exit 2) that says what to do."""
    text = text.strip()
    if not text:
        raise UsageError(f"the {what} is empty: {empty_hint}")
    if len(text) > limit:
        raise UsageError(f"the {what} is at most {limit} characters; this one has {len(text)}.")
    return text
