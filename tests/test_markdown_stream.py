"""MarkdownStream finds finished blocks without splitting a code fence (CommonMark fence rules)."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from coachcli.cli.markdown_stream import BlockFinder, MarkdownStream


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
