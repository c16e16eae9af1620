"""`coach memory [rm ID]`: what the coach keeps of the conversation, to see and to correct."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from coachcli.cli.common import JsonOpt, reading, writing
from coachcli.cli.output import emit_json, iso, out, short_id, styled, when
from coachcli.cli.state import state

if TYPE_CHECKING:
    from rich.console import Console

    from coachcli.coaching.memories import MemoryView
    from coachcli.store.models import Memory

memory_app = typer.Typer(
    help="The coach's running summary of your conversation and its notes.", invoke_without_command=True
)


def memory_json(view: MemoryView) -> dict[str, Any]:
    summary = view.summary
    return {
        "summary": None
        if summary is None
        else {
            "content": summary.content,
            "covers_through": iso(view.covers_through),
            "updated_at": iso(summary.updated_at),
        },
        "notes": [note_json(n) for n in view.notes],
    }


def note_json(note: Memory) -> dict[str, Any]:
    return {"id": note.id, "content": note.content, "created_at": iso(note.created_at)}


@memory_app.callback()
def show_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Show the running summary (and the span it covers) and the notes, newest first."""
    if ctx.invoked_subcommand is not None:
        return
    from coachcli.coaching.memories import MemoryView, view_memory

    with reading(state(ctx)) as (session, user):
        view = view_memory(session, user) if user else MemoryView(None, None, None, [])
    if json_out:
        emit_json(memory_json(view))
        return
    render_memory(view)


def render_memory(view: MemoryView, console: Console | None = None) -> None:
    """Plain output, shared with the REPL's /memory (which prints on stderr)."""
    console = console or out()
    if view.summary is None and not view.notes:
        console.print("The coach keeps no summary or notes yet; they grow as you chat.")
        return
    if view.summary is not None:
        span = f"{when(view.covers_from)} to {when(view.covers_through)}" if view.covers_through else "-"
        console.print(styled(("Summary", "bold"), (f"  covers {span}", "dim")))
        console.print(view.summary.content)
        console.print()
    if view.notes:
        console.print(
            styled(("Notes", "bold"), ("  newest first; remove one with: coach memory rm ID", "dim"))
        )
        for note in view.notes:
            console.print(
                styled((short_id(note.id), "dim"), "  ", (when(note.created_at), "dim"), "  ", note.content)
            )


@memory_app.command("rm")
def rm_cmd(
    ctx: typer.Context,
    note_id: Annotated[str, typer.Argument(metavar="ID", help="Note id or a unique prefix.")],
    json_out: JsonOpt = False,
) -> None:
    """Delete one of the coach's notes."""
    from coachcli.coaching.memories import remove_note

    with writing(state(ctx)) as (session, user):
        note = remove_note(session, user, note_id)
    if json_out:
        emit_json({"removed": note_json(note)})
        return
    out().print(styled("Removed note ", (short_id(note.id), "dim"), ": ", note.content))


def register(app: typer.Typer) -> None:
    app.add_typer(memory_app, name="memory")
