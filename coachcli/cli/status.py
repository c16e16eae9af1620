"""`coach status`: goals, overdue ones, last progress and check-in, proposals, unread check-ins."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from coachcli.cli.common import JsonOpt
from coachcli.cli.output import emit_json, iso, out
from coachcli.cli.state import AppState, state

if TYPE_CHECKING:
    from datetime import datetime

    from coachcli.coaching.status import Status


def load_status(app: AppState) -> Status:
    """The user's status; all zeros when the store or the user does not exist yet."""
    from coachcli.coaching.status import Status, get_status

    store = app.store_for_reading()
    if store is None:
        return Status()
    with store.read_session() as session:
        return get_status(session, app.settings().user)


def _ago(value: datetime | None) -> str:
    from coachcli.coaching.goals import local_today

    if value is None:
        return "never"
    days = (local_today() - value.astimezone().date()).days
    return "today" if days <= 0 else "yesterday" if days == 1 else f"{days} days ago"


def status_line(status: Status) -> str:
    """One line for people: what `coach status` prints and the REPL shows when it opens."""
    goals = f"{status.goals_active} active goal{'s' if status.goals_active != 1 else ''}"
    if status.goals_overdue:
        goals += f" ({status.goals_overdue} overdue)"
    parts = [
        goals,
        f"last progress {_ago(status.last_progress_at)}",
        f"last check-in {_ago(status.last_checkin_at)}",
    ]
    if status.proposals_waiting:
        parts.append(
            f"{status.proposals_waiting} proposal{'s' if status.proposals_waiting != 1 else ''} waiting"
        )
    if status.unread_checkins:
        parts.append(f"{status.unread_checkins} unread check-in{'s' if status.unread_checkins != 1 else ''}")
    return " · ".join(parts)


def show_at_door(app: AppState) -> None:
    """The REPL's opening: one dim status line on stderr, then any unread check-ins, as written."""
    from coachcli.cli.output import err, styled, when
    from coachcli.coaching.status import get_status, unread_checkins

    store = app.store_for_reading()
    if store is None:
        return
    with store.read_session() as session:
        status = get_status(session, app.settings().user)
        unread = unread_checkins(session, app.settings().user)
    err().print(status_line(status), style="dim")
    for content, written in unread:
        out().print(styled((f"check-in · {when(written)}", "dim")))
        out().print(content)


def status_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Your goals, the last progress and check-in, proposals waiting and unread check-ins."""
    status = load_status(state(ctx))
    if json_out:
        emit_json(
            {
                "goals_active": status.goals_active,
                "goals_overdue": status.goals_overdue,
                "last_progress_at": iso(status.last_progress_at),
                "last_checkin_at": iso(status.last_checkin_at),
                "proposals_waiting": status.proposals_waiting,
                "unread_checkins": status.unread_checkins,
            }
        )
        return
    out().print(status_line(status))


def register(app: typer.Typer) -> None:
    app.command("status")(status_cmd)
