"""Rendering helpers: JSON documents on stdout, messages and errors on stderr.

Everything a person or a model wrote is printed literally: the consoles never read markup or
emoji codes, and control characters (ESC, other C0/C1 controls, bidi overrides) are shown as
visible symbols instead of reaching the terminal. Our own styling goes through `styled()` or
`style=`, never through markup in a string. Off a terminal nothing is wrapped or cropped.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import datetime
from functools import cache
from typing import TYPE_CHECKING, Any

from rich.console import Console, RenderHook
from rich.segment import Segment

if TYPE_CHECKING:
    from rich.console import ConsoleOptions, RenderableType, RenderResult
    from rich.measure import Measurement
    from rich.text import Text

# C0 controls except tab and newline, DEL, C1 controls, and the bidi overrides/isolates that can
# make a terminal show text in another order than it is stored, and lone surrogates (bytes that
# were not UTF-8, e.g. in an environment variable), which no terminal encoding can write.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_CONTROL_OR_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
_PIPE_WIDTH = 100_000  # "as wide as needed": a table off a terminal is laid out without wrapping
_JSON_UNSAFE = re.compile("[\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _symbol(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␛ for ESC, ␀ for NUL, ␊ for a newline inside one line…
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"<U+{code:04X}>"


def visible(text: str, *, one_line: bool = False) -> str:
    """`text` with control characters replaced by visible symbols (the stored text is unchanged).

    Newlines and tabs stay, unless `one_line` (a table cell): then they are shown as symbols too.
    """
    if one_line:
        return _CONTROL_OR_LINE.sub(_symbol, text)
    if "\r" in text:
        text = text.replace("\r\n", "\n")
    return _CONTROL.sub(_symbol, text)


def styled(*parts: str | tuple[str, str]) -> Text:
    """One line of literal text with our own styling: `styled(("coach", "bold"), " · ", name)`."""
    from rich.text import Text

    line = Text()
    for part in parts:
        if isinstance(part, tuple):
            line.append(visible(part[0]), style=part[1])
        else:
            line.append(visible(part))
    return line


class _WideInPipe:
    """A table off a terminal is laid out as wide as it needs: one line per row, never wrapped."""

    def __init__(self, inner: RenderableType) -> None:
        self.inner = inner

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield from console.render(self.inner, options.update(width=_PIPE_WIDTH))

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        from rich.measure import Measurement

        return Measurement.get(console, options, self.inner)


class _TablesInPipe(RenderHook):
    def __init__(self, console: Console) -> None:
        self.console = console

    def process_renderables(self, renderables: list[Any]) -> list[Any]:
        if self.console.is_terminal:
            return renderables
        from rich.table import Table

        return [_WideInPipe(r) if isinstance(r, Table) else r for r in renderables]


class SafeConsole(Console):
    """A Console that prints strings literally and never wraps or crops off a terminal.

    Control characters are made visible twice over: in strings before Rich lays them out (so
    widths are right), and in every segment just before it is written, which also covers
    Markdown, tables, panels and live displays built from text that never was a string here.
    """

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **kwargs)
        self.push_render_hook(_TablesInPipe(self))

    def render_str(self, text: str, **kwargs: Any) -> Text:
        kwargs.update(markup=False, emoji=False)  # even when a caller asks for markup
        return super().render_str(visible(text), **kwargs)

    def print(self, *objects: Any, soft_wrap: bool | None = None, **kwargs: Any) -> None:
        if soft_wrap is None:
            soft_wrap = not self.is_terminal  # a pipe gets whole lines: no wrapping, no cropping
        super().print(*objects, soft_wrap=soft_wrap, **kwargs)

    def _render_buffer(self, buffer: Iterable[Segment]) -> str:
        """Rich's last step from segments to output text. A segment with `control` set is Rich's
        own cursor movement (live displays) and passes unchanged."""
        shown = (
            Segment(visible(text), style) if control is None and _CONTROL.search(text) else segment
            for segment in buffer
            for text, style, control in (segment,)
        )
        return super()._render_buffer(shown)


@cache
def out() -> Console:
    return SafeConsole()


@cache
def err() -> Console:
    return SafeConsole(stderr=True)


def write_text(text: str) -> None:
    """Raw text on stdout (streamed model output, plain results), with control characters shown."""
    sys.stdout.write(visible(text))


def iso(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def emit_json(document: Any) -> None:
    """Exactly one JSON document on stdout, nothing else.

    json.dumps escapes C0 controls; DEL, C1 controls and bidi overrides are escaped here too
    (the same JSON value), so no raw control sequence reaches a terminal.
    """
    text = json_safe(json.dumps(document, ensure_ascii=False, indent=2, default=_default))
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def json_safe(text: str) -> str:
    """JSON text with DEL, C1 controls and bidi overrides escaped (\\u…): the same JSON value."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def note(message: str) -> None:
    """A status line for people; on stderr so stdout stays clean for pipes."""
    err().print(message, style="dim")


