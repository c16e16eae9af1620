"""Check-ins: the coach-started turn, the --if-due schedule, racing processes, unread check-ins."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from datetime import timedelta
from pathlib import Path

import pytest
from conftest import wait_for_exits
from scripted_server import error, text, tool_call
from sqlmodel import select

from coachcli.coaching.checkin import CHECKIN_CUE
from coachcli.store.models import Checkin, Message, Progress
from coachcli.store.types import utcnow

CHAT_KEYS = ["conversation_id", "reply", "model", "input_tokens", "output_tokens", "cost_usd", "skipped"]


def ok(run) -> object:
    assert run.exit_code == 0, (run.stdout, run.stderr)
    return run.json()


def checkins(store) -> list[Checkin]:
    with store.read_session() as session:
        return list(session.exec(select(Checkin).order_by(Checkin.started_at)))


def backdate_checkins(store, by: timedelta) -> None:
    """Move every check-in and progress note back in time, as if the interval had passed (no
    sleeping in tests)."""
    with store.write() as session:
        for row in session.exec(select(Checkin)):
            row.started_at -= by
            if row.finished_at:
                row.finished_at -= by
            session.add(row)
        for note in session.exec(select(Progress)):
            note.created_at -= by
            session.add(note)


def test_nothing_to_check_in_on_calls_no_model(coach, model_env) -> None:
    run = coach("checkin")
    assert run.exit_code == 0 and "Nothing to check in on yet" in run.stderr
    assert run.stdout == ""
    assert ok(coach("checkin", "--if-due", "--json")) == {
        "skipped": True,
        "next_due": None,
        "reason": "nothing_yet",
    }
    assert model_env.requests == []


def test_checkin_flow_schedule_and_unread(coach, model_env, store) -> None:
    """A check-in sees the goals and the progress since the last one, is saved as a check-in
    message, counts as unread until the person writes, and --if-due waits `checkin_every`."""
    goal = ok(coach("goals", "add", "Run a 10k", "--due", "+6w", "--json"))
    assert coach("log", "Ran 5 km", "--goal", goal["id"][:8]).exit_code == 0
    model_env.queue(text("You ran 5 km. What distance this weekend?"))
    first = ok(coach("checkin", "--if-due", "--json"))
    assert list(first) == CHAT_KEYS
    assert first["skipped"] is False and first["reply"] == "You ran 5 km. What distance this weekend?"

    request = model_env.requests[-1]["messages"]
    system = request[0]["content"]
    assert "This turn is a check-in" in system and "exactly one concrete question" in system
    assert "Ran 5 km" in system and "Run a 10k" in system
    assert "have not answered" not in system
    # The coach writes first: the only user message is the unsaved cue, and it ends the request.
    assert request[1:] == [{"role": "user", "content": CHECKIN_CUE}]

    with store.read_session() as session:
        saved = session.exec(select(Message).where(Message.kind == "checkin")).one()
    assert saved.role == "assistant" and saved.content == first["reply"]
    [row] = checkins(store)
    assert row.status == "done" and row.message_id == saved.id

    status = ok(coach("status", "--json"))
    assert status["unread_checkins"] == 1 and status["last_checkin_at"] is not None
    history = coach("history", "-n", "1")
    assert "coach · check-in" in history.stdout and first["reply"] in history.stdout

    # Not due again for a day: exit 0, nothing printed (or the skip document), no model call.
    calls = len(model_env.requests)
    quiet = coach("checkin", "--if-due")
    assert quiet.exit_code == 0 and quiet.stdout == "" and quiet.stderr == ""
    skipped = ok(coach("checkin", "--if-due", "--json"))
    assert skipped["skipped"] is True
    assert skipped["next_due"] == (row.started_at + timedelta(hours=23)).isoformat()  # 1d less 1h grace
    assert len(model_env.requests) == calls

    # The person answers: nothing unread any more.
    model_env.queue(text("Great."))
    assert coach("chat", "10 km on Sunday").exit_code == 0
    assert ok(coach("status", "--json"))["unread_checkins"] == 0

    # A day later it is due; the new check-in sees only the progress since the last one.
    assert coach("log", "Ran 8 km").exit_code == 0
    backdate_checkins(store, timedelta(hours=23, minutes=1))  # a daily timer a little early still runs
    model_env.queue(text("8 km! How do the legs feel?"))
    assert ok(coach("checkin", "--if-due", "--json"))["skipped"] is False
    system = model_env.requests[-1]["messages"][0]["content"]
    progress_part = system.split("Progress logged since the last check-in", 1)[1]
    assert "Ran 8 km" in progress_part and "Ran 5 km" not in progress_part


def test_checkin_requests_end_with_a_user_message_never_saved(coach, model_env, store) -> None:
    """Strict providers reject a request without a user message and continue a trailing
    assistant message as a prefill: a check-in after the coach's own reply sends the cue after
    the history, in every round (before the turn's tool call), and stores none of it."""
    model_env.queue(text("Hi! What shall we work on?"))
    assert coach("chat", "hello").exit_code == 0
    model_env.queue(
        tool_call("remember_fact", {"fact": "Prefers mornings"}, call_id="call_cue1"),
        text("Mornings it is. How did today start?"),
    )
    assert ok(coach("checkin", "--json"))["reply"] == "Mornings it is. How did today start?"

    first, second = (r["messages"] for r in model_env.requests[-2:])
    cue = {"role": "user", "content": CHECKIN_CUE}
    assert [m["role"] for m in first[1:]] == ["user", "assistant", "user"]
    assert first[-1] == cue and first[2]["content"] == "Hi! What shall we work on?"
    assert second[1:4] == first[1:]  # the cue keeps its place: before the turn's tool call and result
    assert [m["role"] for m in second[4:]] == ["assistant", "tool"]

    with store.read_session() as session:
        saved = list(session.exec(select(Message).order_by(Message.id)))
    assert [(m.role, m.kind) for m in saved] == [
        ("user", None),
        ("assistant", None),
        ("assistant", "checkin"),
        ("tool", None),
        ("assistant", "checkin"),
    ]
    assert not any(CHECKIN_CUE in (m.content or "") for m in saved)


def test_checkin_every_setting(coach, model_env, store, monkeypatch: pytest.MonkeyPatch) -> None:
    assert coach("goals", "add", "Write daily").exit_code == 0
    model_env.queue(text("How is the writing?"))
    assert coach("checkin").exit_code == 0
    backdate_checkins(store, timedelta(days=2))
    monkeypatch.setenv("COACH_CHECKIN_EVERY", "7d")
    assert ok(coach("checkin", "--if-due", "--json"))["skipped"] is True
    monkeypatch.setenv("COACH_CHECKIN_EVERY", "36h")
    model_env.queue(text("Still writing?"))
    assert ok(coach("checkin", "--if-due", "--json"))["skipped"] is False
    assert len(checkins(store)) == 2


def test_gentler_after_two_unanswered_checkins(coach, model_env) -> None:
    assert coach("goals", "add", "Meditate 10 minutes a day").exit_code == 0
    model_env.queue(text("How did meditating go?"), text("Any minutes this week?"), text("No pressure."))
    for _ in range(3):
        assert coach("checkin").exit_code == 0
    systems = [r["messages"][0]["content"] for r in model_env.requests]
    assert "have not answered" not in systems[1]
    assert "have not answered the last 2 check-ins" in systems[2]
    assert ok(coach("status", "--json"))["unread_checkins"] == 3


def test_failed_checkin_does_not_hold_back_the_next(coach, model_env, store) -> None:
    assert coach("goals", "add", "Learn Spanish").exit_code == 0
    model_env.queue(error(401, "bad key"))
    failed = coach("checkin", "--if-due")
    assert failed.exit_code == 1 and failed.stderr.startswith("Error:")
    assert [row.status for row in checkins(store)] == ["failed"]
    model_env.queue(text("¿Qué tal el español?"))
    assert ok(coach("checkin", "--if-due", "--json"))["skipped"] is False
    assert [row.status for row in checkins(store)] == ["failed", "done"]


def test_reset_keeps_the_schedule_and_clears_unread(coach, model_env) -> None:
    assert coach("goals", "add", "Sleep by 11").exit_code == 0
    model_env.queue(text("Bed by 11 last night?"))
    assert coach("checkin").exit_code == 0
    assert coach("reset", "--yes").exit_code == 0
    status = ok(coach("status", "--json"))
    assert status["unread_checkins"] == 0 and status["last_checkin_at"] is not None
    assert ok(coach("checkin", "--if-due", "--json"))["skipped"] is True


@pytest.mark.slow
def test_racing_checkins_write_exactly_one(coach, model_env, store) -> None:
    """Three `coach checkin --if-due` processes started together: one check-in, one model call."""
    assert coach("goals", "add", "Run a 10k").exit_code == 0  # creates and migrates the store first
    release = threading.Event()
    model_env.queue(text("One check-in only.", hold=release))
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "coachcli", "checkin", "--if-due", "--json"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=dict(os.environ),
        )
        for _ in range(3)
    ]
    model_env.wait_for_requests(1, timeout=240)  # one claimed and is at the model…
    wait_for_exits(procs, 2)  # …and the other two decided while it waits there
    release.set()
    documents = []
    for proc in procs:
        stdout, stderr = proc.communicate(timeout=240)
        assert proc.returncode == 0, stderr
        documents.append(json.loads(stdout))
    assert sorted(d["skipped"] for d in documents) == [False, True, True]
    assert len(model_env.requests) == 1
    assert [row.status for row in checkins(store)] == ["done"]
    with store.read_session() as session:
        assert len(list(session.exec(select(Message).where(Message.kind == "checkin")))) == 1


