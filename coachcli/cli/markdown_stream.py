"""Stream Markdown to a terminal without re-rendering the whole reply on every chunk.

Finished blocks (paragraphs, lists, closed code fences) are rendered once and printed for good;
only the unfinished tail is shown live, re-rendered at most REFRESH_SECONDS apart. A reply taller
than the screen is never duplicated or cut.

Cost: the finished blocks add up to one render of the whole reply; the live tail adds one render
of a short text per refresh. Finding finished blocks looks only at the lines that arrived since
the last look, so a long reply is not rescanned on every chunk.

A piece that arrives before the next refresh is due is not lost to a stall: a timer draws the
pending tail once the interval has passed, even when no further piece arrives (a slow model, a
tool call).
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from rich.console import Console, Group, NewLine, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.text import Text

REFRESH_SECONDS = 1 / 8
# The live tail may use at most this share of the stream's time: a long unfinished block (a big
# code fence, say) is refreshed less often instead of costing more and more CPU per chunk.
TAIL_CPU_SHARE = 0.05
_OPENING = re.compile(r"( *)(`{3,}|~{3,})(.*)")
_CLOSING = re.compile(r"( *)(`{3,}|~{3,})[ \t]*")


@dataclass(frozen=True)
class Fence:
    """An open code fence, as CommonMark tracks it: only a line of the same character, at least as
    long, with nothing after it, closes it ("~~~" inside a "```" block is code)."""

    char: str
    length: int
    indent: int

    @classmethod
    def opened_by(cls, line: str) -> Fence | None:
        """The fence this line opens, if any. CommonMark allows 3 spaces of indentation; deeper ones
        count too, since a fence inside a list item is indented by the item's own indentation."""
        match = _OPENING.fullmatch(line.rstrip("\r"))
        if match is None:
            return None
        indent, marks, info = match.groups()
        if marks[0] == "`" and "`" in info:  # a backtick fence's info string has no backticks
            return None
        return cls(marks[0], len(marks), len(indent))

    def closed_by(self, line: str) -> bool:
        match = _CLOSING.fullmatch(line.rstrip("\r"))
        if match is None:
            return False
        indent, marks = match.groups()
        most = 3 if self.indent <= 3 else self.indent + 3  # relative to a list item's indentation
        return marks[0] == self.char and len(marks) >= self.length and len(indent) <= most


class BlockFinder:
    """Where the finished blocks of a growing Markdown text end: at a blank line outside a code
    fence, or after a closing fence. Looks only at the lines that arrived since the last call."""

    def __init__(self) -> None:
        self.scanned = 0  # how much of the text was already looked at
        self.fence: Fence | None = None

    def cut(self, text: str) -> int:
        """Length of the finished prefix of `text`. The next call gets `text[cut:]` plus more."""
        pos, cut = self.scanned, 0
        while (end := text.find("\n", pos)) >= 0:
            line = text[pos:end]
            if self.fence is not None:
                if self.fence.closed_by(line):
                    self.fence = None
                    cut = end + 1  # a closed fence is a finished block
            elif (fence := Fence.opened_by(line)) is not None:
                self.fence = fence
            elif pos > 0 and not line.strip():
                cut = end + 1
            pos = end + 1
        self.scanned = pos - cut
        return cut


class Cancellable(Protocol):
    def cancel(self) -> None: ...


Scheduler = Callable[[float, Callable[[], None]], Cancellable]


def background_timer(delay: float, action: Callable[[], None]) -> Cancellable:
    """Run `action` once, `delay` seconds from now, on a daemon thread."""
    timer = threading.Timer(delay, action)
    timer.daemon = True
    timer.start()
    return timer


class MarkdownStream:
    """Feed it chunks; call close() at the end (also after an interruption).

    `clock` and `schedule` are the time source and the deferred-refresh timer (tests pass fakes).
    """

    def __init__(
        self,
        console: Console,
        *,
        clock: Callable[[], float] = time.monotonic,
        schedule: Scheduler = background_timer,
    ) -> None:
        self.console = console
        self.clock = clock
        self.schedule = schedule
        self.tail = ""  # the text after the last finished block
        self._blocks = BlockFinder()
        self._live: Live | None = None
        self._shown = ""  # the tail as the live display last showed it
        self._next = float("-inf")  # the clock time from which the tail may be refreshed
        self._pending: Cancellable | None = None  # the timer that will draw a held-back tail
        self._lock = threading.RLock()  # the timer's thread and the feeding thread take turns

    def feed(self, piece: str) -> None:
        if not piece:
            return
        with self._lock:
            self.tail += piece
            if "\n" in piece:
                self._print_finished()
            self._refresh_due()

    def tick(self) -> None:
        """Draw the tail if it changed and its refresh is due (the deferred-refresh timer's job)."""
        with self._lock:
            self._pending = None
            self._refresh_due()

    def _refresh_due(self) -> None:
        """Show the tail now if the interval has passed; otherwise make sure a timer will."""
        if self.tail == self._shown:
            return
        now = self.clock()
        if now < self._next:
            if self._pending is None:
                self._pending = self.schedule(self._next - now, self.tick)
            return
        spent = time.perf_counter()
        self._show_tail()
        spent = time.perf_counter() - spent
        self._next = now + max(REFRESH_SECONDS, spent / TAIL_CPU_SHARE)

    def _print_finished(self) -> None:
        """Print the blocks finished in the tail."""
        cut = self._blocks.cut(self.tail)
        if cut:
            block, self.tail = self.tail[:cut], self.tail[cut:]
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
        """Print whatever is left, permanently (a refresh still pending is no longer needed)."""
        with self._lock:
            if self._pending is not None:
                self._pending.cancel()
                self._pending = None
            rest, self.tail = self.tail.strip("\n"), ""
            self._blocks, self._shown = BlockFinder(), ""
            if self._live is not None:
                self._live.update(Text(""), refresh=False)
                self._live.stop()
                self._live = None
            if rest.strip():
                self.console.print(Markdown(rest))
