"""Issue 4: proposals decided by a person, a lifecycle that survives crashes, agents you define."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import plain, wait_for_exits
from scripted_server import ScriptedServer, error, hang, text
from sqlmodel import select

from coachcli.coaching.agents import BUILTIN_AGENTS
from coachcli.coaching.conversations import get_or_create_coaching
from coachcli.coaching.dispatch import lifecycle as dispatches
from coachcli.coaching.users import get_or_create_user
from coachcli.errors import ConflictError
from coachcli.store.models import DISPATCH_STATUSES, Conversation, Dispatch

DISPATCH_SHAPE = {"dispatch_id", "status", "agent", "task", "task_thread_id", "result"}
LIST_SHAPE = {"id", "status", "agent", "task", "proposed_by", "task_thread_id", "created_at"}


def propose(store, task: str = "Draft a four-week running plan", agent: str = "planner") -> str:
    """A proposal as the coach's tool call stores it."""
    with store.session() as session:
        user = get_or_create_user(session, "tester")
        d = dispatches.create_dispatch(
            session, user, agent=agent, task=task, proposed_by="coach", status="proposed"
        )
        session.commit()
        return d.id


def task_threads(store) -> list[Conversation]:
    with store.read_session() as session:
        return list(session.exec(select(Conversation).where(Conversation.type == "task")))


def test_list_shape_and_status_filter(store, coach) -> None:
    """`dispatches list --json` has the documented keys and --status filters."""
    proposed = propose(store)
    rows = coach("dispatches", "list", "--json").json()
    assert [set(r) for r in rows] == [LIST_SHAPE]
    assert rows[0]["id"] == proposed and rows[0]["status"] == "proposed"
    assert rows[0]["proposed_by"] == "coach"
    assert coach("dispatches", "list", "--status", "succeeded", "--json").json() == []
    bad = coach("dispatches", "list", "--status", "nope")
    assert bad.exit_code == 2 and bad.stderr.startswith("Error:")


def test_every_dispatch_command_prints_an_error_document_when_it_fails_before_a_dispatch(
    store, coach, model_env: ScriptedServer
) -> None:
    """Issue 10 #12: with --json a script always gets one JSON document on stdout, also on failure."""
    rejected = propose(store)
    assert coach("dispatches", "reject", rejected).exit_code == 0
    failures = [
        (("dispatches", "approve", "UNKNOWN"), 2, "not a dispatch id"),
        (("dispatches", "retry", "UNKNOWN"), 2, "not a dispatch id"),
        (("dispatches", "reject", "UNKNOWN"), 2, "not a dispatch id"),
        (("dispatches", "approve", "abcdef12"), 1, "abcdef12"),
        (("dispatches", "retry", "abcdef12"), 1, "abcdef12"),
        (("dispatches", "reject", "abcdef12"), 1, "abcdef12"),
        (("dispatches", "reject", rejected), 1, "rejected"),  # not proposed any more
        (("dispatches", "list", "--status", "nope"), 2, "nope"),
        (("dispatch", "a task", "--agent", "nobody"), None, "nobody"),
    ]
    for args, code, words in failures:
        run = coach(*args, "--json")
        assert run.exit_code != 0 and (code is None or run.exit_code == code), (args, run)
        assert run.stderr.startswith("Error:") and run.stderr.count("Error:") == 1, (args, run.stderr)
        assert set(run.json()) == {"error"} and words in run.json()["error"], (args, run.stdout)
    assert model_env.requests == []


def test_a_narrow_terminal_keeps_the_task_and_drops_lesser_columns_first(store, coach, terminal) -> None:
    task = "Draft a four-week running plan for the spring marathon"
    propose(store, task=task)
    for columns, shown in ((20, ["ID", "TASK"]), (60, ["ID", "STATUS", "AGENT", "TASK"]), (120, None)):
        terminal(columns)
        run = coach("dispatches", "list")
        assert run.exit_code == 0, run.stderr
        header, *body = plain(run.stdout).splitlines()
        assert header.split() == (shown or ["ID", "STATUS", "AGENT", "BY", "CREATED", "TASK"]), run.stdout
        assert " ".join(" ".join(body).split()).endswith(task), (columns, run.stdout)
        assert all(len(line.rstrip()) <= columns for line in [header, *body]), run.stdout


