"""One coaching turn from the command line, shared by one-shot `coach chat` and the REPL."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coachcli.cli.output import note

if TYPE_CHECKING:  # the coaching turn and its imports load only when a turn runs
    from coachcli.cli.state import AppState
    from coachcli.coaching.turn_events import TurnEvents, TurnResult

UNSAVED = "The conversation was reset meanwhile; this reply was not saved."


def run_turn(app: AppState, text: str, events: TurnEvents) -> TurnResult:
    """One coaching turn in its own session."""
    from coachcli.cli.common import client_factory
    from coachcli.coaching.chat import CoachingTurn

    settings = app.settings()
    client_for = client_factory(settings)
    with app.store().session() as session:
        turn = CoachingTurn(
            session,
            settings.user,
            client_for(None),
            client_for=client_for,
            events=events,
            context_tokens=settings.context_tokens,
        )
        result = turn.run(text)
    from coachcli.cli.usage import warn_over_budget

    warn_over_budget(app)  # one dim line a day past 80% of monthly_budget_usd
    return result


def report_unsaved(result: TurnResult) -> None:
    """A dim line when a reset from elsewhere made this turn's reply unsaved (it was still shown)."""
    if not result.saved:
        note(UNSAVED)
