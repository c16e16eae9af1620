"""Users are found by handle and created on first use."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, select

from coachcli.config import validate_handle
from coachcli.store.models import User


def find_user(session: Session, handle: str) -> User | None:
    return session.exec(select(User).where(User.handle == handle)).first()


def get_or_create_user(session: Session, handle: str) -> User:
    """The user with this handle, created if new; a concurrent creator's row wins cleanly."""
    handle = validate_handle(handle)
    user = find_user(session, handle)
    if user is not None:
        return user
    try:
        with session.begin_nested():
            user = User(handle=handle)
            session.add(user)
    except IntegrityError:
        user = find_user(session, handle)
        if user is None:  # pragma: no cover - the unique row must exist after the conflict
            raise
    return user
