"""Stream Markdown to a terminal without re-rendering the whole reply on every chunk.

Finished blocks (paragraphs, lists, closed code fences) are printed once, for good; only the
unfinished tail is shown live. A reply taller than the screen is never duplicated or cut.
"""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.markdown import Markdown

REFRESH_SECONDS = 1 / 12


def split_finished(text: str) -> tuple[str, str]:
    """(finished blocks, unfinished tail): split at the last blank line outside a code fence."""
    in_fence = False
    cut = 0
    offset = 0
    lines = text.split("\n")
    for index, line in enumerate(lines[:-1]):  # the last line is still being written
        offset += len(line) + 1
        if line.lstrip().startswith(("```", "~~~")):
            in_fence = not in_fence
            if not in_fence:
                cut = offset  # a closed fence is a finished block
        elif not in_fence and not line.strip() and index > 0:
            cut = offset
    return text[:cut], text[cut:]


class MarkdownStream:
    """Feed it chunks; call close() at the end (also after an interruption)."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.tail = ""
        self._live: Live | None = None
        self._last = 0.0

    def feed(self, piece: str) -> None:
        self.tail += piece
        if "\n" not in piece and time.monotonic() - self._last < REFRESH_SECONDS:
            return
        finished, self.tail = split_finished(self.tail)
        if finished.strip():
            self._print_block(finished)
        self._show_tail()

    def _print_block(self, block: str) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        self.console.print(Markdown(block.strip("\n")))
        self.console.print()

    def _show_tail(self) -> None:
        self._last = time.monotonic()
        if not self.tail.strip():
            return
        renderable = Markdown(self.tail)
        if self._live is None:
            self._live = Live(
                renderable,
                console=self.console,
                auto_refresh=False,
                transient=True,
                vertical_overflow="crop",
            )
            self._live.start()
        else:
            self._live.update(renderable, refresh=True)

    def close(self) -> None:
        """Print whatever is left, permanently."""
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self.tail.strip():
            self.console.print(Markdown(self.tail.strip("\n")))
        self.tail = ""
