"""Rendering helpers: JSON documents on stdout, messages and errors on stderr."""

from __future__ import annotations

import json
import sys
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
