"""What every tool is made of: its schema and handler (`Tool`), and what a handler gets (`ToolContext`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from coachcli.errors import UsageError

if TYPE_CHECKING:
    from sqlmodel import Session

    from coachcli.coaching.dispatch.run import ClientFactory
    from coachcli.coaching.turn_events import TurnEvents, TurnResult
    from coachcli.llm.types import ToolCall
    from coachcli.store.models import User


def string(description: str | None = None, *, enum: Sequence[str] | None = None) -> dict[str, Any]:
    """A string parameter in a tool's schema (optionally one of `enum`)."""
    schema: dict[str, Any] = {"type": "string"}
    if description is not None:
        schema["description"] = description
    if enum is not None:
        schema["enum"] = list(enum)
    return schema


def arguments(*required: str, **properties: dict[str, Any]) -> dict[str, Any]:
    """A tool's JSON-schema parameters: an object of `properties`, of which `required` must be given."""
    return {"type": "object", "properties": properties, "required": list(required)}


@dataclass
class ToolContext:
    """Everything a handler may use: the store session, whose turn it is, the call, and the events."""

    session: Session
    user: User
    conversation_id: str
    call: ToolCall
    args: dict[str, Any]
    events: TurnEvents
    result: TurnResult
    client_for: ClientFactory
    _after_save: list[Callable[[], None]] = field(default_factory=list)

    def text_arg(self, name: str, default: str = "") -> str:
        """A string argument (a missing or null one is `default`; numbers are taken as text)."""
        value = self.args.get(name)
        return default if value is None else str(value)

    def after_save(self, callback: Callable[[], None]) -> None:
        """Run `callback` once the handler's writes are committed (skipped if they are dropped)."""
        self._after_save.append(callback)

    def saved(self) -> None:
        """Called by the turn after its commit."""
        callbacks, self._after_save = self._after_save, []
        for callback in callbacks:
            callback()


Handler = Callable[[ToolContext], str]


@dataclass(frozen=True)
class Tool:
    """One tool: the schema the model sees, and the handler that does it."""

    name: str
    description: str
    parameters: dict[str, Any]
    run: Handler

    def schema(self) -> dict[str, Any]:
        """The OpenAI function-tool form that litellm passes on to every provider."""
        return {
            "type": "function",
            "function": {"name": self.name, "description": self.description, "parameters": self.parameters},
        }


def require_arg(ctx: ToolContext, name: str) -> str:
    """A required, non-blank string argument, or a UsageError the model can read and fix."""
    value = ctx.text_arg(name).strip()
    if not value:
        raise UsageError(f"{name} is required.")
    return value
