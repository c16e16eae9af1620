"""`coach history`: the coaching conversation, newest last."""

from __future__ import annotations

from typing import Annotated

import typer

from coachcli.cli.common import JsonOpt, count_option, reading
from coachcli.cli.output import emit_json, iso, out, styled, when, write_text
from coachcli.cli.state import state


def history_cmd(
    ctx: typer.Context,
    limit: Annotated[int, count_option("--limit", "-n", help="Show the last N messages.")] = 20,
    json_out: JsonOpt = False,
) -> None:
    """Show the coaching conversation, newest last."""
    from coachcli.coaching.conversations import find_coaching
    from coachcli.coaching.messages import list_messages

    with reading(state(ctx)) as (session, user):
        coaching = find_coaching(session, user) if user else None
        messages = list_messages(session, coaching.id, limit=limit) if coaching else []
    if json_out:
        emit_json(
            [
                {
                    "role": m.role,
                    "content": m.content,
                    "status": m.status,
                    "model": m.model,
                    "created_at": iso(m.created_at),
                }
                for m in messages
            ]
        )
        return
    shown = [m for m in messages if m.role in ("user", "assistant") and m.content]
    if not shown:
        out().print('No conversation yet. Start one with: coach chat "Hello"')
        return
    console = out()
    for m in shown:
        label = "you" if m.role == "user" else "coach · check-in" if m.kind == "checkin" else "coach"
        mark = " (interrupted)" if m.status == "interrupted" else ""
        console.print(styled((label, "bold"), " ", (f"{when(m.created_at)}{mark}", "dim")))
        if not console.is_terminal:  # a pipe gets the text as written, never re-wrapped
            write_text(m.content.rstrip("\n") + "\n\n")
            continue
        from rich.markdown import Markdown

        console.print(Markdown(m.content) if m.role == "assistant" else m.content)
        console.print()


def register(app: typer.Typer) -> None:
    app.command("history")(history_cmd)
