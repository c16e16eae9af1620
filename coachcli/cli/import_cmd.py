"""`coach import FILE|-`: read an export into the current user, all of it or nothing."""

from __future__ import annotations

import shutil
import sys
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from typing import IO, Annotated

import typer

from coachcli.cli.common import JsonOpt, writing
from coachcli.cli.export import plural
from coachcli.cli.output import emit_json, out
from coachcli.cli.state import state
from coachcli.errors import UsageError


def import_cmd(
    ctx: typer.Context,
    source: Annotated[
        str, typer.Argument(metavar="FILE|-", help="A `coach export` JSON file, or - for stdin.")
    ],
    json_out: JsonOpt = False,
) -> None:
    """Import an export (JSON) into your history; importing it again adds nothing."""
    from coachcli.coaching.portable.importer import import_plan
    from coachcli.coaching.portable.plan import read_plan

    with _opened(source) as stream:
        plan = read_plan(stream, "stdin" if source == "-" else source)
        with writing(state(ctx)) as (session, user):
            counts = import_plan(session, user, plan, stream)
    if json_out:
        emit_json(counts.as_dict())
        return
    singular = {"facts": "fact", "conversations": "conversation", "messages": "message", "memories": "memory"}
    singular.update(dispatches="dispatch", goals="goal", progress="progress", agents="agent")
    added = [_count(n, singular[what]) for what, n in counts.as_dict().items() if n and what != "skipped"]
    summary = ", ".join(added) if added else "nothing new"
    out().print(f"Imported {summary}; {counts.skipped} already there.")


def _count(count: int, word: str) -> str:
    if word == "memory":
        return f"{count} {'memory' if count == 1 else 'memories'}"
    if word == "dispatch":
        return f"{count} {'dispatch' if count == 1 else 'dispatches'}"
    return plural(count, word)


@contextmanager
def _opened(source: str) -> Iterator[IO[bytes]]:
    """The file, or stdin spooled to a private temp file: the import reads it twice."""
    if source == "-":
        if sys.stdin.isatty():
            raise UsageError(
                "nothing on stdin: pipe an export in (coach import - < export.json) or name the file."
            )
        with tempfile.TemporaryFile() as spool:  # 0600 and unlinked: nobody else can read it
            shutil.copyfileobj(sys.stdin.buffer, spool, 1 << 20)
            spool.seek(0)
            yield spool
        return
    try:
        stream = open(source, "rb")  # noqa: SIM115 - closed below, after both passes
    except OSError as exc:
        raise UsageError(f"cannot read {source}: {exc.strerror}.") from exc
    with stream:
        yield stream


def register(app: typer.Typer) -> None:
    app.command("import")(import_cmd)
