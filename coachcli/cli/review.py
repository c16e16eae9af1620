"""`coach review [--days 7]`: the Reviewer looks back over the period against your goals."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from coachcli.cli.common import ApiBaseOpt, JsonOpt, ModelOpt

if TYPE_CHECKING:
    from coachcli.coaching.dispatch.lifecycle import DispatchOutcome


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
    from coachcli.cli.dispatch import DispatchRun, run_dispatch_command
    from coachcli.coaching.review import period_of, run_review

    period_of(days)  # a bad --days is refused before anything opens

    def run(r: DispatchRun) -> DispatchOutcome:
        with r.working("the Reviewer is working"):
            return run_review(r.session, r.user, r.client_for, days=days, on_text=r.on_text)

    run_dispatch_command(ctx, run, model=model, api_base=api_base, json_out=json_out, stream=stream)


def register(app: typer.Typer) -> None:
    app.command("review")(review_cmd)
