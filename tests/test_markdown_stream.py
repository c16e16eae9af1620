"""MarkdownStream finds finished blocks without splitting a code fence (CommonMark fence rules),
and never leaves the last words of a stalled stream undrawn."""

from __future__ import annotations

import io
import threading
from collections.abc import Callable

import pytest
from rich.console import Console

from coachcli.cli.markdown_stream import (
    REFRESH_SECONDS,
    BlockFinder,
    Cancellable,
    MarkdownStream,
    background_timer,
)


def blocks_of(text: str, chunk: int = 3) -> list[str]:
    """The finished blocks a stream would print, feeding `text` a few characters at a time."""
    finder, tail, blocks = BlockFinder(), "", []
    for start in range(0, len(text), chunk):
        tail += text[start : start + chunk]
        if cut := finder.cut(tail):
            blocks.append(tail[:cut])
            tail = tail[cut:]
    return [*blocks, tail] if tail else blocks


FENCED = {
    "tildes inside backticks": ("```\n", "~~~\n\n# inside\n", "```\n"),
    "backticks inside tildes": ("~~~ text\n", "```\n\n# inside\n", "~~~\n"),
    "shorter fence inside a longer one": ("````python\n", "```\n\n# inside\n", "````\n"),
    "closing fence with an info string is code": ("```\n", "``` python\n\n# inside\n", "```\n"),
    "fence indented three spaces": ("   ```\n", "~~~\n\n# inside\n", "  ```\n"),
    "longer closing fence closes": ("```\n", "\n# inside\n", "``````  \n"),
    "fence in a list item": ("1. Step:\n    ```\n", "    ~~~\n\n    # inside\n", "    ```\n"),
}


@pytest.mark.parametrize(("opening", "body", "closing"), list(FENCED.values()), ids=list(FENCED))
def test_a_fence_is_one_block_up_to_its_own_closing_line(opening: str, body: str, closing: str) -> None:
    text = f"Before.\n\n{opening}{body}{closing}After the fence.\n\nEnd"
    blocks = blocks_of(text)
    fenced = next(b for b in blocks if opening.strip() in b)
    assert fenced.endswith(opening + body + closing)
    assert "After the fence." in blocks[blocks.index(fenced) + 1]
    assert "".join(blocks) == text


@pytest.mark.parametrize(
    "line",
    ["    ```", "``", "~~", "```` x", "~~~~~~ trailing"],
    ids=[
        "four-space indent after top-level fence",
        "two backticks",
        "two tildes",
        "info string",
        "tilde info",
    ],
)
def test_lines_that_do_not_close_a_top_level_fence(line: str) -> None:
    text = f"```\ncode\n{line}\n\nstill code\n```\nafter\n\n"
    assert blocks_of(text)[0] == "```\ncode\n" + line + "\n\nstill code\n```\n"


def test_backticks_in_a_backtick_info_string_open_no_fence() -> None:
    """ "```a`b" is inline code in a paragraph, so the blank line after it ends a block."""
    assert blocks_of("```a`b\n\nnext\n\n")[0] == "```a`b\n\n"


def test_the_stream_prints_a_fence_with_a_tilde_line_as_one_code_block() -> None:
    sink = io.StringIO()
    console = Console(file=sink, width=60, force_terminal=False, color_system=None)
    stream = MarkdownStream(console, clock=lambda: 0.0)
    reply = "Try this:\n\n```\n~~~\n\n# not a heading\n```\n\nDone.\n"
    for start in range(0, len(reply), 4):
        stream.feed(reply[start : start + 4])
    stream.close()
    # Inside the code block the line is printed as written; split early, it would become a heading.
    assert "# not a heading" in sink.getvalue()
    assert (
        sink.getvalue().index("~~~")
        < sink.getvalue().index("# not a heading")
        < sink.getvalue().index("Done.")
    )


class FakeTimers:
    """A clock that moves only when told, and timers that fire only when it passes their time."""

    def __init__(self) -> None:
        self.now = 0.0
        self.timers: list[tuple[float, Callable[[], None], list[bool]]] = []

    def clock(self) -> float:
        return self.now

    def schedule(self, delay: float, action: Callable[[], None]) -> FakeTimer:
        cancelled = [False]
        self.timers.append((self.now + delay, action, cancelled))
        return FakeTimer(cancelled)

    def advance(self, seconds: float) -> None:
        self.now += seconds
        due = [t for t in self.timers if t[0] <= self.now]
        self.timers = [t for t in self.timers if t[0] > self.now]
        for _, action, cancelled in due:
            if not cancelled[0]:
                action()

    def live(self) -> int:
        return sum(not cancelled[0] for _, _, cancelled in self.timers)


class FakeTimer:
    def __init__(self, cancelled: list[bool]) -> None:
        self.cancelled = cancelled

    def cancel(self) -> None:
        self.cancelled[0] = True


def terminal() -> tuple[Console, io.StringIO]:
    sink = io.StringIO()
    return Console(file=sink, width=60, force_terminal=True, color_system=None), sink


def test_a_piece_held_back_by_the_throttle_is_drawn_when_the_interval_passes() -> None:
    console, sink = terminal()
    timers = FakeTimers()
    stream = MarkdownStream(console, clock=timers.clock, schedule=timers.schedule)
    stream.feed("The first")
    assert "The first" in sink.getvalue()
    timers.advance(REFRESH_SECONDS / 2)
    stream.feed(" words, then the model stalls")
    assert "stalls" not in sink.getvalue()  # within the interval: held back, not drawn yet
    assert timers.live() == 1
    stream.feed(" for a while")
    assert timers.live() == 1  # one pending refresh covers every held-back piece
    timers.advance(REFRESH_SECONDS / 2)  # no further piece arrives
    assert "stalls for a while" in sink.getvalue()
    assert timers.live() == 0
    stream.close()


def test_close_draws_everything_and_cancels_the_pending_refresh() -> None:
    console, sink = terminal()
    timers = FakeTimers()
    stream = MarkdownStream(console, clock=timers.clock, schedule=timers.schedule)
    stream.feed("Start")
    stream.feed(" and the last words")
    assert "last words" not in sink.getvalue()
    stream.close()
    assert "Start and the last words" in sink.getvalue()
    assert timers.live() == 0
    printed = sink.getvalue()
    stream.tick()  # a timer that fired just as the stream closed draws nothing more
    assert sink.getvalue() == printed


def test_the_default_timer_draws_a_stalled_tail_without_another_piece() -> None:
    console, sink = terminal()
    fired = threading.Event()

    def schedule(delay: float, action: Callable[[], None]) -> Cancellable:
        def run() -> None:
            action()
            fired.set()

        return background_timer(delay, run)

    times = iter([0.0, 0.0])  # both pieces in one interval; the timer finds the interval passed
    stream = MarkdownStream(console, clock=lambda: next(times, 1.0), schedule=schedule)
    stream.feed("Thinking")
    stream.feed(" about it")
    assert fired.wait(timeout=30), "the deferred refresh never ran"
    assert "Thinking about it" in sink.getvalue()
    stream.close()
