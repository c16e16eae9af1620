"""The non-model commands through the CLI: help, tasks, facts, agents, reset, --user, --json, errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from coachcli import __version__
from coachcli.coaching import conversations as conv_svc
from coachcli.coaching.dispatch import lifecycle as disp_svc
from coachcli.coaching.facts import add_fact
from coachcli.coaching.memories import add_note
from coachcli.coaching.messages import append_message
from coachcli.coaching.users import get_or_create_user
from coachcli.llm.types import Completion
from coachcli.store.models import Conversation

REPO = Path(__file__).resolve().parent.parent
TASK_KEYS = ["id", "title", "agent", "created_at", "updated_at"]
FACT_KEYS = ["id", "text", "source", "created_at"]
AGENT_KEYS = ["name", "display_name", "description", "model", "builtin"]


def one_document(run) -> object:
    """stdout must hold exactly one JSON document (json.loads refuses trailing data)."""
    assert run.exit_code == 0, run.stderr
    return json.loads(run.stdout)


def assert_error(run, code: int, *needles: str) -> None:
    """An error is one `Error:` line on stderr with the documented exit code, and no traceback."""
    assert run.exit_code == code, (run.stdout, run.stderr)
    assert run.stderr.startswith("Error: ")
    assert run.stderr.count("\n") == 1, run.stderr
    assert "Traceback" not in run.stderr + run.stdout
    for needle in needles:
        assert needle in run.stderr


def _thread(session, user, coaching, *, agent: str | None, task: str, at: datetime) -> str:
    """A task thread the way the services write it: via a dispatch when an agent ran it."""
    if agent is None:
        thread = conv_svc.create_conversation(
            session, user, type="task", parent_id=coaching.id, mode="task", title=task
        )
        thread_id = thread.id
    else:
        dispatch = disp_svc.create_dispatch(
            session, user, agent=agent, task=task, proposed_by="operator", status="approved"
        )
        assert disp_svc.claim(session, dispatch)
        done = Completion(content=f"Result for {task}", model="openai/m")
        thread_id = disp_svc.succeed(
            session, user, dispatch, agent_display_name=agent.title(), completion=done
        )
    thread = session.get(Conversation, thread_id)
    thread.created_at = thread.updated_at = at
    session.add(thread)
    return thread_id


@pytest.fixture
def threads(store) -> list[str]:
    """Three task threads for the default user, oldest first."""
    base = datetime(2024, 6, 1, 9, tzinfo=UTC)
    with store.write() as session:
        user = get_or_create_user(session, "tester")
        coaching = conv_svc.get_or_create_coaching(session, user)
        return [
            _thread(session, user, coaching, agent="planner", task="Plan a 5k", at=base),
            _thread(session, user, coaching, agent=None, task="Manual thread", at=base + timedelta(hours=1)),
            _thread(
                session, user, coaching, agent="writer", task="Write a note", at=base + timedelta(hours=2)
            ),
        ]


# --- entry points ---------------------------------------------------------------------------------------


def test_help_and_version(coach) -> None:
    """The first thing a new user runs must work and list every command group."""
    run = coach("--help")
    assert run.exit_code == 0
    for command in ("chat", "reset", "tasks", "dispatch", "facts", "agents"):
        assert command in run.stdout
    run = coach("--version")
    assert (run.exit_code, run.stdout.strip()) == (0, f"coach {__version__}")
    run = coach()
    assert "Usage" in run.stdout + run.stderr


def test_python_dash_m_works(home: Path) -> None:
    """`python -m coachcli` is documented as equivalent to `coach`."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "coachcli", "--help"], capture_output=True, text=True, env=env, timeout=120
    )
    assert proc.returncode == 0, proc.stderr
    assert "Usage" in proc.stdout and "tasks" in proc.stdout
    assert not home.exists()  # --help must not create the database


# --- tasks ----------------------------------------------------------------------------------------------


def test_tasks_list_empty(coach) -> None:
    """A fresh store lists nothing, as valid JSON a script can consume."""
    assert one_document(coach("tasks", "list", "--json")) == []
    run = coach("tasks", "list")
    assert run.exit_code == 0 and "No task threads" in run.stdout


def test_tasks_list_shape_and_order(coach, threads: list[str]) -> None:
    """The documented shape: exactly these keys, newest first, with the agent that ran it."""
    rows = one_document(coach("tasks", "list", "--json"))
    assert [list(row) for row in rows] == [TASK_KEYS] * 3
    assert [row["id"] for row in rows] == list(reversed(threads))
    assert [row["agent"] for row in rows] == ["writer", None, "planner"]
    assert rows[0]["title"] == "Writer: Write a note"
    assert datetime.fromisoformat(rows[0]["created_at"]) == datetime(2024, 6, 1, 11, tzinfo=UTC)
    limited = one_document(coach("tasks", "list", "--json", "--limit", "1"))
    assert [row["id"] for row in limited] == [threads[-1]]
    human = coach("tasks", "list")
    assert human.exit_code == 0 and threads[0][:8] in human.stdout


