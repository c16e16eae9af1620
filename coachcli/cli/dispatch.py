"""`coach dispatch "TASK"`: run a specialist now and save its task thread."""

from __future__ import annotations

import sys
from contextlib import nullcontext
from typing import Annotated, Any

import typer

from coachcli.cli.common import ApiBaseOpt, JsonOpt, ModelOpt, client_factory, writing
from coachcli.cli.output import emit_json, err, note, out, styled, write_text
from coachcli.cli.progress import working
from coachcli.cli.state import state
from coachcli.errors import CoachError


def outcome_json(outcome: Any) -> dict[str, Any]:
    return {
        "dispatch_id": outcome.dispatch_id,
        "status": outcome.status,
        "agent": outcome.agent,
        "task": outcome.task,
        "task_thread_id": outcome.task_thread_id,
        "result": outcome.result,
    }


def render_outcome(outcome: Any, *, streamed: bool = False) -> None:
    from rich.markdown import Markdown
    from rich.panel import Panel

    if not streamed and outcome.result:
        console = out()
        if console.is_terminal:
            console.print(Markdown(outcome.result))
        else:
            write_text(outcome.result.rstrip("\n") + "\n")
    err().print(
        Panel.fit(
            styled(
                (outcome.agent, "bold"),
                " finished · task thread ",
                (outcome.task_thread_id, "bold"),
                f"\nSee it again with: coach tasks show {outcome.task_thread_id[:8]}",
            ),
            border_style="green",
        )
    )


def dispatch_cmd(
    ctx: typer.Context,
    task: Annotated[str, typer.Argument(help="What the specialist should do.", show_default=False)],
    agent: Annotated[
        str | None, typer.Option("--agent", "-a", help="Specialist name (see `coach agents list`).")
    ] = None,
    stream: Annotated[bool, typer.Option("--stream", help="Show the result as it is written.")] = False,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Run a specialist on TASK now; the result is saved as a task thread."""
    from coachcli.coaching.dispatches import clean_task
    from coachcli.coaching.specialist import dispatch_now

    app = state(ctx)
    settings = app.settings(model=model, api_base=api_base)
    task = clean_task(task)
    client_for = client_factory(settings)

    def on_pick(pick: Any) -> None:
        if pick.by_model:
            note(f"The coach picked the {pick.agent} for this task.")
        else:
            note(f"No clear pick from the model; using the default specialist, {pick.agent}.")

    on_text = None
    if stream and not json_out:

        def on_text(piece: str) -> None:
            write_text(piece)
            sys.stdout.flush()

    with writing(app) as (session, user):
        if agent is not None:
            from coachcli.coaching.agents import get_agent

            agent = get_agent(session, agent).name
        try:
            spinner = nullcontext() if on_text else working(f"{agent or 'choosing a specialist'} is working")
            with spinner:
                outcome = dispatch_now(
                    session, user, task, client_for, agent=agent, on_pick=on_pick, on_text=on_text
                )
        except CoachError as exc:
            session.rollback()
            _report_failure(session, user, task, json_out, exc)
            raise
    if on_text is not None:
        sys.stdout.write("\n")
    if json_out:
        emit_json(outcome_json(outcome))
        return
    render_outcome(outcome, streamed=on_text is not None)


def _report_failure(session: Any, user: Any, task: str, json_out: bool, exc: CoachError) -> None:
    """On --json a failed run still prints its dispatch (status failed) so scripts can retry it."""
    if not json_out:
        return
    from coachcli.coaching.dispatches import DispatchOutcome, list_dispatches

    recent = [d for d in list_dispatches(session, user) if d.task == task][:1]
    if recent:
        emit_json(outcome_json(DispatchOutcome.of(recent[0])))


def register(app: typer.Typer) -> None:
    app.command("dispatch")(dispatch_cmd)
