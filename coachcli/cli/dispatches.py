"""`coach dispatches list|approve|reject|retry`: decide on what the coach proposed, and follow it."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from coachcli.cli.common import ApiBaseOpt, JsonOpt, ModelOpt, writing
from coachcli.cli.dispatch import DispatchRun, json_failures, run_dispatch_command
from coachcli.cli.output import emit_json, out, print_fitted_table, short_id, styled, when
from coachcli.cli.state import state

if TYPE_CHECKING:
    from coachcli.coaching.dispatch.lifecycle import DispatchOutcome

dispatches_app = typer.Typer(help="Dispatches: tasks for specialists, proposed by the coach or run by you.")

IdArg = Annotated[str, typer.Argument(metavar="ID", help="Dispatch id or a unique prefix.")]


@dispatches_app.command("list")
def list_cmd(
    ctx: typer.Context,
    status: Annotated[str | None, typer.Option("--status", "-s", help="Only this status.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Dispatches newest first; a run whose process died shows as interrupted."""
    from coachcli.cli.shapes import dispatch_row_json
    from coachcli.coaching.dispatch.lifecycle import list_dispatches

    with json_failures(json_out), writing(state(ctx)) as (session, user):
        rows = list_dispatches(session, user, status=status)
    if json_out:
        emit_json([dispatch_row_json(d) for d in rows])
        return
    if not rows:
        out().print("No dispatches." if status else 'No dispatches yet. Run one with: coach dispatch "TASK"')
        return
    from rich.text import Text

    colours = {"proposed": "yellow", "succeeded": "green", "failed": "red", "interrupted": "red"}
    headers = ("ID", "STATUS", "AGENT", "BY", "CREATED", "TASK")
    body: list[list[Text]] = []
    for d in rows:
        task = styled(d.task if len(d.task) <= 100 else d.task[:99] + "…")
        if d.error and d.status in ("failed", "interrupted"):
            task.append_text(styled(("\n" + d.error[:200], "red")))
        words = [d.agent, d.proposed_by, when(d.created_at)]
        body.append(
            [styled(short_id(d.id)), styled((d.status, colours.get(d.status, ""))), *map(styled, words), task]
        )
    # BY, CREATED, AGENT, STATUS give way to the task
    print_fitted_table(headers, body, (3, 4, 2, 1), text="TASK")


def _run(
    ctx: typer.Context, dispatch_id: str, action: str, model: str | None, api_base: str | None, json_out: bool
) -> None:
    def run(r: DispatchRun) -> DispatchOutcome:
        from coachcli.coaching.dispatch.lifecycle import find_dispatch
        from coachcli.coaching.dispatch.run import approve_and_run, retry_and_run

        dispatch = find_dispatch(r.session, r.user, dispatch_id)
        decide = approve_and_run if action == "approve" else retry_and_run
        with r.working(f"{dispatch.agent} is working"):
            return decide(r.session, r.user, dispatch, r.client_for)

    run_dispatch_command(ctx, run, model=model, api_base=api_base, json_out=json_out)


def _runner(action: str, doc: str) -> Callable[..., None]:
    """approve and retry take the same options and differ only in the transition before the run."""

    def command(
        ctx: typer.Context,
        dispatch_id: IdArg,
        model: ModelOpt = None,
        api_base: ApiBaseOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        _run(ctx, dispatch_id, action, model, api_base, json_out)

    command.__doc__ = doc
    return command


dispatches_app.command("approve")(
    _runner("approve", "Approve a proposed dispatch and run it now (exactly once, even if approved twice).")
)
dispatches_app.command("retry")(_runner("retry", "Run a failed or interrupted dispatch again."))


@dispatches_app.command("reject")
def reject_cmd(
    ctx: typer.Context,
    dispatch_id: IdArg,
    reason: Annotated[str | None, typer.Option("--reason", "-r", help="Why, for the record.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Reject a proposed dispatch; it never runs."""
    from coachcli.cli.shapes import dispatch_row_json
    from coachcli.coaching.dispatch.lifecycle import find_dispatch, reject

    with json_failures(json_out), writing(state(ctx)) as (session, user):
        dispatch = find_dispatch(session, user, dispatch_id)
        reject(session, dispatch, reason)
    if json_out:
        emit_json(dispatch_row_json(dispatch))
        return
    out().print(f"Rejected dispatch {short_id(dispatch.id)}.")


def register(app: typer.Typer) -> None:
    app.add_typer(dispatches_app, name="dispatches")
