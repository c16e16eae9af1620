"""Plain data that crosses the model boundary, so callers never touch litellm objects."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from coachcli.errors import ProviderError


@dataclass
class ToolCall:
    id: str
    name: str
    arguments: str

    def parsed(self) -> dict[str, Any]:
        """The arguments as a dict; raises ValueError on a malformed payload."""
        if not self.arguments.strip():
            return {}
        value = json.loads(self.arguments)
        if not isinstance(value, dict):
            raise ValueError("tool arguments must be a JSON object")
        return value

    def as_openai(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": "function",
            "function": {"name": self.name, "arguments": self.arguments},
        }


@dataclass
class Completion:
    content: str
    model: str
    tool_calls: list[ToolCall] = field(default_factory=list)
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    finish_reason: str | None = None


class ReplyInterrupted(Exception):
    """The user pressed Ctrl-C mid-reply; `partial` holds what had arrived, to be kept."""

    def __init__(self, partial: Completion) -> None:
        super().__init__("reply interrupted")
        self.partial = partial


class StreamBroken(ProviderError):
    """The stream failed after text was shown; `partial` is kept so nothing paid for is lost."""

    def __init__(self, message: str, *, partial: Completion) -> None:
        super().__init__(message)
        self.partial = partial

    @classmethod
    def midway(cls, partial: Completion) -> StreamBroken:
        """The one error for a reply that stopped after some of it arrived (provider or worker)."""
        return cls(
            f"the reply from {partial.model} broke off midway; what arrived was kept: try again.",
            partial=partial,
        )
