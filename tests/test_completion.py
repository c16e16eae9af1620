"""Shell completion (issue 14 §2), driven as the shells drive it: `_COACH_COMPLETE` plus the words
typed so far in environment variables. Values come from the store (the user's own rows, in a state
the command accepts); a missing or locked database answers nothing, silently; a Tab press never
imports litellm, Alembic or Rich's Markdown."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from coachcli.cli.app import app
from coachcli.store.engine import BUSY_TIMEOUT_SECONDS
from coachcli.store.models import Agent, Conversation, Dispatch, Goal, Memory, User, UserFact
from coachcli.store.peek import LOCK_WAIT_SECONDS
from coachcli.store.types import utcnow

IDS = {  # fixed ids: a prefix picks exactly one
    "thread": "7a000000-0000-4000-8000-000000000001",
    "thread2": "7b000000-0000-4000-8000-000000000002",
    "proposed": "d1000000-0000-4000-8000-000000000001",
    "failed": "d2000000-0000-4000-8000-000000000002",
    "succeeded": "d3000000-0000-4000-8000-000000000003",
    "fact": "fa000000-0000-4000-8000-000000000001",
    "goal_active": "90000000-0000-4000-8000-000000000001",
    "goal_done": "91000000-0000-4000-8000-000000000002",
    "note": "70000000-0000-4000-8000-000000000001",
    "other_thread": "7c000000-0000-4000-8000-000000000003",
}


def bash(*words: str, env: dict[str, str] | None = None) -> tuple[int, list[str], str]:
    """What bash gets for `coach WORDS…<Tab>` (the last word is the one being completed)."""
    line = ["coach", *words]
    result = CliRunner().invoke(
        app,
        [],
        prog_name="coach",
        env={
            "_COACH_COMPLETE": "complete_bash",
            "COMP_WORDS": " ".join(line),
            "COMP_CWORD": str(len(line) - 1),
            **(env or {}),
        },
    )
    values = [line for line in result.stdout.splitlines() if line]  # Typer's bash: one value a line
    return result.exit_code, values, result.stderr


@pytest.fixture
def seeded(store: Any) -> Any:
    """The tester's rows in every state, and another user's task thread that must never show."""
    with store.write() as session:
        me, other = User(handle="tester"), User(handle="other")
        session.add_all([me, other])
        session.flush()
        coaching = Conversation(user_id=me.id, type="coaching")
        theirs = Conversation(user_id=other.id, type="coaching")
        session.add_all([coaching, theirs])
        session.flush()
        session.add_all(
            [
                Conversation(
                    id=IDS["thread"],
                    user_id=me.id,
                    type="task",
                    parent_id=coaching.id,
                    title="Planner: a plan",
                ),
                Conversation(
                    id=IDS["thread2"],
                    user_id=me.id,
                    type="task",
                    parent_id=coaching.id,
                    title="Writer: a note",
                    created_at=utcnow() + timedelta(seconds=1),  # the newer one
                ),
                Conversation(
                    id=IDS["other_thread"], user_id=other.id, type="task", parent_id=theirs.id, title="x"
                ),
                UserFact(id=IDS["fact"], user_id=me.id, text="Likes tea", normalized="likes tea"),
                Goal(id=IDS["goal_active"], user_id=me.id, title="Run a 10k"),
                Goal(id=IDS["goal_done"], user_id=me.id, title="Walk daily", status="done"),
                Memory(
                    id=IDS["note"], user_id=me.id, conversation_id=coaching.id, content="Prefers mornings"
                ),
                Agent(
                    name="nutritionist", display_name="Nutritionist", description="Meals", system_prompt="x"
                ),
            ]
        )
        for key, status in (("proposed", "proposed"), ("failed", "failed"), ("succeeded", "succeeded")):
            session.add(
                Dispatch(
                    id=IDS[key],
                    user_id=me.id,
                    conversation_id=coaching.id,
                    agent="planner",
                    task=f"a {status} task",
                    status=status,
                    proposed_by="coach",
                )
            )
    return store


def test_values_from_the_store(seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_USER", "tester")
    assert bash("tasks", "show", "")[1] == [IDS["thread2"], IDS["thread"]]  # newest first, mine only
    assert bash("tasks", "show", "7a")[1] == [IDS["thread"]]
    assert bash("dispatches", "approve", "")[1] == [IDS["proposed"]]
    assert bash("dispatches", "reject", "")[1] == [IDS["proposed"]]
    assert bash("dispatches", "retry", "")[1] == [IDS["failed"]]
    assert bash("facts", "rm", "")[1] == [IDS["fact"]]
    assert bash("facts", "edit", "")[1] == [IDS["fact"]]
    assert bash("goals", "done", "")[1] == [IDS["goal_active"]]
    assert bash("goals", "reopen", "")[1] == [IDS["goal_done"]]
    assert sorted(bash("goals", "show", "")[1]) == [IDS["goal_active"], IDS["goal_done"]]
    assert bash("log", "Ran", "--goal", "")[1] == [IDS["goal_active"]]
    assert bash("memory", "rm", "")[1] == [IDS["note"]]
    assert bash("agents", "rm", "")[1] == ["nutritionist"]  # built-in agents cannot be removed
    agents = bash("dispatch", "plan", "--agent", "")[1]
    assert "nutritionist" in agents and "planner" in agents and "reviewer" in agents
    assert bash("agents", "show", "re")[1] == ["researcher", "reviewer"]
    assert bash("config", "set", "mo")[1] == ["model", "monthly_budget_usd"]
    assert bash("config", "unset", "checkin")[1] == ["checkin_every"]
    assert bash("ta")[1] == ["tasks"]  # command names, as before


def test_another_user_sees_their_own(seeded: Any) -> None:
    assert bash("--user", "other", "tasks", "show", "")[1] == [IDS["other_thread"]]
    assert bash("--user", "nobody", "tasks", "show", "")[1] == []


def test_zsh_and_fish_carry_the_title_as_help(seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_USER", "tester")
    runner = CliRunner()
    zsh = runner.invoke(
        app,
        [],
        prog_name="coach",
        env={"_COACH_COMPLETE": "complete_zsh", "_TYPER_COMPLETE_ARGS": "coach tasks show 7a"},
    )
    assert zsh.exit_code == 0
    assert zsh.stdout.strip() == f'_arguments \'*: :(("{IDS["thread"]}":"Planner\\\\: a plan"))\''
    fish = runner.invoke(
        app,
        [],
        prog_name="coach",
        env={
            "_COACH_COMPLETE": "complete_fish",
            "_TYPER_COMPLETE_ARGS": "coach goals done ",
            "_TYPER_COMPLETE_FISH_ACTION": "get-args",
        },
    )
    assert fish.stdout.strip() == f"{IDS['goal_active']}\tRun a 10k"


def test_missing_database_answers_nothing_and_creates_nothing(home: Path, database: str | None) -> None:
    code, values, stderr = bash("tasks", "show", "")
    assert (code, values, stderr) == (0, [], "")
    if database is None:
        assert not any(home.rglob("*.db"))  # a Tab press never creates the store


@pytest.mark.sqlite_only
def test_locked_database_answers_nothing_at_once(seeded: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """Another process holds the database exclusively: the Tab answers nothing, with no error,
    instead of waiting the commands' minute-long busy timeout (its connections wait a fraction of a
    second for the lock, so a Tab press never stalls the shell)."""
    monkeypatch.setenv("COACH_USER", "tester")
    waits: list[float] = []  # the busy wait of each connection completion opened, as it closed

    class Recording(sqlite3.Connection):
        def close(self) -> None:
            waits.append(self.execute("PRAGMA busy_timeout").fetchone()[0] / 1000)
            super().close()

    connect = sqlite3.dbapi2.connect

    def recording_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return connect(*args, **kwargs, factory=Recording)

    monkeypatch.setattr(sqlite3.dbapi2, "connect", recording_connect)
    seeded.dispose()  # no idle connection of ours: the holder takes the file for itself
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sqlite3, sys, time\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)\n"
            "c.execute('PRAGMA locking_mode=EXCLUSIVE'); c.execute('BEGIN EXCLUSIVE')\n"
            "c.execute('UPDATE users SET handle = handle')\n"
            "print('locked', flush=True); sys.stdin.read()\n",
            str(seeded.path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        assert bash("tasks", "show", "") == (0, [], "")
        assert waits, "completion never tried the locked store"
        assert max(waits) <= LOCK_WAIT_SECONDS < BUSY_TIMEOUT_SECONDS
    finally:
        holder.communicate("")
    assert bash("tasks", "show", "")[1] == [IDS["thread2"], IDS["thread"]]  # lock gone: answers again


_PROBE = """
import atexit, json, os, sys
HEAVY = ("litellm", "alembic")
atexit.register(lambda: print(json.dumps(sorted(
    m for m in sys.modules if m.split(".")[0] in HEAVY or m == "rich.markdown")), file=sys.stderr))
