"""`coach chat [MESSAGE]`: a REPL on a terminal; one turn when MESSAGE is given or stdin is piped."""

from __future__ import annotations

import sys
from typing import Annotated, Any

import typer

from coachcli.cli.common import ApiBaseOpt, JsonOpt, ModelOpt, read_stdin
from coachcli.cli.output import emit_json, err
from coachcli.cli.state import AppState, state
from coachcli.errors import UsageError


def run_turn(app: AppState, text: str, events: Any) -> Any:
    """One coaching turn in its own session (shared by one-shot chat and the REPL)."""
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
        return turn.run(text)


def turn_json(result: Any) -> dict[str, Any]:
    return {
        "conversation_id": result.conversation_id,
        "reply": result.reply,
        "model": result.model,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost_usd": result.cost_usd,
    }


def chat_cmd(
    ctx: typer.Context,
    message: Annotated[str | None, typer.Argument(help="One message; omit for the REPL.")] = None,
    model: ModelOpt = None,
    api_base: ApiBaseOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Talk with your coach: a REPL on a terminal, one turn when MESSAGE is given or stdin is piped."""
    app = state(ctx)
    app.settings(model=model, api_base=api_base)
    if message is None and sys.stdin.isatty():
        if json_out:
            raise UsageError("--json needs a MESSAGE (or one piped on stdin).")
        from coachcli.cli.repl import Repl

        Repl(app).run()
        return
    text = message if message is not None else read_stdin()
    if not text.strip():
        raise UsageError("the message is empty: pass MESSAGE or pipe text on stdin.")
    from coachcli.cli.chat_events import NoticeEvents, PlainEvents, TerminalEvents

    if json_out:
        result = run_turn(app, text, NoticeEvents())  # notices on stderr; stdout is the document
        emit_json(turn_json(result))
        return

    events = TerminalEvents() if sys.stdout.isatty() else PlainEvents()
    try:
        run_turn(app, text, events)
    finally:
        events.finish()


def register(app: typer.Typer) -> None:
    app.command("chat")(chat_cmd)


def warn(message: str) -> None:
    err().print(message, markup=False)