def test_approve_runs_once_and_prints_dispatch_shape(store, coach, model_env: ScriptedServer) -> None:
    """Approval runs the specialist, saves the thread; approving again is a clear error."""
    dispatch_id = propose(store)
    model_env.queue(text("Week 1: three easy runs."))
    result = coach("dispatches", "approve", dispatch_id[:6], "--json")
    assert result.exit_code == 0, result.stderr
    doc = result.json()
    assert set(doc) == DISPATCH_SHAPE
    assert doc["status"] == "succeeded" and doc["result"] == "Week 1: three easy runs."
    threads = task_threads(store)
    assert [t.id for t in threads] == [doc["task_thread_id"]]
    assert threads[0].title == "Planner: Draft a four-week running plan"
    again = coach("dispatches", "approve", dispatch_id)
    assert again.exit_code == 1
    assert "already succeeded" in again.stderr and again.stderr.count("\n") == 1
    assert len(model_env.requests) == 1


def test_reject_with_reason_then_cannot_approve(store, coach, model_env: ScriptedServer) -> None:
    """A rejected proposal never runs."""
    dispatch_id = propose(store)
    result = coach("dispatches", "reject", dispatch_id[:8], "--reason", "not now", "--json")
    assert result.exit_code == 0 and result.json()["status"] == "rejected"
    with store.read_session() as session:
        assert session.get(Dispatch, dispatch_id).reason == "not now"
    refused = coach("dispatches", "approve", dispatch_id)
    assert refused.exit_code == 1 and "already rejected" in refused.stderr
    assert model_env.requests == []


def test_retry_only_failed_or_interrupted(store, coach, model_env: ScriptedServer) -> None:
    """A failed run keeps its error and no thread; retry runs it again and succeeds."""
    from scripted_server import error

    model_env.queue(error(401, "bad key"))
    failed = coach("dispatch", "Plan my week", "--agent", "planner", "--json")
    assert failed.exit_code == 1 and "API key" in failed.stderr
    doc = failed.json()
    assert doc["status"] == "failed" and doc["task_thread_id"] is None
    assert task_threads(store) == []
    model_env.queue(text("Monday: rest."))
    retried = coach("dispatches", "retry", doc["dispatch_id"], "--json")
    assert retried.exit_code == 0, retried.stderr
    assert retried.json()["status"] == "succeeded"
    assert len(task_threads(store)) == 1
    again = coach("dispatches", "retry", doc["dispatch_id"])
    assert again.exit_code == 1 and "only failed or interrupted" in again.stderr


def test_dead_runner_is_interrupted_and_retries(store, coach, model_env: ScriptedServer) -> None:
    """A dispatch whose process died mid-run shows as interrupted, then retries cleanly."""
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    dispatch_id = propose(store)
    with store.session() as session:
        d = session.get(Dispatch, dispatch_id)
        dispatches.approve(session, d)
        dispatches.claim(session, d)
        import socket

        d.runner_host, d.runner_pid = socket.gethostname(), dead.pid
        session.add(d)
        session.commit()
    rows = coach("dispatches", "list", "--json").json()
    assert rows[0]["status"] == "interrupted"
    model_env.queue(text("Recovered plan."))
    result = coach("dispatches", "retry", dispatch_id, "--json")
    assert result.exit_code == 0 and result.json()["result"] == "Recovered plan."
    assert len(task_threads(store)) == 1


def test_live_runner_is_not_interrupted(store, coach) -> None:
    """This very process is alive: its running dispatch must not be marked interrupted."""
    dispatch_id = propose(store)
    with store.session() as session:
        d = session.get(Dispatch, dispatch_id)
        dispatches.approve(session, d)
        assert dispatches.claim(session, d)
        session.commit()
    rows = coach("dispatches", "list", "--json").json()
    assert rows[0]["status"] == "running"


def test_approval_race_between_processes_runs_exactly_once(
    store, home: Path, model_env: ScriptedServer
) -> None:
    """Three processes approve the same proposal at once: one thread, one model call, two refusals."""
    dispatch_id = propose(store)
    release = threading.Event()
    model_env.queue(text("The one and only plan.", hold=release))
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "coachcli", "dispatches", "approve", dispatch_id, "--json"]
    procs = [
        subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(3)
    ]
    model_env.wait_for_requests(1, timeout=240)  # one claimed it and is at the model…
    wait_for_exits(procs, 2)  # …and the other two were refused while it waits there
    release.set()
    results = [(p.wait(timeout=120), *p.communicate()) for p in procs]
    codes = sorted(code for code, _out, _err in results)
    assert codes == [0, 1, 1], results
    winners = [json.loads(out) for code, out, _err in results if code == 0]
    assert winners[0]["status"] == "succeeded"
    losers = [err for code, _out, err in results if code == 1]
    assert all(err.startswith("Error:") and "already" in err for err in losers)
    assert len(task_threads(store)) == 1
    assert len(model_env.requests) == 1


