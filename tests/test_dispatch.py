"""`coach dispatch` end to end against the scripted server (issue 2).

Why: a dispatch is the path from an operator's task to a saved task thread; what the specialist is
sent, what is stored, and what a failing provider leaves behind are the contract users rely on.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import MODEL
from scripted_server import ScriptedServer, error, text

from coachcli.coaching.agents import BUILTIN_AGENTS

DISPATCH_KEYS = {"dispatch_id", "status", "agent", "task", "task_thread_id", "result"}
TASK = "Find three beginner strength routines"
RESULT = "## Three routines\n\n1. Starting Strength\n2. StrongLifts 5x5\n3. GZCLP"


def stored_dispatches(store: Any) -> list[Any]:
    """Every dispatch of the test user, newest first, straight from the services."""
    from coachcli.coaching.dispatch.lifecycle import list_dispatches
    from coachcli.coaching.users import find_user

    with store.read_session() as session:
        user = find_user(session, "tester")
        return list_dispatches(session, user) if user else []


def one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("Error:")]
    assert len(errors) == 1, stderr
    assert "Traceback" not in stderr
    return errors[0]


def test_dispatch_with_agent_saves_a_task_thread(coach: Any, model_env: ScriptedServer) -> None:
    """--agent researcher: the specialist gets its prompt, the task and the facts; the thread is saved."""
    assert coach("facts", "add", "Prefers morning workouts").exit_code == 0
    model_env.queue(text(RESULT, input_tokens=50))
    run = coach("dispatch", TASK, "--agent", "researcher", "--json")
    assert run.exit_code == 0, run.stderr
    doc = run.json()
    assert set(doc) == DISPATCH_KEYS
    assert doc["status"] == "succeeded"
    assert doc["agent"] == "researcher"
    assert doc["task"] == TASK
    assert doc["result"] == RESULT
    assert doc["task_thread_id"]

    assert len(model_env.requests) == 1  # no pick: the agent was named
    messages = model_env.requests[0]["messages"]
    assert messages[0] == {"role": "system", "content": BUILTIN_AGENTS["researcher"].system_prompt}
    assert messages[1]["role"] == "user"
    assert messages[1]["content"].startswith(f"Task: {TASK}")
    assert "Prefers morning workouts" in messages[1]["content"]

    listing = coach("tasks", "list", "--json")
    assert listing.exit_code == 0
    rows = listing.json()
    assert [r["id"] for r in rows] == [doc["task_thread_id"]]
    assert rows[0]["agent"] == "researcher"
    assert rows[0]["title"] == f"Researcher: {TASK}"

    shown = coach("tasks", "show", doc["task_thread_id"][:8], "--json")
    assert shown.exit_code == 0
    thread = shown.json()
    assert thread["type"] == "task"
    assert thread["mode"] == "task"
    assert thread["parent_id"]
    assert [(m["role"], m["content"]) for m in thread["messages"]] == [
        ("user", f"Task: {TASK}"),
        ("assistant", RESULT),
    ]


def test_task_thread_parent_is_the_coaching_conversation(
    coach: Any, model_env: ScriptedServer, store: Any
) -> None:
    """The thread hangs under the user's coaching conversation, and the coach gets a note about it."""
    from coachcli.coaching.conversations import find_coaching
    from coachcli.coaching.memories import list_notes
    from coachcli.coaching.users import find_user

    doc = coach("dispatch", TASK, "--agent", "planner", "--json").json()
    thread = coach("tasks", "show", doc["task_thread_id"], "--json").json()
    with store.read_session() as session:
        coaching = find_coaching(session, find_user(session, "tester"))
        assert coaching is not None
        assert thread["parent_id"] == coaching.id
        notes = [n.content for n in list_notes(session, coaching.id)]
    assert any(doc["task_thread_id"][:8] in note for note in notes), notes


