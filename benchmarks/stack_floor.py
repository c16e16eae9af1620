"""The task-thread listing done the usual SQLModel way: context for the `tasks list` figure.

    python benchmarks/stack_floor.py DB

The floor's imports (sqlmodel, typer, rich.console), then what a straightforward Typer + SQLModel
+ Rich program does to list the task threads of `coach tasks list`: declare the tables as SQLModel
models (coachcli's own models module, nothing else of coachcli), parse one Typer command line,
open the SQLite file, run the three ORM lookups (user, coaching conversation, threads) and write
the rows plainly. No settings, no migration check, no error handling, no table layout. This is
how `coach tasks list` read before it got its models-free single query (list_task_threads):
the gap between the two is what declaring the models and configuring the ORM costs.
"""

from __future__ import annotations

import sys

import rich.console
import sqlmodel
import typer

from coachcli.store.models import Conversation, Dispatch, User

app = typer.Typer(add_completion=False)


@app.command()
def main(db: str, json_out: bool = typer.Option(False, "--json"), limit: int | None = None) -> None:
    engine = sqlmodel.create_engine(f"sqlite:///{db}")
    with sqlmodel.Session(engine) as session:
        user = session.exec(sqlmodel.select(User).where(User.handle == "bench")).one()
        mine = sqlmodel.select(Conversation).where(Conversation.user_id == user.id)
        coaching = session.exec(mine.where(Conversation.type == "coaching")).one()
        query = (
            sqlmodel.select(Conversation.id, Conversation.title, Dispatch.agent, Conversation.created_at)
            .outerjoin(Dispatch, sqlmodel.col(Dispatch.task_thread_id) == Conversation.id)
            .where(Conversation.parent_id == coaching.id, Conversation.user_id == user.id)
            .order_by(sqlmodel.col(Conversation.created_at).desc())
        )
        rows = session.exec(query.limit(limit) if limit else query).all()
    console = rich.console.Console()
    console.file.write("".join(f"{r[0][:8]}  {r[2] or '-'}  {r[3]:%Y-%m-%d %H:%M}  {r[1]}\n" for r in rows))


if __name__ == "__main__":
    app(sys.argv[1:])
