"""A spinner with elapsed time on stderr while a model works (silent when not a terminal)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from coachcli.cli.output import err


@contextmanager
def working(label: str) -> Iterator[None]:
    console = err()
    if not console.is_terminal:  # nothing shown: rich.progress and its live display stay unloaded
        yield
        return
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    columns = (SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as progress:
        progress.add_task(label, total=None)
        yield
