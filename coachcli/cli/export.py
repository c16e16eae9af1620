"""`coach export`: everything of the current user, as JSON (to import again) or Markdown (to read)."""

from __future__ import annotations

import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from coachcli.cli.common import reading
from coachcli.cli.output import json_safe, note, visible
from coachcli.cli.state import state
from coachcli.errors import CoachError, UsageError

FORMATS = ("json", "markdown")


def export_cmd(
    ctx: typer.Context,
    fmt: Annotated[
        str, typer.Option("--format", "-f", help="json (lossless, for `coach import`) or markdown (to read).")
    ] = "json",
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to FILE (private, 0600) instead of stdout.")
    ] = None,
) -> None:
    """Export your facts, goals, conversations, task threads and dispatches."""
    fmt = {"md": "markdown"}.get(fmt.lower(), fmt.lower())
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r}: use --format json or --format markdown.")
    from coachcli.coaching.portable.export import write_json
    from coachcli.coaching.portable.markdown import write_markdown

    app = state(ctx)
    writer = write_json if fmt == "json" else write_markdown
    safe = json_safe if fmt == "json" else visible
    with reading(app) as (session, user), _destination(output) as write:
        counts = writer(session, user, app.settings().user, lambda chunk: write(safe(chunk)))
    if output is not None:
        parts = [plural(counts.facts, "fact"), plural(counts.conversations, "conversation")]
        note(f"Exported {', '.join(parts)} and {plural(counts.messages, 'message')} to {output}.")


def plural(count: int, word: str) -> str:
    """'1 fact', '2 facts', 'no facts' (regular plurals and 'progress' are all these commands need)."""
    if word == "progress":
        return f"{count} progress note{'' if count == 1 else 's'}"
    return f"{count} {word}{'' if count == 1 else 's'}"


@contextmanager
def _destination(path: Path | None) -> Iterator[Callable[[str], object]]:
    """stdout, or a file written whole or not at all: a private temp file renamed into place."""
    if path is None:
        sys.stdout.flush()
        stream = sys.stdout.buffer
        yield lambda text: stream.write(text.encode("utf-8"))
        stream.flush()
        return
    target = path.expanduser().absolute()
    if target.is_dir():
        raise UsageError(f"{path} is a folder: give a file name, e.g. -o {path}/coach-export.json.")
    if not target.parent.is_dir():
        raise UsageError(f"folder {target.parent} does not exist.")
    try:
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    except OSError as exc:
        raise CoachError(f"cannot write in {target.parent}: {exc.strerror}.") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as handle:
            yield handle.write
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