def test_a_narrow_terminal_keeps_task_titles_and_agent_descriptions(
    coach, threads: list[str], terminal
) -> None:
    """CREATED, then AGENT give way to the title; MODEL, then DISPLAY NAME to an agent's description."""
    from conftest import plain

    for columns, tasks_header, agents_header in (
        (20, ["ID", "TITLE"], ["NAME", "DESCRIPTION"]),
        (50, ["ID", "AGENT", "TITLE"], ["NAME", "DESCRIPTION"]),
        (60, ["ID", "AGENT", "CREATED", "TITLE"], ["NAME", "DISPLAY", "NAME", "DESCRIPTION"]),
        (120, ["ID", "AGENT", "CREATED", "TITLE"], ["NAME", "DISPLAY", "NAME", "MODEL", "DESCRIPTION"]),
    ):
        terminal(columns)
        tasks = plain(coach("tasks", "list").stdout).splitlines()
        assert tasks[0].split() == tasks_header, tasks
        assert "Writer: Write a note" in " ".join(" ".join(tasks).split())
        agents = plain(coach("agents", "list").stdout).splitlines()
        assert agents[0].split() == agents_header, agents


def test_tasks_show_shape(coach, threads: list[str]) -> None:
    """`tasks show` by unique prefix returns the thread and its messages in order."""
    doc = one_document(coach("tasks", "show", threads[0][:6], "--json"))
    assert list(doc) == ["id", "type", "parent_id", "title", "mode", "created_at", "updated_at", "messages"]
    assert (doc["id"], doc["type"], doc["mode"], doc["title"]) == (
        threads[0],
        "task",
        "task",
        "Planner: Plan a 5k",
    )
    assert doc["parent_id"]
    assert [list(m) for m in doc["messages"]] == [["role", "content", "created_at"]] * 2
    assert [(m["role"], m["content"]) for m in doc["messages"]] == [
        ("user", "Task: Plan a 5k"),
        ("assistant", "Result for Plan a 5k"),
    ]
    assert datetime.fromisoformat(doc["messages"][0]["created_at"]).utcoffset() == timedelta(0)
    human = coach("tasks", "show", threads[0].upper())
    assert human.exit_code == 0 and "Result for Plan a 5k" in human.stdout


def test_tasks_show_errors(coach, store, threads: list[str]) -> None:
    """Unknown is exit 1, malformed or ambiguous input exit 2; never the coaching conversation."""
    assert_error(coach("tasks", "show", "00000000"), 1, "'00000000'", "list")
    assert_error(coach("tasks", "show", "not-an-id!"), 2)
    assert_error(coach("tasks", "show", "zzzz"), 2)
    with store.write() as session:
        user = get_or_create_user(session, "tester")
        coaching = conv_svc.get_or_create_coaching(session, user)
        for suffix in ("1", "2"):
            session.add(
                Conversation(
                    id=f"abcdef0{suffix}-0000-4000-8000-000000000000",
                    user_id=user.id,
                    type="task",
                    parent_id=coaching.id,
                )
            )
        coaching_id = coaching.id
    assert_error(coach("tasks", "show", "abcdef0"), 2, "abcdef01", "abcdef02")
    assert one_document(coach("tasks", "show", "abcdef02", "--json"))["id"].startswith("abcdef02")
    assert_error(coach("tasks", "show", coaching_id), 1)  # a coaching conversation is not a task thread
    assert_error(coach("--user", "nobody", "tasks", "show", threads[0]), 1)  # another user's thread


# --- facts and agents -----------------------------------------------------------------------------------


def test_facts_add_list_rm(coach) -> None:
    """Facts round-trip through the CLI with the documented shapes; a restatement merges into the
    fact it restates and keeps its wording."""
    assert one_document(coach("facts", "list", "--json")) == []
    added = one_document(coach("facts", "add", "Prefers morning workouts", "--json"))
    assert list(added) == FACT_KEYS
    assert (added["text"], added["source"]) == ("Prefers morning workouts", "manual")
    again = one_document(coach("facts", "add", "prefers morning workouts.", "--json"))
    assert again["id"] == added["id"]
    one_document(coach("facts", "add", "Has a bad left knee", "--json"))
    listed = one_document(coach("facts", "list", "--json"))
    assert [list(f) for f in listed] == [FACT_KEYS] * 2
    assert [f["text"] for f in listed] == ["Prefers morning workouts", "Has a bad left knee"]
    removed = one_document(coach("facts", "rm", added["id"][:8], "--json"))
    assert removed["removed"]["id"] == added["id"]
    assert [f["text"] for f in one_document(coach("facts", "list", "--json"))] == ["Has a bad left knee"]
    human = coach("facts", "list")
    assert human.exit_code == 0 and "Has a bad left knee" in human.stdout


