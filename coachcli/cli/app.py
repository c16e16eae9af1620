"""The `coach` command: global options, then one sub-module per command group."""

from __future__ import annotations

from typing import Annotated

import typer

from coachcli import __version__
from coachcli.cli import (
    agents,
    chat,
    config_cmd,
    db,
    dispatch,
    dispatches,
    facts,
    history,
    reset,
    tasks,
)
from coachcli.cli.errors import CoachGroup
from coachcli.cli.state import AppState
from coachcli.config import validate_handle

app = typer.Typer(
    cls=CoachGroup,
    name="coach",
    help="A command-line AI coaching assistant: one long-running coaching conversation, "
    "specialist agents, and task threads.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def _version(value: bool) -> None:
    if value:
        print(f"coach {__version__}")
        raise typer.Exit()


def _handle(value: str | None) -> str | None:
    return validate_handle(value) if value is not None else None


@app.callback()
def root(
    ctx: typer.Context,
    user: Annotated[
        str | None,
        typer.Option("--user", "-u", help="Whose coaching this is [env: COACH_USER; default: login name]"),
    ] = None,
    home: Annotated[
        str | None,
        typer.Option("--home", help="Folder of the database and config.toml [env: COACH_HOME]"),
    ] = None,
    db: Annotated[
        str | None,
        typer.Option("--db", help="Any SQLAlchemy database URL [env: COACH_DATABASE_URL]"),
    ] = None,
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """Global options apply to every command."""
    state = AppState(home=home, db=db, user=_handle(user))
    ctx.obj = state
    ctx.call_on_close(state.close)


for module in (chat, history, reset, tasks, dispatch, dispatches, facts, agents, config_cmd, db):
    module.register(app)


def main() -> None:
    app()