def error_line(message: str) -> None:
    text = visible(" ".join(str(message).split()))
    sys.stderr.write(f"Error: {text}\n")
    sys.stderr.flush()


def short_id(value: str | None) -> str:
    return value[:8] if value else "-"


def when(value: datetime | None) -> str:
    if value is None:
        return "-"
    return value.astimezone().strftime("%Y-%m-%d %H:%M")


TEXT_ROOM = 24  # cells the last column (a title, a task) keeps before lesser columns give way


def fitting_columns(widths: Sequence[int], give_way: Sequence[int]) -> list[int]:
    """The columns to show, by index. On a terminal too narrow for all of them, the columns in
    `give_way` are left out in that order until the last column (the words a person reads: a goal's
    title, a task) has TEXT_ROOM cells, or all it needs; off a terminal every column is kept."""
    console = out()
    keep = list(range(len(widths)))
    if not console.is_terminal:
        return keep
    last = len(widths) - 1
    for index in give_way:
        used = sum(widths[i] + 2 for i in keep if i != last)
        if console.width - used >= min(TEXT_ROOM, widths[last]):
            break
        keep.remove(index)
    return keep


def print_fitted_table(
    headers: Sequence[str],
    body: Sequence[Sequence[Text]],
    give_way: Sequence[int],
    *,
    text: str,
    first_style: str = "",
    fill: bool = False,
) -> None:
    """A borderless Rich table whose `text` column (the words a person reads) is the only one
    that wraps (`fill`: it also takes the room the others leave). On a narrow terminal the
    columns in `give_way` are left out first (fitting_columns)."""
    from rich.table import Table

    widths = [max(len(name), *(row[i].cell_len for row in body)) for i, name in enumerate(headers)]
    keep = fitting_columns(widths, give_way)
    table = Table(box=None, pad_edge=False, header_style="bold")
    for i in keep:
        wraps = headers[i] == text
        table.add_column(
            headers[i],
            style=first_style if i == 0 else "",
            no_wrap=not wraps,
            ratio=1 if wraps and fill else None,
        )
    for row in body:
        table.add_row(*(row[i] for i in keep))
    out().print(table)


def print_columns(
    headers: Sequence[str],
    rows: Sequence[Sequence[str]],
    *,
    give_way: Sequence[int] = (),
    right: Sequence[int] = (),
) -> None:
    """Aligned columns, like a borderless Rich Table: one record per line.

    On a terminal the last column is wrapped to its width; off a terminal nothing is wrapped, so
    `| grep` and `| cut` see whole records. Rich's Table lays out every cell through its measuring
    engine: about a millisecond per row, a quarter of a second for 200 task threads. Plain padding
    draws the same picture in a few milliseconds. Cells are text, never markup; control characters
    (and newlines, which would split a record) are shown as symbols. On a narrow terminal the
    columns in `give_way` are left out first (fitting_columns). Columns in `right` (numbers) are
    aligned to the right; a last column aligned so is never wrapped.
    """
    from rich.cells import cell_len
    from rich.text import Text

    console = out()
    rows = [[visible(cell, one_line=True) for cell in row] for row in rows]
    widths = [max([cell_len(h)] + [cell_len(r[i]) for r in rows]) for i, h in enumerate(headers)]
    keep = fitting_columns(widths, give_way) if give_way else list(range(len(headers)))
    headers = [headers[i] for i in keep]
    rows = [[row[i] for i in keep] for row in rows]
    widths = [widths[i] for i in keep]
    to_right = {new for new, old in enumerate(keep) if old in right}
    last = len(headers) - 1
    indent = sum(widths[:last]) + 2 * last
    wrap = console.is_terminal and last not in to_right
    room = max(console.width - indent, 20) if wrap else None

    def line(cells: Sequence[str]) -> str:
        padded = []
        for i, cell in enumerate(cells):
            pad = " " * (widths[i] - cell_len(cell))
            padded.append(pad + cell if i in to_right else cell + pad)
        return "  ".join(padded).rstrip()

    body: list[str] = []
    for row in rows:
        first, *more = _wrap(row[last], room) if room is not None else [row[last]]
        body.append(line([*row[:last], first]))
        body.extend(" " * indent + part for part in more)
    console.print(Text(line(headers), style="bold"), soft_wrap=True)
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
