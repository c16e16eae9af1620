"""`coach goals add|list|show|done|drop|reopen|edit`: what you are working towards."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from coachcli.cli.common import JsonOpt, reading, writing
from coachcli.cli.output import emit_json, iso, note, out, print_fitted_table, short_id, styled, when
from coachcli.cli.state import state

if TYPE_CHECKING:
    from datetime import date

    from coachcli.coaching.goals import GoalRow, GoalView
    from coachcli.store.models import Goal, Progress

goals_app = typer.Typer(help="Goals: what you are working towards; the coach follows up on them.")

IdArg = Annotated[str, typer.Argument(metavar="ID", help="Goal id or a unique prefix.")]
DueOpt = Annotated[
    str | None,
    typer.Option("--due", help="Due date: YYYY-MM-DD, +30d, +4w, or words like 'next friday'."),
]
WhyOpt = Annotated[str | None, typer.Option("--why", help="Why it matters to you.")]


def goal_json(goal: Goal | GoalView) -> dict[str, Any]:
    return {
        "id": goal.id,
        "title": goal.title,
        "status": goal.status,
        "due": goal.due.isoformat() if goal.due else None,
        "why": goal.why,
        "created_at": iso(goal.created_at),
    }


def progress_json(note_row: Progress) -> dict[str, Any]:
    return {
        "id": note_row.id,
        "text": note_row.text,
        "source": note_row.source,
        "created_at": iso(note_row.created_at),
    }


def _due(text: str | None) -> date | None:
    from coachcli.coaching.goals import parse_due

    return parse_due(text) if text is not None else None


@goals_app.command("add")
def add_cmd(
    ctx: typer.Context,
    title: Annotated[str, typer.Argument(help="The goal, e.g. 'Run a 10k'.")],
    due: DueOpt = None,
    why: WhyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Set a goal; the same title while it is still active is not added twice."""
    from coachcli.coaching.goals import add_goal, clean_title

    clean_title(title)  # bad input is refused before the database is opened
    due_date = _due(due)
    with writing(state(ctx)) as (session, user):
        goal, created = add_goal(session, user, title, due=due_date, why=why)
    if json_out:
        emit_json(goal_json(goal))
        return
    if not created:
        note(f"Already an active goal ({short_id(goal.id)}); nothing added.")
        return
    due_text = f" (due {goal.due.isoformat()})" if goal.due else ""
    out().print(styled("✓ New goal ", (short_id(goal.id), "dim"), f": {goal.title}{due_text}"))


def _days(value: int | None) -> tuple[str, str]:
    """Days left as text and a style: overdue in red, the last three days in yellow."""
    if value is None:
        return "-", ""
    if value < 0:
        return f"{-value}d overdue", "red"
    if value == 0:
        return "today", "yellow"
    return f"{value}d left", "yellow" if value <= 3 else ""


def _since(row: GoalRow, today: date) -> str:
    if row.last_progress_at is None:
        return "never"
    days = (today - row.last_progress_at.astimezone().date()).days
    return "today" if days <= 0 else f"{days}d ago"


def _print_table(rows: list[GoalRow], *, show_status: bool) -> None:
    from rich.text import Text

    from coachcli.coaching.goals import days_left, local_today

    today = local_today()
    headers = ["ID", *(["STATUS"] if show_status else []), "DUE", "DAYS", "PROGRESS", "LAST", "GOAL"]
    body: list[list[Text]] = []
    for row in rows:
        goal = row.goal
        days, style = _days(days_left(goal.due, today)) if goal.status == "active" else ("-", "")
        cells: list[Text] = [Text(short_id(goal.id))]
        if show_status:
            cells.append(Text(goal.status))
        cells += [
            Text(goal.due.isoformat() if goal.due else "-"),
            Text(days, style=style),
            Text(str(row.progress_count)),
            Text(_since(row, today)),
            Text(goal.title),  # the person's words: literal, never markup
        ]
        body.append(cells)
    # On a narrow terminal these give way, in this order, before the title does.
    lesser = [
        headers.index(name) for name in ("LAST", "PROGRESS", "DUE", "STATUS", "DAYS") if name in headers
    ]
    print_fitted_table(headers, body, lesser, text="GOAL", first_style="dim", fill=True)


