"""`coach config show|set|unset`: manage <home>/config.toml (unknown keys are refused)."""

from __future__ import annotations

from typing import Annotated

import typer

from coachcli.cli.common import JsonOpt
from coachcli.cli.output import emit_json, out, styled
from coachcli.cli.state import state
from coachcli.config import CONFIG_KEYS, coerce, write_config_value

config_app = typer.Typer(help=f"Settings in <home>/config.toml: {', '.join(CONFIG_KEYS)}.")


@config_app.command("show")
def show_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Effective settings and where each comes from (flag, env, config.toml, default)."""
    app = state(ctx)
    settings = app.settings()
    values = {
        "model": settings.model,
        "api_base": settings.api_base,
        "user": settings.user,
        "context_tokens": settings.context_tokens,
    }
    if json_out:
        emit_json(
            {
                "config_file": str(settings.config_path),
                "home": str(settings.home),
                "settings": {k: {"value": v, "source": settings.sources.get(k)} for k, v in values.items()},
            }
        )
        return
    console = out()
    console.print(f"config file: {settings.config_path}", style="dim")
    for key, value in values.items():
        shown = "-" if value is None else str(value)
        console.print(styled(f"{key:15} {shown}  ", (f"({settings.sources.get(key)})", "dim")))


@config_app.command("set")
def set_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=f"One of: {', '.join(CONFIG_KEYS)}.")],
    value: Annotated[str, typer.Argument(help="The value.")],
) -> None:
    """Set a value in config.toml."""
    app = state(ctx)
    home = app.settings().home
    coerce(key, value)  # refuse unknown keys and bad values before touching the file
    write_config_value(home, key, value)
    out().print(f"{key} = {coerce(key, value)}  (in {home / 'config.toml'})", markup=False)


@config_app.command("unset")
def unset_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=f"One of: {', '.join(CONFIG_KEYS)}.")],
) -> None:
    """Remove a value from config.toml (the default applies again)."""
    from coachcli.errors import UsageError

    if key not in CONFIG_KEYS:
        raise UsageError(f"unknown setting {key!r}: known settings are {', '.join(CONFIG_KEYS)}.")
    app = state(ctx)
    write_config_value(app.settings().home, key, None)
    out().print(f"{key} unset.", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
