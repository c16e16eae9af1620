"""Shell completion: `--install-completion`, `--show-completion SHELL`, and values from the store.

Typer's completion protocol (`_COACH_COMPLETE=complete_bash` and friends) answers each Tab press.
Commands are built lazily (cli/app.py), so completers are attached to a command when it is built
(`attach`), from the table below. A completer opens the store with `store.peek` (never created,
never migrated, no lock waited for) and runs one small query from `coaching/complete.py`; any
failure answers nothing, silently: a Tab press must never print an error or hang the shell.
"""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from typer._click import Command, Context, Parameter
    from typer._click.shell_completion import CompletionItem

    from coachcli.coaching.complete import Choice

COMPLETE_VAR = "_COACH_COMPLETE"
HELP_WIDTH = 70


class Shell(StrEnum):
    bash = "bash"
    zsh = "zsh"
    fish = "fish"
    powershell = "powershell"
    pwsh = "pwsh"


def prepare_shells() -> None:
    """Register Typer's shell classes, with help texts kept plain.

    Typer strips Rich markup from completion help by rendering it with its Rich helpers, which
    import Rich's Markdown on every Tab press; coach's help texts carry no markup
    (rich_markup_mode=None), so they only need control characters removed.
    """
    from typer import _completion_classes
    from typer.completion import completion_init

    completion_init()
    _completion_classes._sanitize_help_text = _plain


def _plain(text: str) -> str:
    from coachcli.cli.output import visible

    flat = visible(" ".join(text.split()), one_line=True)
    return flat if len(flat) <= HELP_WIDTH else flat[: HELP_WIDTH - 1] + "…"


def _install(ctx: typer.Context, param: typer.CallbackParam, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from typer.completion import install_callback

    prepare_shells()
    install_callback(ctx, param, value)  # detects the shell, writes its rc file, exits


def _show(ctx: typer.Context, param: typer.CallbackParam, value: Shell | None) -> None:
    if value is None or ctx.resilient_parsing:
        return
    from typer.completion import show_callback

    prepare_shells()
    show_callback(ctx, param, value.value)  # prints the script and exits


InstallCompletionOpt = Annotated[
    bool,
    typer.Option(
        "--install-completion",
        callback=_install,
        expose_value=False,
        is_eager=True,
        help="Install completion for your shell (bash, zsh, fish or PowerShell).",
    ),
]
ShowCompletionOpt = Annotated[
    Shell | None,
    typer.Option(
        "--show-completion",
        metavar="SHELL",
        callback=_show,
        expose_value=False,
        is_eager=True,
        help="Print the completion script for SHELL (bash, zsh, fish, powershell).",
    ),
]


# -- values from the store ----------------------------------------------------------------------

Completer = Callable[["Context", "Parameter", str], "list[CompletionItem]"]


def _items(choices: list[Choice]) -> list[CompletionItem]:
    from typer._click.shell_completion import CompletionItem

    return [CompletionItem(value, help=_plain(help_text) or None) for value, help_text in choices]


def _from_store(name: str, *options: Any, **flags: Any) -> Completer:
    """A completer running `coaching.complete.<name>(session, handle, typed, *options, **flags)` on
    the store the command line names. The query module is imported only when a Tab press asks
    for it (commands attach completers on every run; the queries load SQLModel)."""

    def complete(ctx: Context, _param: Parameter, incomplete: str) -> list[CompletionItem]:
        try:
            from coachcli import config
            from coachcli.store.peek import peek

            given = ctx.find_root().params
            settings = config.resolve(
                home=given.get("home"), db=given.get("db"), user=given.get("user"), strict=False
            )
            with peek(settings.database_url) as session:
                if session is None:
                    return []
                from coachcli.coaching import complete as queries

                query = getattr(queries, name)
                return _items(query(session, settings.user, incomplete, *options, **flags))
        except Exception:  # missing, locked, old or broken: a Tab press shows nothing, says nothing
            return []

    return complete


def _setting_names(_ctx: Context, _param: Parameter, incomplete: str) -> list[CompletionItem]:
    from coachcli.config import KEYS

    return _items([(key.name, key.help) for key in KEYS if key.in_file and key.name.startswith(incomplete)])


ANY_GOAL = ("active", "done", "dropped")
ARG = "ARG"  # the command's first positional argument

# (command path, ARG or an option) -> completer.
COMPLETERS: dict[tuple[tuple[str, ...], str], Completer] = {
    (("tasks", "show"), ARG): _from_store("task_threads"),
    (("dispatches", "approve"), ARG): _from_store("dispatches", ("proposed",)),
    (("dispatches", "reject"), ARG): _from_store("dispatches", ("proposed",)),
    (("dispatches", "retry"), ARG): _from_store("retryable_dispatches"),
    (("dispatch",), "--agent"): _from_store("agent_names", builtin=True),
    (("agents", "show"), ARG): _from_store("agent_names", builtin=True),
    (("agents", "rm"), ARG): _from_store("agent_names", builtin=False),
    (("facts", "rm"), ARG): _from_store("facts"),
    (("facts", "edit"), ARG): _from_store("facts"),
    (("goals", "show"), ARG): _from_store("goals", ANY_GOAL),
    (("goals", "edit"), ARG): _from_store("goals", ANY_GOAL),
    (("goals", "done"), ARG): _from_store("goals", ("active",)),
    (("goals", "drop"), ARG): _from_store("goals", ("active",)),
    (("goals", "reopen"), ARG): _from_store("goals", ("done", "dropped")),
    (("log",), "--goal"): _from_store("goals", ("active",)),
    (("memory", "rm"), ARG): _from_store("memory_notes"),
    (("config", "set"), ARG): _setting_names,
    (("config", "unset"), ARG): _setting_names,
}


def attach(name: str, command: Command) -> None:
    """Give the freshly built command `name` (and its subcommands) their value completers."""
    for (path, target), completer in COMPLETERS.items():
        if path[0] != name:
            continue
        found: Any = command
        for part in path[1:]:
            found = found.commands.get(part) if hasattr(found, "commands") else None
        if found is None:
            continue
        for param in found.params:
            if (target == ARG and param.param_type_name == "argument") or target in getattr(
                param, "opts", ()
            ):
                param._custom_shell_complete = completer
                break