@goals_app.command("list")
def list_cmd(
    ctx: typer.Context,
    all_goals: Annotated[bool, typer.Option("--all", help="Include done and dropped goals.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Your active goals, soonest due first, with days left and the last progress."""
    from coachcli.coaching.goals import list_goals

    app = state(ctx)
    store = app.store_for_reading()  # by handle, no table models: as light as `coach tasks list`
    rows = []
    if store is not None:
        with store.read_session() as session:
            rows = list_goals(session, app.settings().user, include_closed=all_goals)
    if json_out:
        emit_json(
            [
                {
                    **goal_json(r.goal),
                    "progress_count": r.progress_count,
                    "last_progress_at": iso(r.last_progress_at),
                }
                for r in rows
            ]
        )
        return
    if not rows:
        out().print('No goals yet. Set one with: coach goals add "Run a 10k" --due +8w')
        return
    _print_table(rows, show_status=all_goals)


def _find(ctx: typer.Context, goal_id: str) -> tuple[Goal, list[Progress]]:
    from coachcli.coaching.goals import find_goal, goal_progress
    from coachcli.coaching.ids import check_prefix
    from coachcli.errors import NotFoundError

    with reading(state(ctx)) as (session, user):
        if user is None:
            check_prefix(goal_id, what="goal")  # a malformed id is bad input (2) even here
            raise NotFoundError(f"no goal with id {goal_id!r}: list them with `coach goals list`.")
        goal = find_goal(session, user, goal_id)
        return goal, goal_progress(session, goal.id)


@goals_app.command("show")
def show_cmd(ctx: typer.Context, goal_id: IdArg, json_out: JsonOpt = False) -> None:
    """One goal with its progress notes, newest first."""
    goal, notes = _find(ctx, goal_id)
    if json_out:
        emit_json(
            {
                **goal_json(goal),
                "closed_at": iso(goal.closed_at),
                "progress": [progress_json(p) for p in notes],
            }
        )
        return
    console = out()
    console.print(goal.title, style="bold")
    due = f" · due {goal.due.isoformat()}" if goal.due else ""
    console.print(f"{goal.id} · {goal.status}{due} · set {when(goal.created_at)}", style="dim")
    if goal.why:
        console.print(styled(("Why: ", "bold"), goal.why))
    if not notes:
        console.print(
            f'No progress yet. Log some with: coach log "…" --goal {short_id(goal.id)}', style="dim"
        )
    for p in notes:
        console.print(styled((f"{when(p.created_at)}  ", "dim"), p.text, (f"  ({p.source})", "dim")))


def _set_status(ctx: typer.Context, goal_id: str, status: str, verb: str, json_out: bool) -> None:
    from coachcli.coaching.goals import set_status

    with writing(state(ctx)) as (session, user):
        goal, changed = set_status(session, user, goal_id, status)
    if json_out:
        emit_json({**goal_json(goal), "closed_at": iso(goal.closed_at)})
        return
    if not changed:
        note(f"Goal {short_id(goal.id)} is already {goal.status}.")
        return
    out().print(styled(f"{verb} ", (short_id(goal.id), "dim"), f": {goal.title}"))


@goals_app.command("done")
def done_cmd(ctx: typer.Context, goal_id: IdArg, json_out: JsonOpt = False) -> None:
    """Mark a goal done."""
    _set_status(ctx, goal_id, "done", "✓ Done", json_out)


@goals_app.command("drop")
def drop_cmd(ctx: typer.Context, goal_id: IdArg, json_out: JsonOpt = False) -> None:
    """Drop a goal you no longer pursue (its progress notes stay)."""
    _set_status(ctx, goal_id, "dropped", "Dropped", json_out)


@goals_app.command("reopen")
def reopen_cmd(ctx: typer.Context, goal_id: IdArg, json_out: JsonOpt = False) -> None:
    """Make a done or dropped goal active again."""
    _set_status(ctx, goal_id, "active", "Reopened", json_out)


@goals_app.command("edit")
def edit_cmd(
    ctx: typer.Context,
    goal_id: IdArg,
    title: Annotated[str | None, typer.Option("--title", help="A new title.")] = None,
    due: Annotated[
        str | None,
        typer.Option(
            "--due", help="A new due date (YYYY-MM-DD, +30d, +4w, 'next friday'); 'none' clears it."
        ),
    ] = None,
    why: WhyOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Change a goal's title, due date or why."""
    from coachcli.coaching.goals import edit_goal

    clear_due = due is not None and due.strip().lower() == "none"
    new_due = None if clear_due else _due(due)
    with writing(state(ctx)) as (session, user):
        goal = edit_goal(session, user, goal_id, title=title, due=new_due, clear_due=clear_due, why=why)
    if json_out:
        emit_json(goal_json(goal))
        return
    due_text = f" (due {goal.due.isoformat()})" if goal.due else ""
    out().print(styled("Updated ", (short_id(goal.id), "dim"), f": {goal.title}{due_text}"))


def register(app: typer.Typer) -> None:
    app.add_typer(goals_app, name="goals")
