"""CPU cost of showing a streamed Markdown reply on a terminal, against writing the chunks plainly.

The reply is a long, typical coaching answer (headings, paragraphs with emphasis and inline code,
bullet and numbered lists, a table, fenced code) cut into 4,000 token-sized chunks. Chunks arrive
on a simulated clock at a model's pace (80 chunks per second), so time-based throttling behaves as
it does in a real session, but the benchmark does not have to sleep through a minute of streaming.
"""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable
from typing import Any

CHUNKS = 4000
CHUNKS_PER_SECOND = 80.0
WIDTH = 100
HEIGHT = 40

_SECTION = """\
## Week {n}: building the base

Your **aerobic base** is the foundation for everything else this block. Keep most runs at an *easy,
conversational* effort: if you cannot speak in full sentences, slow down. Log each session with
`coach facts add` when something changes, so I can adjust the plan.

1. **Monday**: rest, or 20 minutes of mobility work.
2. **Tuesday**: 45 minutes easy, with 6 × 20 s strides at the end.
3. **Wednesday**: strength, focusing on *single-leg* stability.
4. **Thursday**: 50 minutes with 3 × 8 minutes at threshold.

- Sleep at least **7.5 hours**; it matters more than any single workout.
- Eat a carbohydrate-rich snack within 30 minutes after the harder sessions.
- If your resting heart rate is up by more than 5 beats, swap the hard day for an easy one.

| Day | Session | Minutes | Effort |
| --- | --- | --- | --- |
| Tue | Easy + strides | 45 | 3/10 |
| Thu | Threshold | 50 | 7/10 |
| Sat | Long run | 90 | 4/10 |

```python
def weekly_load(sessions):
    \"\"\"Minutes times effort, summed over the week.\"\"\"
    return sum(s.minutes * s.effort for s in sessions)


def ramp_ok(previous, current, limit=0.1):
    return current <= previous * (1 + limit)
```

> A plan is only as good as the recovery behind it. Check in after the long run and tell me how
> your legs feel; we will adjust the next week from there.

"""

_TOKEN = re.compile(r"\n|[ \t]*[^\s]{1,5}|[ \t]+")


def reply_chunks(count: int = CHUNKS) -> list[str]:
    """`count` chunks of a Markdown reply, token-sized (about four characters, like a model's)."""
    chunks: list[str] = []
    n = 1
    while len(chunks) < count:
        chunks.extend(_TOKEN.findall(_SECTION.format(n=n)))
        n += 1
    return chunks[:count]


class SimulatedClock:
    """time.monotonic stand-in: advances one chunk interval per tick()."""

    def __init__(self, rate: float = CHUNKS_PER_SECOND) -> None:
        self.now = 1000.0
        self.step = 1.0 / rate

    def tick(self) -> None:
        self.now += self.step

    def monotonic(self) -> float:
        return self.now


def _sink() -> io.TextIOWrapper:
    """A terminal-like sink: a text stream on /dev/null, line-buffered like a tty's stdout."""
    return open(os.devnull, "w", encoding="utf-8", buffering=1)


def plain_cpu(chunks: list[str]) -> float:
    """What `coach chat` does off a terminal (and most LLM CLIs on one): write and flush each chunk."""
    sink = _sink()
    try:
        start = time.process_time()
        for piece in chunks:
            sink.write(piece)
            sink.flush()
        sink.write("\n")
        sink.flush()
        return time.process_time() - start
    finally:
        sink.close()


def terminal_console(sink: Any) -> Any:
    from rich.console import Console

    return Console(
        file=sink,
        force_terminal=True,
        force_interactive=True,
        width=WIDTH,
        height=HEIGHT,
        color_system="256",
        legacy_windows=False,
    )


def markdown_cpu(
    chunks: list[str],
    make_stream: Callable[[Any, SimulatedClock], Any] | None = None,
    *,
    rate: float = CHUNKS_PER_SECOND,
) -> float:
    """MarkdownStream on a terminal Console, chunks arriving on the simulated clock."""
    sink = _sink()
    clock = SimulatedClock(rate)
    try:
        console = terminal_console(sink)
        stream = (make_stream or _default_stream)(console, clock)
        start = time.process_time()
        for piece in chunks:
            clock.tick()
            stream.feed(piece)
        stream.close()
        return time.process_time() - start
    finally:
        sink.close()


def single_render_cpu(chunks: list[str]) -> float:
    """Lower bound of any Rich Markdown display: render the finished reply once, no streaming."""
    from rich.markdown import Markdown

    sink = _sink()
    try:
        console = terminal_console(sink)
        text = "".join(chunks)
        start = time.process_time()
        console.print(Markdown(text))
        return time.process_time() - start
    finally:
        sink.close()


def _default_stream(console: Any, clock: SimulatedClock) -> Any:
    from coachcli.cli import markdown_stream

    try:
        return markdown_stream.MarkdownStream(console, clock=clock.monotonic)
    except TypeError:  # a MarkdownStream without an injectable clock: patch the module's time
        markdown_stream.time = clock  # type: ignore[assignment]
        return markdown_stream.MarkdownStream(console)