@pytest.mark.sqlite_only
def test_if_due_when_not_due_imports_no_model_library(home: Path, tmp_path: Path, store) -> None:
    """The cron path stays cheap: not due (or nothing to check in on) never loads litellm."""
    from test_imports import run_coach

    from coachcli.coaching.users import get_or_create_user

    proc, heavy = run_coach(home, tmp_path, "checkin", "--if-due")
    assert proc.returncode == 0 and "Nothing to check in on yet" in proc.stderr, proc.stderr
    assert "litellm" not in heavy
    with store.write() as session:
        user = get_or_create_user(session, "tester")
        session.add(Checkin(user_id=user.id, status="done", started_at=utcnow(), finished_at=utcnow()))
    for args in (("checkin", "--if-due"), ("checkin", "--if-due", "--json"), ("status",), ("goals", "list")):
        proc, heavy = run_coach(home, tmp_path, *args)
        assert proc.returncode == 0, proc.stderr
        assert heavy == [], args


def test_repl_door_shows_status_and_unread_checkins(
    coach, model_env, capsys: pytest.CaptureFixture[str]
) -> None:
    """What `coach chat` prints when it opens: one status line, then the unread check-ins as written."""
    from coachcli.cli.state import AppState
    from coachcli.cli.status import show_at_door

    assert coach("goals", "add", "Run a 10k").exit_code == 0
    model_env.queue(text("[bold]Still[/bold] running?"))
    assert coach("checkin").exit_code == 0
    capsys.readouterr()
    show_at_door(AppState())
    shown = capsys.readouterr()
    assert "1 active goal" in shown.err and "1 unread check-in" in shown.err
    assert "[bold]Still[/bold] running?" in shown.out  # literal, never markup
    model_env.queue(text("Good."))
    assert coach("chat", "Yes, 5 km").exit_code == 0
    capsys.readouterr()
    show_at_door(AppState())
    shown = capsys.readouterr()
    assert "unread" not in shown.err and shown.out == ""
