"""`coach db path|check|upgrade|backup`: look after the store."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coachcli.cli.common import JsonOpt
from coachcli.cli.output import emit_json, out
from coachcli.cli.state import state
from coachcli.redact import redact

db_app = typer.Typer(help="The database: where it is, its health, upgrades and backups.")


@db_app.command("path")
def path_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Where the store is (the SQLite file, or the database URL without its password)."""
    app = state(ctx)
    settings = app.settings()
    store = app.store(migrate=False)
    location = str(store.path) if store.path else redact(settings.database_url)
    if json_out:
        emit_json({"path": location, "url": redact(settings.database_url), "home": str(settings.home)})
        return
    out().print(location, markup=False, soft_wrap=True)


@db_app.command("check")
def check_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Integrity and schema revision; exit 1 when something is wrong."""
    from coachcli.store.maintenance import check

    report = check(state(ctx).store(migrate=False))
    if json_out:
        emit_json(
            {"ok": report.ok, "revision": report.revision, "head": report.head, "problems": report.problems}
        )
    else:
        out().print(f"schema: {report.revision or 'none'} (this coachcli: {report.head})", markup=False)
        for problem in report.problems:
            out().print(f"problem: {problem}", markup=False)
        if report.ok:
            out().print("ok", markup=False)
    if not report.ok:
        raise typer.Exit(1)


@db_app.command("upgrade")
def upgrade_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Apply pending migrations (the same step every command runs when needed)."""
    from coachcli.store.migrate import upgrade

    before, after = upgrade(state(ctx).store(migrate=False))
    if json_out:
        emit_json({"from": before, "to": after, "changed": before != after})
        return
    if before == after:
        out().print(f"already at {after}", markup=False)
    else:
        out().print(f"upgraded {before or 'empty database'} -> {after}", markup=False)


@db_app.command("backup")
def backup_cmd(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="Where to write the copy.")],
    force: Annotated[bool, typer.Option("--force", help="Overwrite FILE if it exists.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """A consistent copy of a SQLite store, safe while other coach processes write."""
    from coachcli.store.maintenance import backup

    store = state(ctx).store()
    written = backup(store, file, force=force)
    if json_out:
        emit_json({"backup": str(written)})
        return
    out().print(f"backed up to {written}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")
