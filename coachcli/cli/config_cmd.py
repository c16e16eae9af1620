"""`coach config show|set|unset`: every setting, where its value comes from, and <home>/config.toml.

These commands resolve settings leniently: a bad value (in config.toml or a COACH_* variable) is
reported, not fatal, so a broken file can always be shown and repaired from here.
"""

from __future__ import annotations

from typing import Annotated

import typer

from coachcli import config
from coachcli.cli.common import JsonOpt
from coachcli.cli.output import emit_json, err, out
from coachcli.cli.state import state

_FILE_KEYS = ", ".join(key.name for key in config.KEYS if key.in_file)

config_app = typer.Typer(help=f"Settings and <home>/config.toml (keys: {_FILE_KEYS}).")


@config_app.command("show")
def show_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Every setting's value and where it comes from (flag, env COACH_X, config.toml, default)."""
    settings = state(ctx).settings(strict=False)
    rows: dict[str, dict[str, object]] = {}
    for key in config.KEYS:
        row: dict[str, object] = {
            "value": None if key.name in settings.problems else config.plain(getattr(settings, key.name)),
            "source": settings.sources.get(key.name, "default"),
        }
        if key.name in settings.problems:
            row["error"] = settings.problems[key.name]
        rows[key.name] = row
    if json_out:
        emit_json(rows)
    else:
        console = out()
        console.print(f"config file: {settings.config_path}", style="dim")
        for name, row in rows.items():
            value = "(invalid)" if "error" in row else _text(row["value"])
            console.print(f"{name:19} {value}  ({row['source']})")
    for message in settings.problems.values():
        err().print(f"Warning: {message}")


@config_app.command("set")
def set_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=f"One of: {_FILE_KEYS}.", show_default=False)],
    value: Annotated[str, typer.Argument(help="The value (checked before anything is written).")],
) -> None:
    """Set a value in config.toml (written atomically, mode 0600)."""
    app = state(ctx)
    home = app.settings(strict=False).home
    stored = config.set_value(home, key, value)
    out().print(f"{key} = {config.plain(stored)}  (in {home / config.CONFIG_FILE})")
    _note_override(app.settings(strict=False), key)


@config_app.command("unset")
def unset_cmd(
    ctx: typer.Context,
    key: Annotated[str, typer.Argument(help=f"One of: {_FILE_KEYS}.", show_default=False)],
) -> None:
    """Remove a value from config.toml (the default applies again); also repairs a broken entry."""
    app = state(ctx)
    home = app.settings(strict=False).home
    if config.unset_value(home, key):
        out().print(f"{key} unset (removed from {home / config.CONFIG_FILE}).")
    else:
        out().print(f"{key} was not set in {home / config.CONFIG_FILE}.")
    if key in config.BY_NAME:
        _note_override(app.settings(strict=False), key)


def _text(value: object) -> str:
    if value is None:
        return "-"
    return str(value).lower() if isinstance(value, bool) else str(value)


def _note_override(settings: config.Settings, key: str) -> None:
    """Say so when a flag or variable still wins over the file, so the change seems to do nothing."""
    source = settings.sources.get(key, "")
    if source.startswith(("env ", "flag ")):
        err().print(f"Note: {source} takes precedence over config.toml.", style="dim")


def register(app: typer.Typer) -> None:
    app.add_typer(config_app, name="config")
