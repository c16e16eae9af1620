"""How a coaching turn shows itself: Markdown on a terminal, plain text in a pipe, nothing for --json."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING

from rich.panel import Panel

from coachcli.cli.output import err, out, styled, write_text
from coachcli.coaching.turn_events import Decision, QuietEvents

if TYPE_CHECKING:  # Markdown rendering (markdown-it, Pygments) loads only when a reply is shown on a terminal
    from coachcli.cli.markdown_stream import MarkdownStream
    from coachcli.coaching.dispatch.lifecycle import DispatchOutcome
    from coachcli.store.models import Dispatch

# How a tool's notice looks, by kind (TurnEvents.notice); other kinds print plainly.
NOTICE_STYLES = {"dim": "dim", "goal": "green", "progress": "green", "warning": "yellow"}


class PlainEvents(QuietEvents):
    """Stream raw text to stdout (pipes, NO_COLOR-safe); notices go to stderr."""

    def __init__(self) -> None:
        self.wrote = False

    def text(self, piece: str) -> None:
        write_text(piece)
        sys.stdout.flush()
        self.wrote = True

    def finish(self) -> None:
        if self.wrote:
            sys.stdout.write("\n")
            sys.stdout.flush()
            self.wrote = False

    def notice(self, kind: str, text: str) -> None:
        self.finish()
        err().print(text, style=NOTICE_STYLES.get(kind, ""))

    def fact_saved(self, text: str, created: bool) -> None:
        self.finish()
        err().print(styled(("✓", "green"), f" {'Saved' if created else 'Already known'} fact: {text}"))

    def memory_saved(self, text: str) -> None:
        self.finish()
        err().print(f"✓ Noted: {text}", style="dim")

    def proposal(self, dispatch: Dispatch, display_name: str) -> Decision:
        self.finish()
        short = dispatch.id[:8]
        err().print(
            styled(("Proposed:", "yellow"), f" the {display_name} could do: {dispatch.task}\n"),
            f"  approve: coach dispatches approve {short}   reject: coach dispatches reject {short}",
            sep="",
        )
        return Decision("later")


class NoticeEvents(PlainEvents):
    """For --json: the reply goes into the document; saved facts and proposals still show on stderr."""

    def text(self, piece: str) -> None:
        return None


class TerminalEvents(PlainEvents):
    """Markdown streamed with Rich; the REPL adds approval prompts on top."""

    def __init__(self, ask: Callable[[Dispatch, str], Decision] | None = None) -> None:
        super().__init__()
        self.stream: MarkdownStream | None = None
        self.ask = ask

    def text(self, piece: str) -> None:
        if self.stream is None:
            from coachcli.cli.markdown_stream import MarkdownStream

            self.stream = MarkdownStream(out())
        self.stream.feed(piece)

    def finish(self) -> None:
        if self.stream is not None:
            self.stream.close()
            self.stream = None

    def proposal(self, dispatch: Dispatch, display_name: str) -> Decision:
        if self.ask is None:
            return super().proposal(dispatch, display_name)
        self.finish()
        return self.ask(dispatch, display_name)

    def dispatch_started(self, dispatch: Dispatch) -> Callable[[], None]:
        from rich.status import Status

        self.finish()
        status = Status(f"{dispatch.agent} is working on it…", console=err())
        status.start()
        return status.stop

    def dispatch_finished(self, outcome: DispatchOutcome) -> None:
        thread = (outcome.task_thread_id or "")[:8]
        preview = " ".join((outcome.result or "").split())[:280]
        err().print(
            Panel(
                styled(f"{preview}\n\n", (f"Task thread {thread}", "bold"), f" · coach tasks show {thread}"),
                title=styled(f"{outcome.agent} · {outcome.status}"),
                border_style="green",
            )
        )