def test_user_agent_reaches_model_with_its_prompt_and_model(
    home: Path, coach, model_env: ScriptedServer, tmp_path: Path
) -> None:
    """A user-defined agent's prompt and its own model are what the provider receives."""
    prompt = tmp_path / "nutritionist.md"
    prompt.write_text("You are the Nutritionist. Plan meals rich in protein.", encoding="utf-8")
    added = coach(
        "agents",
        "add",
        "nutritionist",
        "--display-name",
        "Nutritionist",
        "--description",
        "Meal plans and habits",
        "--prompt-file",
        str(prompt),
        "--model",
        "openai/nutrition-model",
        "--json",
    )
    assert added.exit_code == 0, added.stderr
    assert added.json()["builtin"] is False
    names = [a["name"] for a in coach("agents", "list", "--json").json()]
    assert names == [*BUILTIN_AGENTS, "nutritionist"]
    coach("facts", "add", "Vegetarian")
    model_env.queue(text("Mon: tofu scramble."))
    result = coach("dispatch", "Plan a week of high-protein breakfasts", "--agent", "nutritionist", "--json")
    assert result.exit_code == 0, result.stderr
    sent = model_env.requests[-1]
    assert sent["model"] == "nutrition-model"
    assert sent["messages"][0] == {"role": "system", "content": prompt.read_text(encoding="utf-8").strip()}
    assert "Task: Plan a week of high-protein breakfasts" in sent["messages"][1]["content"]
    assert "Vegetarian" in sent["messages"][1]["content"]
    rows = coach("tasks", "list", "--json").json()
    assert rows[0]["agent"] == "nutritionist" and rows[0]["title"].startswith("Nutritionist: ")


@pytest.mark.parametrize(
    ("args", "code", "words"),
    [
        (["planner", "--display-name", "P", "--description", "d", "--prompt", "p"], 1, "built-in"),
        (["Bad Name", "--display-name", "P", "--description", "d", "--prompt", "p"], 2, "invalid agent name"),
        (["coachy", "--display-name", "P", "--description", "d"], 2, "exactly one of"),
        (
            ["coachy", "--display-name", "P", "--description", "d", "--prompt-file", "/nope.md"],
            2,
            "cannot read",
        ),
        (["coachy", "--display-name", " ", "--description", "d", "--prompt", "p"], 2, "cannot be empty"),
    ],
)
def test_agents_add_refuses_bad_input(home: Path, coach, args: list[str], code: int, words: str) -> None:
    """Bad agent definitions are refused with one line and the documented exit code."""
    result = coach("agents", "add", *args)
    assert result.exit_code == code
    assert result.stderr.startswith("Error:") and words in result.stderr


def test_agents_rm(home: Path, coach) -> None:
    """User agents can be removed; built-ins cannot; an unknown name is not found."""
    coach("agents", "add", "coachy", "--display-name", "C", "--description", "d", "--prompt", "p")
    assert coach("agents", "rm", "coachy").exit_code == 0
    assert coach("agents", "rm", "coachy").exit_code == 1
    builtin = coach("agents", "rm", "writer")
    assert builtin.exit_code == 1 and "built-in" in builtin.stderr


def test_streamed_dispatch_prints_result_as_written(home: Path, coach, model_env: ScriptedServer) -> None:
    """--stream writes the result while it arrives and still saves the thread and usage."""
    model_env.queue(text("Step one. Step two.", chunks=4, input_tokens=30, output_tokens=7))
    result = coach("dispatch", "Plan", "--agent", "planner", "--stream")
    assert result.exit_code == 0, result.stderr
    assert "Step one. Step two." in result.stdout
    rows = coach("dispatches", "list", "--json").json()
    assert rows[0]["status"] == "succeeded"


def test_usage_recorded_on_dispatch(store, coach, model_env: ScriptedServer) -> None:
    """Token usage is stored on the dispatch (cost stays empty for an unpriced model)."""
    model_env.queue(text("Done.", input_tokens=42, output_tokens=3))
    result = coach("dispatch", "Plan", "--agent", "planner", "--json")
    with store.read_session() as session:
        d = session.get(Dispatch, result.json()["dispatch_id"])
        assert (d.input_tokens, d.output_tokens, d.cost_usd) == (42, 3, None)
        assert d.attempts == 1 and d.finished_at is not None


