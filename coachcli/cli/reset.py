"""`coach reset`: clear the coaching conversation and its memories; user facts stay."""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from coachcli.cli.common import JsonOpt, writing
from coachcli.cli.output import emit_json, out
from coachcli.cli.state import AppState, state
from coachcli.errors import CoachError, UsageError


def confirm_reset(prompt: str = "Clear the coaching conversation and its memories? Facts are kept.") -> bool:
    return typer.confirm(prompt, default=False, err=True)


def do_reset(app: AppState) -> dict[str, object]:
    """Shared with the REPL's /reset."""
    from coachcli.coaching.conversations import get_or_create_coaching, reset

    with writing(app) as (session, user):
        coaching = get_or_create_coaching(session, user)
        result = reset(session, user, coaching.id)
    return {
        "success": True,
        "conversation_id": result.conversation_id,
        "messages_cleared": result.messages_cleared,
        "memories_deleted": result.memories_deleted,
        "facts_kept": result.facts_kept,
    }


def reset_cmd(
    ctx: typer.Context,
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask first.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Reset the coaching conversation (asks first on a terminal)."""
    if not yes:
        if not sys.stdin.isatty():
            raise UsageError("not a terminal, so nothing was reset: pass --yes to confirm.")
        if not confirm_reset():
            raise CoachError("reset cancelled; nothing was changed.")
    result = do_reset(state(ctx))
    if json_out:
        emit_json(result)
        return
    out().print(
        f"Reset: {result['messages_cleared']} messages cleared, {result['memories_deleted']} memories "
        f"deleted, {result['facts_kept']} facts kept."
    )


def register(app: typer.Typer) -> None:
    app.command("reset")(reset_cmd)
