"""The interactive coaching session: prompt at once, litellm loading behind it while the user types."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, TypeVar

from coachcli.cli.output import err, error_line, out, styled
from coachcli.errors import CoachError

if TYPE_CHECKING:  # the coaching turn and its imports load after the prompt is up
    from sqlmodel import Session

    from coachcli.cli.state import AppState
    from coachcli.coaching.turn_events import Decision
    from coachcli.store.models import Dispatch, User

T = TypeVar("T")

HELP = """\
Type a message and press Enter. End a line with \\ to continue on the next one,
or open and close a block with \"\"\" for longer text.

  /help    this help            /tasks   recent task threads
  /facts   your durable facts   /reset   clear this conversation (asks first)
  /memory  the coach's summary and notes of this conversation
  /exit    leave (or Ctrl-D)    Ctrl-C   stop a reply (what was shown is kept)"""

PROMPT = "you> "
CONTINUE = "...> "


def _setup_readline(history: Path) -> ModuleType | None:
    """Line editing and input history, kept private in <home>/history."""
    try:
        import readline
    except ImportError:  # pragma: no cover - Windows without pyreadline
        return None
    with contextlib.suppress(OSError):
        readline.read_history_file(history)
    readline.set_history_length(1000)
    return readline


class Repl:
    def __init__(self, app: AppState) -> None:
        self.app = app
        self.settings = app.settings()
        self.readline: ModuleType | None = None
        self.history = self.settings.home / "history"

    # -- input -------------------------------------------------------------------------

    def read_message(self) -> str:
        line = input(PROMPT)
        if line.strip() == '"""':
            lines: list[str] = []
            while (more := input(CONTINUE)).strip() != '"""':
                lines.append(more)
            return "\n".join(lines)
        parts = [line]
        while parts[-1].endswith("\\"):
            parts[-1] = parts[-1][:-1]
            parts.append(input(CONTINUE))
        return "\n".join(parts)

    def ask(self, dispatch: Dispatch, display_name: str) -> Decision:
        """The approval card: approve, reject, or edit the task first."""
        from rich.panel import Panel

        from coachcli.coaching.turn_events import Decision

        err().print(
            Panel(
                styled(dispatch.task),
                title=styled(f"The coach proposes: {display_name} ({dispatch.agent})"),
                subtitle=styled(f"dispatch {dispatch.id[:8]}"),
                border_style="yellow",
            )
        )
        while True:
            try:
                answer = input("Approve? [y]es / [N]o / [e]dit / [l]ater: ").strip().lower()
            except (EOFError, KeyboardInterrupt):
                sys.stdout.write("\n")
                return Decision("later")
            if answer in ("y", "yes"):
                return Decision("approve")
            if answer in ("", "n", "no"):
                return Decision("reject", reason="declined in chat")
            if answer in ("l", "later"):
                return Decision("later")
            if answer in ("e", "edit"):
                task = self._prefilled("Task: ", dispatch.task)
                if task.strip():
                    return Decision("approve", task=task)

    def _prefilled(self, prompt: str, text: str) -> str:
        if self.readline is None:
            return input(prompt)
        self.readline.set_startup_hook(lambda: self.readline.insert_text(text))
        try:
            return input(prompt)
        finally:
            self.readline.set_startup_hook()

    # -- loop --------------------------------------------------------------------------

    def run(self) -> None:
        from coachcli.llm.keys import likely_missing_key
        from coachcli.llm.worker.route import worker_or_preload

        missing = likely_missing_key(self.settings.model, self.settings.api_base)
        if missing:
            from coachcli.llm.errors import missing_key

            raise missing_key(self.settings.model, missing)
        self.app.store()
        self.readline = _setup_readline(self.history)
        err().print(
            styled(("coach", "bold"), f" · {self.settings.user} · {self.settings.model} · "),
            "/help for commands, Ctrl-D to leave",
            sep="",
        )
        from coachcli.cli.status import show_at_door

        show_at_door(self.app)  # goals, last progress and check-in, proposals, unread check-ins
        # A running model worker (issue 13) has litellm loaded; otherwise it loads here while the
        # user types. Started only now: a thread importing it holds the GIL most of the time, so
        # started earlier it would slow everything up to the prompt.
        worker_or_preload(self.settings)
        try:
            self._loop()
        finally:
            self._save_history()

    def _loop(self) -> None:
        while True:
            try:
                text = self.read_message()
            except EOFError:
                sys.stdout.write("\n")
                return
            except KeyboardInterrupt:
                sys.stdout.write("\n")
                continue
            if not text.strip():
                continue
            if text.strip().startswith("/"):
                if self.slash(text.strip()) == "exit":
                    return
                continue
            self.turn(text)

    def turn(self, text: str) -> None:
        from coachcli.cli.chat_events import TerminalEvents
        from coachcli.cli.turn import report_unsaved, run_turn
        from coachcli.llm.types import ReplyInterrupted

        events = TerminalEvents(ask=self.ask)
        try:
            result = run_turn(self.app, text, events)
            events.finish()
            report_unsaved(result)
        except (ReplyInterrupted, KeyboardInterrupt):
            events.finish()
            err().print("(interrupted: what was shown is saved)", style="dim")
        except CoachError as exc:
            events.finish()
            error_line(str(exc))
        out().print()

    def slash(self, command: str) -> str | None:
        name = command.split()[0].lower()
        if name in ("/exit", "/quit"):
            return "exit"
        if name == "/help":
            err().print(HELP)
        elif name == "/tasks":
            self._show_tasks()
        elif name == "/facts":
            self._show_facts()
        elif name == "/memory":
            self._show_memory()
        elif name == "/reset":
            self._reset()
        else:
            error_line(f"unknown command {name}: type /help for the list.")
        return None

    def _show_tasks(self) -> None:
        from coachcli.cli.output import short_id, when
        from coachcli.coaching.conversations import list_task_threads

        self._show_list(
            lambda session, user: list_task_threads(session, user, limit=10),
            "No task threads yet.",
            lambda row: f"{short_id(row.id)}  {when(row.created_at)}  {row.title or ''}",
        )

    def _show_facts(self) -> None:
        from coachcli.cli.output import short_id
        from coachcli.coaching.facts import list_facts

        self._show_list(list_facts, "No facts yet.", lambda fact: f"{short_id(fact.id)}  {fact.text}")

    def _show_list(
        self, load: Callable[[Session, User], Sequence[T]], empty: str, line: Callable[[T], str]
    ) -> None:
        """The user's rows one a line on stderr, or `empty` (also before the user has a row)."""
        from coachcli.cli.common import reading

        with reading(self.app) as (session, user):
            rows = load(session, user) if user else []
        if not rows:
            err().print(empty)
        for row in rows:
            err().print(line(row))

    def _show_memory(self) -> None:
        from coachcli.cli.common import reading
        from coachcli.cli.memory import render_memory
        from coachcli.coaching.memories import MemoryView, view_memory

        with reading(self.app) as (session, user):
            view = view_memory(session, user) if user else MemoryView(None, None, None, [])
        render_memory(view, err())

    def _reset(self) -> None:
        from coachcli.cli.reset import do_reset

        try:
            answer = input("Clear this conversation and its memories? Facts are kept. [y/N]: ")
        except (EOFError, KeyboardInterrupt):
            answer = ""
        if answer.strip().lower() not in ("y", "yes"):
            err().print("Nothing was reset.")
            return
        result = do_reset(self.app)
        err().print(
            f"Reset: {result['messages_cleared']} messages cleared, "
            f"{result['memories_deleted']} memories deleted, {result['facts_kept']} facts kept."
        )

    def _save_history(self) -> None:
        if self.readline is None:
            return
        with contextlib.suppress(OSError):
            self.history.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            self.readline.write_history_file(self.history)
            os.chmod(self.history, 0o600)
