"""`coach log TEXT [--goal ID]`: a progress note, about a goal or not."""

from __future__ import annotations

from typing import Annotated

import typer

from coachcli.cli.common import JsonOpt, writing
from coachcli.cli.output import emit_json, iso, out, short_id, styled
from coachcli.cli.state import state


def log_cmd(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="What you did, e.g. 'Ran 5 km in 31 minutes'.")],
    goal: Annotated[str | None, typer.Option("--goal", "-g", help="Goal id or a unique prefix.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Log progress; the coach sees it in the next chat and check-in."""
    from coachcli.coaching.goals import log_progress

    with writing(state(ctx)) as (session, user):
        entry, target = log_progress(session, user, text, goal=goal)
    if json_out:
        emit_json(
            {
                "id": entry.id,
                "goal_id": entry.goal_id,
                "text": entry.text,
                "source": entry.source,
                "created_at": iso(entry.created_at),
            }
        )
        return
    if target is None:
        out().print(styled("✓ Logged ", (short_id(entry.id), "dim")))
    else:
        out().print(styled("✓ Progress on ", target.title, (f" ({short_id(entry.id)})", "dim")))


def register(app: typer.Typer) -> None:
    app.command("log")(log_cmd)