def test_long_task_title_is_cut_at_80_characters(coach: Any, model_env: ScriptedServer) -> None:
    """The title is "{display name}: {task[:80]}" while the thread keeps the whole task."""
    task = "Plan a gradual return to running after a calf strain, " * 4
    run = coach("dispatch", task, "--agent", "researcher", "--json")
    assert run.exit_code == 0, run.stderr
    doc = run.json()
    rows = coach("tasks", "list", "--json").json()
    assert rows[0]["title"] == f"Researcher: {task.strip()[:80]}"
    thread = coach("tasks", "show", doc["task_thread_id"], "--json").json()
    assert thread["messages"][0]["content"] == f"Task: {task.strip()}"


def test_without_agent_the_model_picks_and_stderr_says_so(coach: Any, model_env: ScriptedServer) -> None:
    """The model is asked once which specialist fits; its pick runs the task and is announced."""
    model_env.queue(text("writer"), text("Dear team, ..."))
    run = coach("dispatch", "Draft a note to my running club", "--json")
    assert run.exit_code == 0, run.stderr
    doc = run.json()
    assert doc["agent"] == "writer"
    assert doc["result"] == "Dear team, ..."
    assert "writer" in run.stderr
    assert "picked" in run.stderr
    assert len(model_env.requests) == 2
    pick_prompt = json.dumps(model_env.requests[0]["messages"])
    for name in BUILTIN_AGENTS:
        assert name in pick_prompt
    assert model_env.requests[1]["messages"][0]["content"] == BUILTIN_AGENTS["writer"].system_prompt


def test_unusable_pick_falls_back_to_the_planner(coach: Any, model_env: ScriptedServer) -> None:
    """An answer naming no specialist is not an error: the documented default (planner) runs."""
    model_env.queue(text("banana"), text("Week 1: walk"))
    run = coach("dispatch", "Draft a four-week plan to get back into running", "--json")
    assert run.exit_code == 0, run.stderr
    doc = run.json()
    assert doc["agent"] == "planner"
    assert doc["status"] == "succeeded"
    assert "planner" in run.stderr
    assert model_env.requests[1]["messages"][0]["content"] == BUILTIN_AGENTS["planner"].system_prompt


@pytest.mark.parametrize(
    ("failure", "attempts", "words"),
    [(error(500), 3, "server error"), (error(401, "bad key"), 1, "API key")],
    ids=["500-every-time", "401"],
)
def test_provider_failure_records_a_failed_dispatch(
    coach: Any, model_env: ScriptedServer, store: Any, failure: Any, attempts: int, words: str
) -> None:
    """A failing provider: exit 1, one Error line, no task thread, the dispatch kept as failed."""
    model_env.default = failure
    run = coach("dispatch", TASK, "--agent", "researcher")
    assert run.exit_code == 1
    line = one_error_line(run.stderr)
    assert words in line
    assert len(model_env.requests) == attempts
    assert coach("tasks", "list", "--json").json() == []
    [dispatch] = stored_dispatches(store)
    assert dispatch.status == "failed"
    assert dispatch.task_thread_id is None
    assert dispatch.error and words in dispatch.error
    assert dispatch.proposed_by == "operator"


def test_failed_dispatch_with_json_still_prints_one_document(coach: Any, model_env: ScriptedServer) -> None:
    """--json on a failure: stdout stays one JSON document (the failed dispatch), the error on stderr."""
    model_env.default = error(500)
    run = coach("dispatch", TASK, "--agent", "writer", "--json")
    assert run.exit_code == 1
    one_error_line(run.stderr)
    doc = run.json()
    assert set(doc) == DISPATCH_KEYS | {"error"}
    assert doc["status"] == "failed"
    assert doc["task_thread_id"] is None
    assert doc["error"]


