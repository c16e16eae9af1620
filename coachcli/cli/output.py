"""Rendering helpers: JSON documents on stdout, messages and errors on stderr."""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from datetime import datetime
from functools import cache
from typing import Any

from rich.console import Console


@cache
def out() -> Console:
    return Console(highlight=False, soft_wrap=False)


@cache
def err() -> Console:
    return Console(stderr=True, highlight=False)


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def emit_json(document: Any) -> None:
    """Exactly one JSON document on stdout, nothing else."""
    sys.stdout.write(json.dumps(document, ensure_ascii=False, indent=2, default=_default) + "\n")
    sys.stdout.flush()


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def note(message: str) -> None:
    """A status line for people; on stderr so stdout stays clean for pipes."""
    err().print(message, markup=False, style="dim")


def error_line(message: str) -> None:
    text = " ".join(str(message).split())
    sys.stderr.write(f"Error: {text}\n")
    sys.stderr.flush()


def short_id(value: str | None) -> str:
    return value[:8] if value else "-"


def when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


def print_columns(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    """Aligned columns, like a borderless Rich Table, with the last column wrapped to the width.

    Rich's Table lays out every cell through its measuring engine: about a millisecond per row,
    a quarter of a second for 200 task threads. Plain padding draws the same picture in a few
    milliseconds. Cells are text, never markup.
    """
    from rich.cells import cell_len
    from rich.text import Text

    console = out()
    last = len(headers) - 1
    widths = [max([cell_len(h)] + [cell_len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    indent = sum(widths[:last]) + 2 * last
    room = max(console.width - indent, 20)

    def line(cells: Sequence[str]) -> str:
        padded = [c + " " * (widths[i] - cell_len(c)) for i, c in enumerate(cells[:last])]
        return "  ".join([*padded, cells[last]]).rstrip()

    body: list[str] = []
    for row in rows:
        first, *more = _wrap(row[last], room)
        body.append(line([*row[:last], first]))
        body.extend(" " * indent + part for part in more)
    console.print(Text(line(headers), style="bold"), soft_wrap=True, highlight=False)
    if body:  # already laid out: written as is, not passed through Rich's renderer line by line
        console.file.write("\n".join(body) + "\n")
        console.file.flush()


def _wrap(text: str, width: int) -> list[str]:
    """Word-wrap to `width` terminal cells (a word longer than that is cut)."""
    from rich.cells import cell_len, chop_cells

    lines: list[str] = []
    current = ""
    for word in text.split():
        candidate = f"{current} {word}" if current else word
        if cell_len(candidate) <= width:
            current = candidate
            continue
        if current:
            lines.append(current)
        pieces = chop_cells(word, width) if cell_len(word) > width else [word]
        lines.extend(pieces[:-1])
        current = pieces[-1]
    lines.append(current)
    return lines