from coachcli.cli.app import main
main()
"""


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_a_tab_press_imports_nothing_heavy(seeded: Any, shell: str) -> None:
    """In a fresh interpreter, as the shell runs it: ids on stdout, and no litellm, Alembic or
    Rich's Markdown loaded (zsh carries help texts, which Typer would render with Rich)."""
    env = {**os.environ, "COACH_USER": "tester", "_COACH_COMPLETE": f"complete_{shell}"}
    if shell == "bash":
        env.update(COMP_WORDS="coach tasks show ", COMP_CWORD="3")
    else:
        env.update(_TYPER_COMPLETE_ARGS="coach tasks show ")
    done = subprocess.run(
        [sys.executable, "-c", _PROBE], capture_output=True, text=True, env=env, timeout=120
    )
    assert done.returncode == 0
    assert IDS["thread"] in done.stdout
    assert json.loads(done.stderr.strip().splitlines()[-1]) == []


@pytest.mark.parametrize("shell", ["bash", "zsh", "fish", "powershell"])
def test_show_completion_prints_each_shells_script(shell: str) -> None:
    result = CliRunner().invoke(app, ["--show-completion", shell], prog_name="coach")
    assert result.exit_code == 0
    assert "_COACH_COMPLETE" in result.stdout
    assert f"complete_{'powershell' if shell == 'powershell' else shell}" in result.stdout


def test_show_completion_needs_a_known_shell() -> None:
    result = CliRunner().invoke(app, ["--show-completion", "tcsh"], prog_name="coach")
    assert result.exit_code == 2 and "tcsh" in result.stderr


@pytest.mark.sqlite_only
def test_install_completion_in_bash(tmp_path: Path) -> None:
    """`coach --install-completion` from bash writes the script and sources it from ~/.bashrc."""
    env = {**os.environ, "HOME": str(tmp_path)}
    command = f"{sys.executable} -m coachcli --install-completion; true"  # `; true`: bash stays the parent
    done = subprocess.run(["bash", "-c", command], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "bash completion installed" in done.stdout
    script = tmp_path / ".bash_completions" / "coach.sh"
    assert "_COACH_COMPLETE=complete_bash" in script.read_text()
    assert str(script.name) in (tmp_path / ".bashrc").read_text()
