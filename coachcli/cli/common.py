"""Options and helpers shared by several command modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:  # the store stack loads only when a command opens the database, never for --help
    from sqlmodel import Session

    from coachcli.cli.state import AppState
    from coachcli.config import Settings
    from coachcli.store.models import User

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
ModelOpt = Annotated[
    str | None,
    typer.Option("--model", "-m", help="litellm model name [env: COACH_MODEL]", show_default=False),
]
ApiBaseOpt = Annotated[
    str | None,
    typer.Option("--api-base", help="Model endpoint, e.g. a local server [env: COACH_API_BASE]"),
]


def current_user(session: Session, settings: Settings) -> User:
    from coachcli.coaching.users import get_or_create_user

    return get_or_create_user(session, settings.user)


@contextmanager
def writing(app: AppState) -> Iterator[tuple[Session, User]]:
    """A session whose work is committed at the end (services may commit in between)."""
    settings = app.settings()
    with app.store().session() as session:
        user = current_user(session, settings)
        yield session, user
        session.commit()


@contextmanager
def reading(app: AppState) -> Iterator[tuple[Session, User | None]]:
    """A read-only session; the user may not exist yet (then None, and nothing is created)."""
    from coachcli.coaching.users import find_user

    settings = app.settings()
    store = app.store_for_reading()
    if store is None:  # no schema yet: nobody to find, and callers check the user first
        yield None, None  # type: ignore[misc]
        return
    with store.read_session() as session:
        yield session, find_user(session, settings.user)


def client_factory(settings: Settings) -> Callable[[str | None], object]:
    """Clients per model: an agent's own model overrides the default."""
    from coachcli.llm.client import LLMClient

    cache: dict[str, LLMClient] = {}

    def client_for(model: str | None) -> LLMClient:
        name = model or settings.model
        if name not in cache:
            cache[name] = LLMClient(name, settings.api_base)
        return cache[name]

    return client_for
