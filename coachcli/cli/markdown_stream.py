"""Stream Markdown to a terminal without re-rendering the whole reply on every chunk.

Finished blocks (paragraphs, lists, closed code fences) are rendered once and printed for good;
only the unfinished tail is shown live, re-rendered at most REFRESH_SECONDS apart. A reply taller
than the screen is never duplicated or cut.

Cost: the finished blocks add up to one render of the whole reply; the live tail adds one render
of a short text per refresh. Finding finished blocks looks only at the lines that arrived since
the last look, so a long reply is not rescanned on every chunk.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from rich.console import Console, Group, NewLine, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

REFRESH_SECONDS = 1 / 8
# The live tail may use at most this share of the stream's time: a long unfinished block (a big
# code fence, say) is refreshed less often instead of costing more and more CPU per chunk.
TAIL_CPU_SHARE = 0.05
_FENCES = ("```", "~~~")


class MarkdownStream:
    """Feed it chunks; call close() at the end (also after an interruption)."""

    def __init__(self, console: Console, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.clock = clock
        self.tail = ""  # the text after the last finished block
        self._scanned = 0  # how much of the tail was already looked at for block ends
        self._in_fence = False
        self._live: Live | None = None
        self._shown = ""  # the tail as the live display last showed it
        self._next = float("-inf")  # the clock time from which the tail may be refreshed

    def feed(self, piece: str) -> None:
        if not piece:
            return
        self.tail += piece
        if "\n" in piece:
            self._print_finished()
        now = self.clock()
        if now >= self._next and self.tail != self._shown:
            spent = time.perf_counter()
            self._show_tail()
            spent = time.perf_counter() - spent
            self._next = now + max(REFRESH_SECONDS, spent / TAIL_CPU_SHARE)

    def _print_finished(self) -> None:
        """Print the blocks finished in the tail: split at its last blank line outside a code fence
        or after its last closing fence, scanning only the lines that arrived since the last look."""
        tail, pos, cut = self.tail, self._scanned, 0
        while (end := tail.find("\n", pos)) >= 0:
            line = tail[pos:end]
            if line.lstrip().startswith(_FENCES):
                self._in_fence = not self._in_fence
                if not self._in_fence:
                    cut = end + 1  # a closed fence is a finished block
            elif not self._in_fence and pos > 0 and not line.strip():
                cut = end + 1
            pos = end + 1
        self._scanned = pos - cut
        if cut:
            block, self.tail = tail[:cut], tail[cut:]
            if block.strip():
                self._print(Group(Markdown(block.strip("\n")), NewLine()))

    def _print(self, renderable: RenderableType) -> None:
        """Print for good. Under a live tail, Rich prints above it and redraws the tail below, so
        the tail is brought up to date first (it no longer holds the printed block)."""
        if self._live is not None:
            self._live.update(self._tail_renderable(), refresh=False)
            self._shown = self.tail
        self.console.print(renderable)

    def _tail_renderable(self) -> RenderableType:
        return Markdown(self.tail) if self.tail.strip() else Text("")

    def _show_tail(self) -> None:
        self._shown = self.tail
        if self._live is not None:
            self._live.update(self._tail_renderable(), refresh=True)
        elif self.tail.strip():
            self._live = Live(
                self._tail_renderable(),
                console=self.console,
                auto_refresh=False,
                transient=True,
                vertical_overflow="crop",
            )
            self._live.start(refresh=True)

    def close(self) -> None:
        """Print whatever is left, permanently."""
        rest, self.tail = self.tail.strip("\n"), ""
        self._scanned, self._in_fence, self._shown = 0, False, ""
        if self._live is not None:
            self._live.update(Text(""), refresh=False)
            self._live.stop()
            self._live = None
        if rest.strip():
            self.console.print(Markdown(rest))