def test_facts_errors(coach) -> None:
    """Empty facts are bad input (2); removing an unknown fact is not found (1)."""
    assert_error(coach("facts", "add", "   "), 2, "empty")
    assert_error(coach("facts", "rm", "0000"), 1)
    assert_error(coach("facts", "rm", "xyz!"), 2)
    assert one_document(coach("facts", "list", "--json")) == []


def test_agents_list_and_show(coach) -> None:
    """Built-in specialists are visible with the documented keys; show includes the prompt."""
    agents = one_document(coach("agents", "list", "--json"))
    assert [list(a) for a in agents] == [AGENT_KEYS] * 4
    assert [(a["name"], a["display_name"], a["builtin"]) for a in agents] == [
        ("planner", "Planner", True),
        ("researcher", "Researcher", True),
        ("writer", "Writer", True),
        ("reviewer", "Reviewer", True),
    ]
    run = coach("agents", "show", "planner")
    assert run.exit_code == 0
    assert "Planner" in run.stdout and "You are the Planner" in run.stdout
    doc = one_document(coach("agents", "show", "planner", "--json"))
    assert doc["name"] == "planner" and doc["system_prompt"].startswith("You are the Planner")
    assert_error(coach("agents", "show", "nutritionist"), 1, "planner")
    human = coach("agents", "list")
    assert human.exit_code == 0 and "researcher" in human.stdout


def test_agents_add_and_rm(coach) -> None:
    """User agents appear in the list; built-ins are protected; bad names are usage errors."""
    added = one_document(
        coach(
            "agents", "add", "nutritionist", "--display-name", "Nutritionist",
            "--description", "Plans meals", "--prompt", "You plan meals.", "--json",
        )
    )  # fmt: skip
    assert list(added) == AGENT_KEYS and added["builtin"] is False
    names = [a["name"] for a in one_document(coach("agents", "list", "--json"))]
    assert names == ["planner", "researcher", "writer", "reviewer", "nutritionist"]
    assert_error(coach("agents", "rm", "planner"), 1, "built-in")
    assert_error(
        coach("agents", "add", "Bad Name", "--display-name", "X", "--description", "d", "--prompt", "p"), 2
    )
    assert_error(coach("agents", "add", "x-y", "--display-name", "X", "--description", "d"), 2, "--prompt")
    assert one_document(coach("agents", "rm", "nutritionist", "--json")) == {"removed": "nutritionist"}
    assert len(one_document(coach("agents", "list", "--json"))) == 4


# --- reset ----------------------------------------------------------------------------------------------


def _conversation_with_history(store, handle: str = "tester") -> str:
    with store.write() as session:
        user = get_or_create_user(session, handle)
        coaching = conv_svc.get_or_create_coaching(session, user)
        append_message(session, coaching.id, "user", "hello")
        append_message(session, coaching.id, "assistant", "hi there")
        add_note(session, user, coaching.id, "likes running")
        add_fact(session, user, "Runs on Mondays")
        return coaching.id


def _message_count(store, conversation_id: str) -> int:
    from coachcli.coaching.messages import list_messages

    with store.read_session() as session:
        return len(list_messages(session, conversation_id))


def test_reset_json_shape(coach, store) -> None:
    """Reset reports exactly what it cleared; facts are kept and counted."""
    coaching_id = _conversation_with_history(store)
    doc = one_document(coach("reset", "--yes", "--json"))
    assert doc == {
        "success": True,
        "conversation_id": coaching_id,
        "messages_cleared": 2,
        "memories_deleted": 1,
        "facts_kept": 1,
    }
    assert list(doc) == ["success", "conversation_id", "messages_cleared", "memories_deleted", "facts_kept"]
    assert _message_count(store, coaching_id) == 0
    assert len(one_document(coach("facts", "list", "--json"))) == 1
    human = coach("reset", "-y")
    assert human.exit_code == 0 and "0 messages cleared" in human.stdout


def test_reset_without_yes_off_a_terminal_changes_nothing(coach, store) -> None:
    """A script that forgets --yes must not wipe the conversation."""
    coaching_id = _conversation_with_history(store)
    assert_error(coach("reset", input="y\n"), 2, "--yes")
    assert_error(coach("reset", "--json"), 2)
    assert _message_count(store, coaching_id) == 2