def test_stuck_dispatch_process_killed_is_interrupted(store, home: Path, model_env: ScriptedServer) -> None:
    """kill -9 of a dispatch process leaves it running in the store; listing shows it interrupted."""
    model_env.queue(hang(30))
    cmd = [sys.executable, "-m", "coachcli", "dispatch", "Plan", "--agent", "planner"]
    proc = subprocess.Popen(cmd, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    model_env.wait_for_requests(1, timeout=60)
    proc.kill()
    proc.wait()
    with store.session() as session:
        user = get_or_create_user(session, "tester")
        get_or_create_coaching(session, user)
        rows = dispatches.list_dispatches(session, user)
        session.commit()
    assert [r.status for r in rows] == ["interrupted"]
    assert task_threads(store) == []


# -- no dead ends (issue 10 #4): every failure after approval ends failed or interrupted, retryable --


def _status(store, dispatch_id: str) -> Dispatch:
    with store.read_session() as session:
        dispatch = session.get(Dispatch, dispatch_id)
        assert dispatch is not None
        return dispatch


def test_approving_when_the_agent_was_removed_changes_nothing(store, coach, model_env) -> None:
    """The agent is checked before the transition: the proposal stays proposed (rejectable), nothing
    is sent to a model, and it never sits in `approved`."""
    added = coach("agents", "add", "coachy", "--display-name", "C", "--description", "d", "--prompt", "p")
    assert added.exit_code == 0, added.stderr
    dispatch_id = propose(store, agent="coachy")
    assert coach("agents", "rm", "coachy").exit_code == 0
    for action in ("approve", "retry"):
        run = coach("dispatches", action, dispatch_id, "--json")
        assert run.exit_code == 1
        assert run.stderr.startswith("Error:") and run.stderr.count("Error:") == 1
        assert "coachy" in run.json()["error"]  # nothing ran: no dispatch document, just the error
    assert _status(store, dispatch_id).status == "proposed"
    assert model_env.requests == []
    assert coach("dispatches", "reject", dispatch_id).exit_code == 0
    assert _status(store, dispatch_id).status == "rejected"


def test_dispatch_left_approved_by_an_older_version_can_be_retried(store, coach, model_env) -> None:
    """`approved` with no runner (a process that died before its claim) is no dead end: retry runs it."""
    dispatch_id = propose(store)
    with store.session() as session:
        dispatches.approve(session, session.get(Dispatch, dispatch_id))
        session.commit()
    model_env.queue(text("Week 1: walk."))
    run = coach("dispatches", "retry", dispatch_id, "--json")
    assert run.exit_code == 0, run.stderr
    assert run.json()["status"] == "succeeded"


@pytest.mark.parametrize("action", ["approve", "retry"])
def test_provider_error_after_approval_ends_failed_then_retries(store, coach, model_env, action) -> None:
    """A provider error during the run: failed with the error (in --json too), and retry succeeds."""
    dispatch_id = propose(store)
    if action == "retry":  # first get it to failed once, through the same path
        model_env.queue(error(401, "bad key"))
        assert coach("dispatches", "approve", dispatch_id).exit_code == 1
    model_env.queue(error(401, "bad key"))
    run = coach("dispatches", action, dispatch_id, "--json")
    assert run.exit_code == 1
    doc = run.json()
    assert set(doc) == DISPATCH_SHAPE | {"error"}
    assert (doc["dispatch_id"], doc["status"]) == (dispatch_id, "failed")
    assert "API key" in doc["error"]
    stored = _status(store, dispatch_id)
    assert (stored.status, stored.task_thread_id) == ("failed", None)
    model_env.queue(text("Week 1: walk."))
    again = coach("dispatches", "retry", dispatch_id, "--json")
    assert again.exit_code == 0, again.stderr
    assert again.json()["status"] == "succeeded"


def _run_with(store, dispatch_id: str, complete) -> BaseException:
    """Approve and run with a client whose complete() is `complete`; returns what it raised."""
    from coachcli.coaching.dispatch.run import approve_and_run

    class Client:
        model = "openai/fake"

        def complete(self, messages, **kwargs):
            return complete()

    with store.session() as session:
        user = get_or_create_user(session, "tester")
        dispatch = session.get(Dispatch, dispatch_id)
        try:
            approve_and_run(session, user, dispatch, lambda _model: Client())
        except BaseException as exc:
            return exc
    raise AssertionError("the run did not fail")


def test_interrupt_ends_interrupted_and_a_crash_ends_failed(store) -> None:
    """Ctrl-C while the specialist writes: interrupted, partial text kept in the error. An
    unexpected exception (a bug): failed, not left running. Both retry."""
    from coachcli.llm.types import Completion, ReplyInterrupted

    stopped = propose(store)

    def interrupted() -> Completion:
        raise ReplyInterrupted(Completion(content="Week 1: wa", model="openai/fake"))

    assert isinstance(_run_with(store, stopped, interrupted), ReplyInterrupted)
    record = _status(store, stopped)
    assert record.status == "interrupted" and "Week 1: wa" in (record.error or "")

    crashed = propose(store)

    def bug() -> Completion:
        raise RuntimeError("boom")

    assert isinstance(_run_with(store, crashed, bug), RuntimeError)
    record = _status(store, crashed)
    assert record.status == "failed" and "boom" in (record.error or "")

    with store.session() as session:
        for dispatch_id in (stopped, crashed):
            assert dispatches.retry(session, session.get(Dispatch, dispatch_id)).status == "approved"
        session.commit()


def test_only_succeeded_and_rejected_are_final(store) -> None:
    """Succeeded and rejected refuse every transition; the tests above leave every other state."""
    assert set(DISPATCH_STATUSES) - {"succeeded", "rejected"} == {
        "proposed",  # approve, reject
        "approved",  # claim, retry
        "running",  # succeed, fail, interrupt, or interrupted when its process died
        "failed",  # retry
        "interrupted",  # retry
    }
    for state in ("succeeded", "rejected"):
        dispatch_id = propose(store)
        with store.session() as session:
            session.get(Dispatch, dispatch_id).status = state
            session.commit()
        with store.session() as session:
            dispatch = session.get(Dispatch, dispatch_id)
            for refused in (dispatches.approve, dispatches.reject, dispatches.retry):
                with pytest.raises(ConflictError):
                    refused(session, dispatch)
                session.rollback()
            assert not dispatches.claim(session, dispatch)


def test_stored_dispatch_errors_carry_no_credentials(store) -> None:
    """Whatever failed, the error kept on the dispatch (shown by `dispatches list`) is redacted."""
    from coachcli.coaching.dispatch.run import DispatchFailed
    from coachcli.errors import ProviderError

    dispatch_id = propose(store)

    def leaky():
        raise ProviderError("401 from http://bob:s3cret-pass@models.example/v1 (key sk-abcdefghijklmnop1234)")

    failed = _run_with(store, dispatch_id, leaky)
    assert isinstance(failed, DispatchFailed) and isinstance(failed.cause, ProviderError)
    for kept in (_status(store, dispatch_id).error or "", failed.outcome.error or ""):
        assert "401 from" in kept
        assert "s3cret-pass" not in kept and "sk-abcdefghijklmnop1234" not in kept


def test_approval_with_an_edited_task_runs_the_edited_task(store) -> None:
    """The REPL's `e` (edit): the person's wording is what the specialist gets and what is stored,
    set in the same conditional update as the approval."""
    from coachcli.coaching.dispatch.run import approve_and_run
    from coachcli.llm.types import Completion

    dispatch_id = propose(store, task="Draft a plan")
    sent: list[str] = []

    class Client:
        model = "openai/fake"

        def complete(self, messages, **kwargs):
            sent.append(messages[-1]["content"])
            return Completion(content="Week 1: walk.", model="openai/fake")

    with store.session() as session:
        user = get_or_create_user(session, "tester")
        outcome = approve_and_run(
            session, user, session.get(Dispatch, dispatch_id), lambda _m: Client(), task="Draft a 5k plan"
        )
    assert outcome.status == "succeeded" and outcome.task == "Draft a 5k plan"
    assert sent == ["Task: Draft a 5k plan"]
    assert _status(store, dispatch_id).task == "Draft a 5k plan"


def test_a_zombie_runner_counts_as_gone() -> None:
    """A runner that exited but was not reaped yet (a zombie) holds no dispatch."""
    from coachcli.processes import pid_alive, process_start

    child = subprocess.Popen([sys.executable, "-c", "pass"])
    os.waitid(os.P_PID, child.pid, os.WEXITED | os.WNOWAIT)  # exited, not reaped: a zombie
    try:
        assert pid_alive(os.getpid()) and process_start(os.getpid()) is not None
        assert not pid_alive(child.pid)
    finally:
        child.wait()
