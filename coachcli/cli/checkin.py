"""`coach checkin [--if-due]`: the coach checks in on your goals; made for cron and systemd timers."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Annotated

import typer

from coachcli.cli.common import ApiBaseOpt, JsonOpt, ModelOpt
from coachcli.cli.output import emit_json, iso, note
from coachcli.cli.state import AppState, state

if TYPE_CHECKING:
    from datetime import datetime, timedelta

NOTHING_YET = 'Nothing to check in on yet: set a goal (coach goals add "…") or talk with the coach first.'


def _not_due_yet(app: AppState, every: timedelta) -> datetime | None:
    """When the next check-in is due, if that is still ahead: one read, no model library loaded."""
    from coachcli.coaching.status import checkin_schedule
    from coachcli.store.types import utcnow

    store = app.store_for_reading()
    if store is None:
        return None
    with store.read_session() as session:
        planned = checkin_schedule(session, app.settings().user, every)
    return None if planned.due(utcnow()) else planned.next_due


def _skipped(next_due: datetime | None, json_out: bool) -> None:
    if json_out:
        emit_json({"skipped": True, "next_due": iso(next_due)})


def checkin_cmd(
    ctx: typer.Context,
    if_due: Annotated[
        bool,
        typer.Option(
            "--if-due", help="Only when `checkin_every` (default 1d) has passed since the last one."
        ),
    ] = False,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """The coach writes a short check-in: what it noticed, and one question."""
    app = state(ctx)
    settings = app.settings(model=model, api_base=api_base)
    every = settings.checkin_every if if_due else None
    if every is not None:
        next_due = _not_due_yet(app, every)
        if next_due is not None:  # the common cron case: quiet, fast, exit 0
            _skipped(next_due, json_out)
            return
    from coachcli.cli.chat_events import NoticeEvents, PlainEvents, TerminalEvents
    from coachcli.cli.common import client_factory, writing
    from coachcli.cli.shapes import chat_turn_json
    from coachcli.cli.turn import report_unsaved
    from coachcli.coaching.checkin import run_checkin

    events = NoticeEvents() if json_out else TerminalEvents() if sys.stdout.isatty() else PlainEvents()
    try:
        with writing(app) as (session, user):
            outcome = run_checkin(
                session,
                user,
                client_factory(settings),
                every=every,
                events=events,
                context_tokens=settings.context_tokens,
            )
    finally:
        events.finish()
    if outcome.skipped == "nothing_yet":
        note(NOTHING_YET)
        if json_out:
            emit_json({"skipped": True, "next_due": None, "reason": "nothing_yet"})
        return
    if outcome.result is None:  # another check-in started at the same moment won the claim
        _skipped(outcome.next_due, json_out)
        return
    report_unsaved(outcome.result)
    if json_out:
        emit_json({**chat_turn_json(outcome.result), "skipped": False})


def register(app: typer.Typer) -> None:
    app.command("checkin")(checkin_cmd)
