"""What a coaching turn tells its caller: events while it runs, and the result when it ends.

The turn itself (coaching/chat.py) and the tools (coaching/tools/) only talk to a `TurnEvents`;
the CLI decides how each event looks (cli/chat_events.py). Nothing here imports the store models
or the model client, so importing it is cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from coachcli.coaching.dispatch.lifecycle import DispatchOutcome
    from coachcli.llm.types import Completion
    from coachcli.store.models import Dispatch


@dataclass
class Decision:
    """What a person said about a proposal: approve (maybe with an edited task), reject, or later."""

    action: str  # "approve" | "reject" | "later"
    task: str | None = None
    reason: str | None = None


class TurnEvents(Protocol):
    def text(self, piece: str) -> None:
        """A piece of the reply as it streams."""

    def notice(self, kind: str, text: str) -> None:
        """A one-line note from a tool, e.g. kind "goal" / "✓ New goal: …" or kind "dim" / "searched for …".

        `kind` lets a renderer pick a style; unknown kinds render plainly. `text` is literal text.
        """

    def fact_saved(self, text: str, created: bool) -> None: ...
    def memory_saved(self, text: str) -> None: ...
    def proposal(self, dispatch: Dispatch, display_name: str) -> Decision: ...
    def dispatch_started(self, dispatch: Dispatch) -> Callable[[], None]: ...
    def dispatch_finished(self, outcome: DispatchOutcome) -> None: ...


class QuietEvents:
    """Defaults for one-shot turns: nothing shown, proposals left for later."""

    def text(self, piece: str) -> None:
        return None

    def notice(self, kind: str, text: str) -> None:
        return None

    def fact_saved(self, text: str, created: bool) -> None:
        return None

    def memory_saved(self, text: str) -> None:
        return None

    def proposal(self, dispatch: Dispatch, display_name: str) -> Decision:
        return Decision("later")

    def dispatch_started(self, dispatch: Dispatch) -> Callable[[], None]:
        return lambda: None

    def dispatch_finished(self, outcome: DispatchOutcome) -> None:
        return None


@dataclass
class TurnResult:
    """The reply of one turn and what it cost. `saved` is False when the conversation was reset
    while the turn ran: the reply was shown but not stored (nor its tool results and notes)."""

    conversation_id: str
    reply: str
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    saved: bool = True

    def add_usage(self, completion: Completion) -> None:
        if completion.input_tokens is not None:
            self.input_tokens = (self.input_tokens or 0) + completion.input_tokens
        if completion.output_tokens is not None:
            self.output_tokens = (self.output_tokens or 0) + completion.output_tokens
        if completion.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + completion.cost_usd
