"""`coach dispatch "TASK"`: run a specialist now and save its task thread."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated

import typer

from coachcli.cli.common import ApiBaseOpt, JsonOpt, ModelOpt, client_factory, writing
from coachcli.cli.output import emit_json, err, note, out, styled, write_text
from coachcli.cli.progress import working
from coachcli.cli.state import state
from coachcli.errors import CoachError

if TYPE_CHECKING:  # the dispatch services load when a command runs, not for --help
    from sqlmodel import Session

    from coachcli.coaching.dispatch.lifecycle import DispatchOutcome
    from coachcli.coaching.dispatch.run import ClientFactory, Pick, TextCallback
    from coachcli.store.models import User


@contextmanager
def json_failures(json_out: bool) -> Iterator[None]:
    """With --json a failure still prints one document on stdout (the exit code is unchanged):
    the failed dispatch itself (status "failed" plus "error") once it exists, else {"error"}."""
    from coachcli.llm.types import ReplyInterrupted

    try:
        yield
    except CoachError as exc:
        if json_out:
            from coachcli.cli.shapes import dispatch_json, error_json
            from coachcli.coaching.dispatch.run import DispatchFailed

            if isinstance(exc, DispatchFailed):
                emit_json(dispatch_json(exc.outcome))
            else:
                emit_json(error_json(str(exc)))
        raise
    except ReplyInterrupted:  # Ctrl-C while the result streamed: the dispatch is already interrupted
        raise KeyboardInterrupt from None


def render_outcome(outcome: DispatchOutcome, *, streamed: bool = False) -> None:
    from rich.panel import Panel

    if not streamed and outcome.result:
        console = out()
        if console.is_terminal:
            from rich.markdown import Markdown  # its parser and Pygments: only for a terminal

            console.print(Markdown(outcome.result))
        else:
            write_text(outcome.result.rstrip("\n") + "\n")
    thread = outcome.task_thread_id or ""
    err().print(
        Panel.fit(
            styled(
                (outcome.agent, "bold"),
                " finished · task thread ",
                (thread, "bold"),
                f"\nSee it again with: coach tasks show {thread[:8]}",
            ),
            border_style="green",
        )
    )


def _announce_pick(pick: Pick) -> None:
    if pick.by_model:
        note(f"The coach picked the {pick.agent} for this task.")
    else:
        note(f"No clear pick from the model; using the default specialist, {pick.agent}.")


def _stream(piece: str) -> None:
    write_text(piece)
    sys.stdout.flush()


@dataclass
class DispatchRun:
    """What a dispatch-running command's body gets from `run_dispatch_command`."""

    session: Session
    user: User
    client_for: ClientFactory
    on_text: TextCallback | None  # set with --stream (and not --json): the result is streamed

    def working(self, label: str) -> AbstractContextManager[None]:
        """The spinner while the model works (none when the result streams)."""
        return nullcontext() if self.on_text else working(label)


def run_dispatch_command(
    ctx: typer.Context,
    run: Callable[[DispatchRun], DispatchOutcome],
    *,
    model: str | None,
    api_base: str | None,
    json_out: bool,
    stream: bool = False,
) -> None:
    """The shared body of `dispatch`, `dispatches approve|retry` and `review`: settings, a writing
    session, the run, then the result (Markdown and a panel, or the JSON document, also on failure)."""
    app = state(ctx)
    on_text = _stream if stream and not json_out else None
    with json_failures(json_out):
        settings = app.settings(model=model, api_base=api_base)
        with writing(app) as (session, user):
            outcome = run(DispatchRun(session, user, client_factory(settings), on_text))
    if on_text is not None:
        sys.stdout.write("\n")
    if json_out:
        from coachcli.cli.shapes import dispatch_json

        emit_json(dispatch_json(outcome))
        return
    render_outcome(outcome, streamed=on_text is not None)


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

    def run(r: DispatchRun) -> DispatchOutcome:
        from coachcli.coaching.dispatch.run import dispatch_now

        with r.working(f"{agent or 'choosing a specialist'} is working"):
            return dispatch_now(
                r.session, r.user, task, r.client_for, agent=agent, on_pick=_announce_pick, on_text=r.on_text
            )

    run_dispatch_command(ctx, run, model=model, api_base=api_base, json_out=json_out, stream=stream)


def register(app: typer.Typer) -> None:
    app.command("dispatch")(dispatch_cmd)