def test_reset_on_a_fresh_store(coach) -> None:
    """Resetting before any chat is not an error: there is simply nothing to clear."""
    doc = one_document(coach("reset", "--yes", "--json"))
    assert (doc["success"], doc["messages_cleared"], doc["memories_deleted"], doc["facts_kept"]) == (
        True,
        0,
        0,
        0,
    )


# --- users ----------------------------------------------------------------------------------------------


BAD_HANDLES = ["", " ", "../x", "a" * 100, "a b", "-rf", "x/y", "planner\n", "bob\n"]
# An empty COACH_USER means "not set" (the default user), so the environment gets the others.
HANDLE_CASES = [(flag, bad) for flag in ("--user", "-u") for bad in BAD_HANDLES]
HANDLE_CASES += [("COACH_USER", bad) for bad in BAD_HANDLES if bad.strip()]


@pytest.mark.parametrize(("source", "bad"), HANDLE_CASES, ids=[f"{s} {b!r}" for s, b in HANDLE_CASES])
def test_bad_user_handles_are_refused(coach, monkeypatch, source: str, bad: str) -> None:
    """A handle names a user in the database: odd ones are refused with exit 2 before any work,
    from the flag or the environment alike, and nothing is created."""
    with monkeypatch.context() as env:
        given: tuple[str, ...] = (source, bad)
        if source == "COACH_USER":
            env.setenv("COACH_USER", bad)
            given = ()
        assert_error(coach(*given, "facts", "add", "something"), 2)
        assert_error(coach(*given, "facts", "list", "--json"), 2)
    assert one_document(coach("facts", "list", "--json")) == []


def test_users_are_separate(coach, store) -> None:
    """Two users on one database never see each other's facts, threads or conversation."""
    alice_coaching = _conversation_with_history(store, "alice")
    assert one_document(coach("-u", "alice", "facts", "add", "Alice fact", "--json"))["text"] == "Alice fact"
    assert [f["text"] for f in one_document(coach("-u", "bob", "facts", "list", "--json"))] == []
    assert one_document(coach("-u", "bob", "tasks", "list", "--json")) == []
    bob_reset = one_document(coach("-u", "bob", "reset", "--yes", "--json"))
    assert bob_reset["conversation_id"] != alice_coaching
    assert _message_count(store, alice_coaching) == 2
    alice_facts = [f["text"] for f in one_document(coach("--user", "alice", "facts", "list", "--json"))]
    assert alice_facts == ["Runs on Mondays", "Alice fact"]


# --- every --json output, and errors --------------------------------------------------------------------


JSON_COMMANDS = [
    ("tasks", "list", "--json"),
    ("facts", "list", "--json"),
    ("facts", "add", "Likes tea", "--json"),
    ("agents", "list", "--json"),
    ("agents", "show", "writer", "--json"),
    ("reset", "--yes", "--json"),
    ("tasks", "show", "{thread}", "--json"),
]


@pytest.mark.parametrize("args", JSON_COMMANDS, ids=[" ".join(a[:2]) for a in JSON_COMMANDS])
def test_json_output_is_one_document(coach, threads: list[str], args: tuple[str, ...]) -> None:
    """Scripts pipe --json into jq: nothing but one JSON document may reach stdout."""
    run = coach(*(threads[-1] if arg == "{thread}" else arg for arg in args))
    assert run.exit_code == 0, run.stderr
    decoder = json.JSONDecoder()
    document, end = decoder.raw_decode(run.stdout)
    assert run.stdout[end:].strip() == ""
    assert isinstance(document, list | dict)
    assert "Traceback" not in run.stderr


ERRORS = [
    (("tasks", "show", "ffffffff"), 1),
    (("tasks", "show", "!!"), 2),
    (("tasks", "nope"), 2),
    (("facts", "rm", "ffff"), 1),
    (("facts", "add", ""), 2),
    (("agents", "show", "ghost"), 1),
    (("agents", "rm", "writer"), 1),
    (("tasks", "list", "--limit", "0"), 2),
    (("tasks", "list", "--bogus"), 2),
    (("reset",), 2),
    (("--user", "../x", "tasks", "list"), 2),
    (("--db", "notaurl://", "tasks", "list"), 2),
    (("--db", "not a url", "facts", "list"), 2),
]


@pytest.mark.parametrize("args,code", ERRORS, ids=[" ".join(a) for a, _ in ERRORS])
def test_errors_are_one_line_without_traceback(coach, args: tuple[str, ...], code: int) -> None:
    """Every failure is a single actionable line with the documented exit code."""
    assert_error(coach(*args), code)