def test_failed_dispatch_is_listed(coach: Any, model_env: ScriptedServer) -> None:
    """`coach dispatches list --json` shows the failed run, so the operator can retry it."""
    model_env.default = error(500)
    assert coach("dispatch", TASK, "--agent", "planner").exit_code == 1
    run = coach("dispatches", "list", "--json")
    assert run.exit_code == 0, run.stderr
    [row] = run.json()
    assert row["status"] == "failed"
    assert row["proposed_by"] == "operator"
    assert row["task_thread_id"] is None


def test_unknown_agent_lists_the_known_ones(coach: Any, model_env: ScriptedServer, store: Any) -> None:
    """A misspelt agent is refused before any model call, naming the agents that exist."""
    run = coach("dispatch", TASK, "--agent", "reseacher")
    assert run.exit_code == 1
    line = one_error_line(run.stderr)
    for name in BUILTIN_AGENTS:
        assert name in line
    assert model_env.requests == []
    assert stored_dispatches(store) == []


@pytest.mark.parametrize("task", ["", "   "], ids=["empty", "blank"])
def test_empty_task_is_bad_usage(coach: Any, model_env: ScriptedServer, task: str) -> None:
    """An empty task is invalid input: exit 2 and nothing sent to the model."""
    run = coach("dispatch", task, "--agent", "planner")
    assert run.exit_code == 2
    one_error_line(run.stderr)
    assert model_env.requests == []


def test_json_stdout_is_pure_in_a_fresh_process(model_env: ScriptedServer, home: Path) -> None:
    """A real `coach` process (fresh litellm import, model pick, failure banners) prints only JSON."""
    model_env.queue(text("researcher"), text(RESULT))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST")}
    proc = subprocess.run(
        [sys.executable, "-m", "coachcli", "dispatch", TASK, "--json"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)  # raises on anything before or after the document
    assert set(doc) == DISPATCH_KEYS
    assert doc["agent"] == "researcher"
    assert proc.stdout.strip().startswith("{") and proc.stdout.strip().endswith("}")
    assert model_env.requests[1]["model"] == MODEL.split("/", 1)[1]


def test_failed_pick_prints_its_own_dispatch_not_an_older_one(
    coach: Any, model_env: ScriptedServer, store: Any
) -> None:
    """A failed pick is a failed dispatch of its own: --json prints it, never an older dispatch with
    the same task text, and retry runs it."""
    model_env.queue(text(RESULT))
    older = coach("dispatch", TASK, "--agent", "researcher", "--json").json()
    model_env.queue(error(401, "bad key"))
    run = coach("dispatch", TASK, "--json")
    assert run.exit_code == 1
    one_error_line(run.stderr)
    doc = run.json()
    assert set(doc) == DISPATCH_KEYS | {"error"}
    assert doc["dispatch_id"] != older["dispatch_id"]
    assert doc["status"] == "failed" and "choosing a specialist failed" in doc["error"]
    assert [d.id for d in stored_dispatches(store)] == [doc["dispatch_id"], older["dispatch_id"]]
    model_env.queue(text(RESULT))
    again = coach("dispatches", "retry", doc["dispatch_id"], "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["status"] == "succeeded"


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["dispatch", "   "], 2, "task"),
        (["dispatch", TASK, "--agent", "nobody"], 1, "nobody"),
        (["dispatches", "approve", "abcdef12"], 1, "abcdef12"),
        (["dispatches", "retry", "abcdef12"], 1, "abcdef12"),
    ],
    ids=["empty-task", "unknown-agent", "approve-unknown", "retry-unknown"],
)
def test_json_failure_before_any_dispatch_is_an_error_document(
    coach: Any, model_env: ScriptedServer, args: list[str], code: int, words: str
) -> None:
    """No dispatch exists yet: --json prints {"error": ...} (one document), exit code as without it."""
    run = coach(*args, "--json")
    assert run.exit_code == code
    assert coach(*args).exit_code == code
    one_error_line(run.stderr)
    doc = run.json()
    assert set(doc) == {"error"} and words in doc["error"]
    assert model_env.requests == []
