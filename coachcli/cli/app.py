"""The `coach` command: global options, then one sub-module per command group."""

from __future__ import annotations

import importlib
from collections.abc import Iterator, MutableMapping
from typing import TYPE_CHECKING, Annotated, Any

import typer

from coachcli import __version__
from coachcli.cli.complete import COMPLETE_VAR, InstallCompletionOpt, ShowCompletionOpt, prepare_shells
from coachcli.cli.complete import attach as attach_completers
from coachcli.cli.errors import CoachGroup
from coachcli.cli.state import AppState

if TYPE_CHECKING:
    from typer._click import Command, Context

# Command -> the module of coachcli.cli that registers it, in --help order. A module is imported,
# and its Click command built, only when that command is looked up: importing all ten and
# building every command's options up front cost ~70 ms of each start.
COMMANDS = {
    "chat": "chat",
    "history": "history",
    "reset": "reset",
    "dispatch": "dispatch",
    "tasks": "tasks",
    "dispatches": "dispatches",
    "facts": "facts",
    "agents": "agents",
    "search": "search",
    "memory": "memory",
    "goals": "goals",
    "log": "log",
    "checkin": "checkin",
    "review": "review",
    "status": "status",
    "usage": "usage",
    "export": "export",
    "import": "import_cmd",
    "config": "config_cmd",
    "db": "db",
    "worker": "worker",
    "version": "version",
}
ARGV_KEY = "coach.argv"


def _build(name: str) -> Command:
    """The Click command for one entry of COMMANDS, made with the root's Typer settings."""
    module = importlib.import_module(f"coachcli.cli.{COMMANDS[name]}")
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False, rich_markup_mode=None)
    module.register(holder)
    command = typer.main.get_group(holder).commands[name]
    attach_completers(name, command)  # ids, names and settings from the store on Tab
    return command


class LazyCommands(MutableMapping[str, "Command"]):
    """The root group's commands: every name known at once, each command built on first access."""

    def __init__(self, built: MutableMapping[str, Command]) -> None:
        self._built = dict(built)

    def __getitem__(self, name: str) -> Command:
        if name not in self._built:
            if name not in COMMANDS:
                raise KeyError(name)
            self._built[name] = _build(name)
        return self._built[name]

    def __contains__(self, name: object) -> bool:
        return name in COMMANDS or name in self._built

    def __iter__(self) -> Iterator[str]:
        yield from COMMANDS
        yield from (name for name in self._built if name not in COMMANDS)

    def __len__(self) -> int:
        return len(COMMANDS) + sum(name not in COMMANDS for name in self._built)

    def __setitem__(self, name: str, command: Command) -> None:
        self._built[name] = command

    def __delitem__(self, name: str) -> None:
        del self._built[name]


class RootGroup(CoachGroup):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.commands = LazyCommands(self.commands)

    def parse_args(self, ctx: Context, args: list[str]) -> list[str]:
        ctx.meta[ARGV_KEY] = tuple(args)  # for `--version -v` (see _version)
        return super().parse_args(ctx, args)

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)  # the names only: nothing is built to list them

    def main(self, args: Any = None, *rest: Any, **kwargs: Any) -> Any:
        """Arguments that are not UTF-8 (Python keeps them as surrogate escapes) are exit 2, up front."""
        import os
        import sys

        from coachcli.cli.common import check_text
        from coachcli.cli.output import error_line
        from coachcli.errors import UsageError

        given = sys.argv[1:] if args is None else list(args)
        if COMPLETE_VAR in os.environ:  # a Tab press: answered by Typer's shell classes
            prepare_shells()
        try:
            for position, arg in enumerate(given, 1):
                check_text(arg, what=f"argument {position}")
        except UsageError as exc:
            error_line(str(exc))
            sys.exit(exc.exit_code)
        return super().main(given, *rest, **kwargs)


app = typer.Typer(
    cls=RootGroup,
    name="coach",
    help="A command-line AI coaching assistant: one long-running coaching conversation, "
    "specialist agents, and task threads.",
    no_args_is_help=True,
    add_completion=False,  # cli/complete.py's options instead: --show-completion takes a SHELL
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)


VERBOSE_FLAGS = ("-v", "--verbose")


def _version(ctx: typer.Context, value: bool) -> None:
    """Plain --version prints at once; with -v anywhere on the line, also Python, litellm, platform.
    Eager callbacks run before -v's value is known, so the line itself is asked."""
    if not value or ctx.resilient_parsing:
        return
    if any(arg in VERBOSE_FLAGS for arg in ctx.meta.get(ARGV_KEY, ())):
        from coachcli.cli.version import version_lines

        print("\n".join(version_lines(verbose=True)))
    else:
        print(f"coach {__version__}")
    raise typer.Exit()


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
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="With --version: also Python, litellm and the platform.")
    ] = False,
    install_completion: InstallCompletionOpt = False,
    show_completion: ShowCompletionOpt = None,
) -> None:
    """Global options apply to every command."""
    state = AppState(home=home, db=db, user=user)  # checked when settings resolve, naming --user
    ctx.obj = state
    ctx.call_on_close(state.close)


def main() -> None:
    app(prog_name="coach")  # also under `python -m coachcli`: completion and help name `coach`
