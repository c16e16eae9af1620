"""Options and helpers shared by several command modules."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:  # the store stack loads only when a command opens the database, never for --help
    from sqlmodel import Session

    from coachcli.cli.state import AppState
    from coachcli.config import Settings
    from coachcli.llm.client import LLMClient
    from coachcli.store.models import User

JsonOpt = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]

# Counts (--limit, -n, --days …) stay far below what a database integer holds, so a huge number is
# a usage error (exit 2) naming the range, never an overflow deep in a query.
MAX_COUNT = 1_000_000


def count_option(*names: str, help: str, minimum: int = 1) -> Any:
    """A whole-number option bounded to [minimum, MAX_COUNT]; use it for every int option."""
    return typer.Option(*names, min=minimum, max=MAX_COUNT, help=help)


LimitOpt = Annotated[int | None, count_option("--limit", "-n", help="Show at most N.")]
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
    with app.store().write() as session:
        yield session, current_user(session, settings)


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


def client_factory(settings: Settings) -> Callable[[str | None], LLMClient]:
    """Clients per model: an agent's own model overrides the default."""
    from coachcli.llm.client import LLMClient

    cache: dict[str, LLMClient] = {}

    def client_for(model: str | None) -> LLMClient:
        name = model or settings.model
        if name not in cache:
            cache[name] = LLMClient.from_settings(settings, name)
        return cache[name]

    return client_for


def read_stdin() -> str:
    """All of standard input as text; bytes that are not UTF-8 are a usage error, not a crash."""
    import sys

    from coachcli.errors import UsageError

    buffer = getattr(sys.stdin, "buffer", None)
    if buffer is None:  # a text stream without bytes underneath (tests): check what it decoded
        return check_text(sys.stdin.read(), what="standard input")
    data = buffer.read()
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(
            f"standard input is not valid UTF-8 (byte 0x{data[exc.start]:02x} at offset {exc.start}): "
            "convert it to UTF-8 first, e.g. with iconv."
        ) from None


def check_text(text: str, *, what: str) -> str:
    """`text` unchanged, or a UsageError if it holds undecodable bytes (surrogate escapes)."""
    from coachcli.errors import UsageError

    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        try:
            raw = text.encode("utf-8", "surrogateescape")  # the bytes as typed, for the message
        except UnicodeEncodeError:
            raw = text.encode("utf-8", "backslashreplace")
        shown = raw[:60].decode("utf-8", "backslashreplace")
        raise UsageError(
            f"{what} is not valid UTF-8 (at character {exc.start + 1}: '{shown}'): "
            "type it again or convert it to UTF-8."
        ) from None
    return text
