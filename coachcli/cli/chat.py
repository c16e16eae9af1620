"""`coach chat [MESSAGE]`: a REPL on a terminal; one turn when MESSAGE is given or stdin is piped."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from coachcli.cli.common import ApiBaseOpt, JsonOpt, ModelOpt, read_stdin
from coachcli.cli.output import emit_json
from coachcli.cli.state import state
from coachcli.errors import UsageError


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
    from coachcli.cli.shapes import chat_turn_json
    from coachcli.cli.turn import report_unsaved, run_turn

    if json_out:
        result = run_turn(app, text, NoticeEvents())  # notices on stderr; stdout is the document
        report_unsaved(result)
        emit_json(chat_turn_json(result))
        return

    events = TerminalEvents() if sys.stdout.isatty() else PlainEvents()
    try:
        result = run_turn(app, text, events)
    finally:
        events.finish()
    report_unsaved(result)


def register(app: typer.Typer) -> None:
    app.command("chat")(chat_cmd)
