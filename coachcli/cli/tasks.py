"""`coach tasks list|show`: task threads under the user's coaching conversation."""

from __future__ import annotations

from typing import Annotated

import typer

from coachcli.cli.common import JsonOpt, LimitOpt, reading
from coachcli.cli.output import emit_json, iso, out, print_columns, short_id, visible, when
from coachcli.cli.state import state

tasks_app = typer.Typer(help="Task threads: finished dispatches, each a child of the coaching conversation.")


@tasks_app.command("list")
def list_cmd(
    ctx: typer.Context,
    json_out: JsonOpt = False,
    limit: LimitOpt = None,
) -> None:
    """Task threads under your coaching conversation, newest first."""
    from coachcli.coaching.conversations import list_task_threads_of

    app = state(ctx)
    store = app.store_for_reading()
    rows = []
    if store is not None:
        with store.read_session() as session:
            rows = list_task_threads_of(session, app.settings().user, limit=limit)
    if json_out:
        emit_json(
            [
                {
                    "id": r.id,
                    "title": r.title,
                    "agent": r.agent,
                    "created_at": iso(r.created_at),
                    "updated_at": iso(r.updated_at),
                }
                for r in rows
            ]
        )
        return
    if not rows:
        out().print('No task threads yet. Run one with: coach dispatch "TASK"')
        return
    print_columns(
        ("ID", "AGENT", "CREATED", "TITLE"),
        [(short_id(r.id), r.agent or "-", when(r.created_at), r.title or "") for r in rows],
    )


@tasks_app.command("show")
def show_cmd(
    ctx: typer.Context,
    thread_id: Annotated[str, typer.Argument(metavar="ID", help="Task thread id or a unique prefix.")],
    json_out: JsonOpt = False,
) -> None:
    """One task thread with its messages."""
    from coachcli.coaching.conversations import get_task_thread
    from coachcli.coaching.messages import list_messages
    from coachcli.errors import NotFoundError

    with reading(state(ctx)) as (session, user):
        if user is None:
            from coachcli.coaching.ids import check_prefix

            check_prefix(thread_id, what="task thread")  # a malformed id is bad input (2) even here
            raise NotFoundError(f"no task thread with id {thread_id!r}: list them with `coach tasks list`.")
        thread = get_task_thread(session, user, thread_id)
        messages = list_messages(session, thread.id)
    if json_out:
        emit_json(
            {
                "id": thread.id,
                "type": thread.type,
                "parent_id": thread.parent_id,
                "title": thread.title,
                "mode": thread.mode,
                "created_at": iso(thread.created_at),
                "updated_at": iso(thread.updated_at),
                "messages": [
                    {"role": m.role, "content": m.content, "created_at": iso(m.created_at)} for m in messages
                ],
            }
        )
        return
    from rich.markdown import Markdown
    from rich.rule import Rule

    console = out()
    console.print(thread.title or "Task thread", style="bold")
    console.print(f"{thread.id} · {when(thread.created_at)}", style="dim")
    for m in messages:
        console.print(Rule(m.role, align="left", style="dim"))
        console.print(Markdown(visible(m.content)) if m.role == "assistant" else m.content)


def register(app: typer.Typer) -> None:
    app.add_typer(tasks_app, name="tasks")
