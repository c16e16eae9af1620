"""`coach tasks list|show`: task threads under the user's coaching conversation."""

from __future__ import annotations

from typing import Annotated

import typer

from coachcli.cli.common import JsonOpt, LimitOpt, reading
from coachcli.cli.output import emit_json, out, print_columns, short_id, visible, when
from coachcli.cli.state import state

tasks_app = typer.Typer(help="Task threads: finished dispatches, each a child of the coaching conversation.")


@tasks_app.command("list")
def list_cmd(
    ctx: typer.Context,
    json_out: JsonOpt = False,
    limit: LimitOpt = None,
) -> None:
    """Task threads under your coaching conversation, newest first."""
    from coachcli.coaching.conversations import TaskThreadRow, list_task_threads

    app = state(ctx)
    store = app.store_for_reading()
    rows: list[TaskThreadRow] = []
    if store is not None:
        with store.read_session() as session:
            rows = list_task_threads(session, app.settings().user, limit=limit)
    if json_out:
        from coachcli.cli.shapes import task_thread_row_json

        emit_json([task_thread_row_json(r) for r in rows])
        return
    if not rows:
        out().print('No task threads yet. Run one with: coach dispatch "TASK"')
        return
    print_columns(
        ("ID", "AGENT", "CREATED", "TITLE"),
        [(short_id(r.id), r.agent or "-", when(r.created_at), r.title or "") for r in rows],
        give_way=(2, 1),  # CREATED, then AGENT: the title stays
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
        from coachcli.cli.shapes import task_thread_json

        emit_json(task_thread_json(thread, messages))
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
