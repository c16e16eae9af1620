"""`coach review [--days 7]`: the Reviewer looks back over the period against your goals."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import Annotated

import typer

from coachcli.cli.common import ApiBaseOpt, JsonOpt, ModelOpt
from coachcli.cli.state import state


def _stream(piece: str) -> None:
    from coachcli.cli.output import write_text

    write_text(piece)
    sys.stdout.flush()


def review_cmd(
    ctx: typer.Context,
    days: Annotated[int, typer.Option("--days", "-d", help="How many days to look back over.")] = 7,
    stream: Annotated[bool, typer.Option("--stream", help="Show the review as it is written.")] = False,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """A review of the last DAYS against your goals: what moved, what stalled, what to change.

    It runs as a dispatch to the Reviewer; the result is a task thread (coach tasks list)."""
    from coachcli.cli.common import client_factory, writing
    from coachcli.cli.dispatch import json_failures, render_outcome
    from coachcli.cli.output import emit_json
    from coachcli.cli.progress import working
    from coachcli.coaching.review import period_of, run_review

    period_of(days)  # a bad --days is refused before anything opens
    app = state(ctx)
    on_text = _stream if stream and not json_out else None
    with json_failures(json_out):
        settings = app.settings(model=model, api_base=api_base)
        with (
            writing(app) as (session, user),
            nullcontext() if on_text else working("the Reviewer is working"),
        ):
            outcome = run_review(session, user, client_factory(settings), days=days, on_text=on_text)
    if on_text is not None:
        sys.stdout.write("\n")
    if json_out:
        from coachcli.cli.shapes import dispatch_json

        emit_json(dispatch_json(outcome))
        return
    render_outcome(outcome, streamed=on_text is not None)


def register(app: typer.Typer) -> None:
    app.command("review")(review_cmd)
