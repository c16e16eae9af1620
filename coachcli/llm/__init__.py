"""The model boundary: only `coachcli.llm.loader` imports litellm, and only when called."""

from coachcli.llm.types import Completion, ReplyInterrupted, ToolCall

__all__ = ["Completion", "ReplyInterrupted", "ToolCall"]
