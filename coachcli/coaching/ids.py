"""Look things up by a full id or a unique prefix, as users type them."""

from __future__ import annotations

import re
from typing import Any, TypeVar

from sqlmodel import Session, SQLModel, select

from coachcli.errors import NotFoundError, UsageError

T = TypeVar("T", bound=SQLModel)
_ID_CHARS = re.compile(r"(?=.*[0-9a-f])[0-9a-f-]{1,36}")  # used with fullmatch: no `$` newline gap


def check_prefix(prefix: str, *, what: str) -> str:
    """The prefix as stored (lower case), or a UsageError when it cannot be an id at all."""
    prefix = prefix.strip().lower()
    if not _ID_CHARS.fullmatch(prefix):
        raise UsageError(f"{prefix!r} is not a {what} id: ids are hexadecimal, like 3f9c1a2b.")
    return prefix


def by_prefix(session: Session, model: type[T], prefix: str, *, what: str, where: list[Any]) -> T:
    """One row whose id starts with `prefix` among those matching `where`, or a clear error."""
    prefix = check_prefix(prefix, what=what)
    column = model.id  # type: ignore[attr-defined]
    query = select(model).where(column.startswith(prefix, autoescape=True), *where).limit(6)
    rows = list(session.exec(query))
    if not rows:
        raise NotFoundError(f"no {what} with id {prefix!r}: list them to see the ids.")
    if len(rows) > 1:
        shown = ", ".join(str(row.id)[:8] for row in rows[:5])  # type: ignore[attr-defined]
        raise UsageError(f"{prefix!r} matches several {what}s ({shown}…): type more of the id.")
    return rows[0]
