"""The `coach chat` REPL driven through a real pseudo-terminal (issue 3).

Why: the REPL is only a REPL on a terminal: readline, Rich's live Markdown, Ctrl-C delivered as
SIGINT and Ctrl-D as end of input can only be exercised by a real `coach` process on a pty.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import MODEL, coaching_messages
from scripted_server import ScriptedServer, text, tool_call

pexpect = pytest.importorskip("pexpect")

COACH = Path(__file__).resolve().parent.parent / ".venv" / "bin" / "coach"
PROMPT = "you> "
MODEL_WAIT = 120  # the first turn waits for litellm's import, slow on a busy machine


@pytest.fixture
def repl(model_env: ScriptedServer, home: Path) -> Iterator[Any]:
    """A `coach chat` process on a pty, pointed at the scripted server and this test's home."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    env.update(TERM="xterm-256color", COLUMNS="120", LINES="40")
    env.pop("NO_COLOR", None)
    child = pexpect.spawn(str(COACH), ["chat"], env=env, encoding="utf-8", timeout=30, dimensions=(40, 120))
    child.logfile_read = io.StringIO()
    try:
        yield child
    finally:
        if child.isalive():
            child.terminate(force=True)


def transcript(child: Any) -> str:
    return child.logfile_read.getvalue()


def expect(child: Any, pattern: str, timeout: float = 30) -> None:
    """Wait for literal text; on failure show what the terminal did print."""
    try:
        child.expect_exact(pattern, timeout=timeout)
    except (pexpect.TIMEOUT, pexpect.EOF) as exc:
        raise AssertionError(f"never saw {pattern!r}; terminal said:\n{transcript(child)[-3000:]}") from exc


def leave(child: Any) -> int:
    """Ctrl-D at the prompt; returns the exit status."""
    child.sendeof()
    child.expect(pexpect.EOF, timeout=30)
    child.close()
    return child.exitstatus


def test_prompt_slash_commands_streamed_turn_ctrl_c_and_ctrl_d(
    repl: Any, model_env: ScriptedServer, coach: Any, store: Any
) -> None:
    """The prompt appears, /help, /facts and /tasks work, a reply streams, Ctrl-C keeps the partial reply and
    returns to the prompt, and Ctrl-D leaves with exit code 0."""
    assert coach("facts", "add", "Prefers morning workouts").exit_code == 0
    expect(repl, PROMPT)

    repl.sendline("/help")
    expect(repl, "/reset")
    expect(repl, "Ctrl-C")
    expect(repl, PROMPT)

    repl.sendline("/facts")
    expect(repl, "Prefers morning workouts")
    expect(repl, PROMPT)

    repl.sendline("/tasks")
    expect(repl, "No task threads yet.")
    expect(repl, PROMPT)

    words = "Good morning! Let's look at your week together and pick one small step. Ready?"
    release = threading.Event()
    # "Good morning! Let's ", then a pause: the first piece is shown at once (later ones may wait
    # for the next refresh, so the test holds after the first).
    model_env.queue(text(words, chunks=5, hold=release, hold_after=1))
    repl.sendline("hello coach")
    expect(repl, "Good morning", timeout=MODEL_WAIT)  # shown while the server holds the rest back
    assert "Ready?" not in transcript(repl)
    release.set()
    expect(repl, "Ready?")
    expect(repl, PROMPT)

    story = " ".join(f"step{i}" for i in range(60))
    model_env.queue(text(story, chunks=20, hold=threading.Event(), hold_after=1))  # never released
    repl.sendline("tell me the long version")
    expect(repl, "step2 ")
    repl.sendintr()
    expect(repl, "interrupted")
    expect(repl, PROMPT)

    repl.sendline("/facts")  # still responsive after the interruption
    expect(repl, "Prefers morning workouts")
    expect(repl, PROMPT)
    assert leave(repl) == 0

    messages = [(m.role, m.status, m.content) for m in coaching_messages(store)]
    assert messages[:3] == [
        ("user", "complete", "hello coach"),
        ("assistant", "complete", words),
        ("user", "complete", "tell me the long version"),
    ]
    assert len(messages) == 4
    role, status, partial = messages[3]
    assert (role, status) == ("assistant", "interrupted")
    assert partial.startswith("step0 step1 step2")
    assert "step3" not in partial  # exactly what was shown before Ctrl-C


def test_proposal_card_approved_runs_the_specialist(
    repl: Any, model_env: ScriptedServer, coach: Any, store: Any
) -> None:
    """The coach proposes a dispatch, the REPL asks "Approve?", y runs the specialist, the task thread
    is saved, and the coach's follow-up reply is shown."""
    task = "Draft a four-week plan to get back into running"
    model_env.queue(
        tool_call("propose_dispatch", {"agent": "planner", "task": task}, call_id="call_plan"),
        text("Week 1: three easy 20-minute runs."),
        text("The plan is ready: shall we start on Monday?"),
    )
    expect(repl, PROMPT)
    repl.sendline("Can you make me a plan?")
    expect(repl, "Approve?", timeout=MODEL_WAIT)
    expect(repl, ": ")
    repl.sendline("y")
    expect(repl, "shall we start on Monday?", timeout=60)
    expect(repl, PROMPT)
    assert leave(repl) == 0

    assert len(model_env.requests) == 3
    assert {r["model"] for r in model_env.requests} == {MODEL.split("/", 1)[1]}
    specialist = model_env.requests[1]["messages"]
    assert specialist[-1]["content"].startswith(f"Task: {task}")
    follow_up = model_env.requests[2]["messages"][-1]
    assert (follow_up["role"], follow_up["tool_call_id"]) == ("tool", "call_plan")
    assert "Week 1: three easy 20-minute runs." in follow_up["content"]

    [thread] = coach("tasks", "list", "--json").json()
    assert thread["agent"] == "planner"
    assert thread["title"] == f"Planner: {task}"
    shown = coach("tasks", "show", thread["id"], "--json").json()
    contents = [m["content"] for m in shown["messages"]]
    assert contents == [f"Task: {task}", "Week 1: three easy 20-minute runs."]
    replies = [m.content for m in coaching_messages(store) if m.role == "assistant"]
    assert replies[-1] == "The plan is ready: shall we start on Monday?"
