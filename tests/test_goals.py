"""Goals and progress: the commands and their JSON shapes, ownership, bad input, reset, the coach's tools."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from conftest import plain
from scripted_server import text, tool_call
from sqlmodel import select

from coachcli.coaching.goals import local_today, parse_due
from coachcli.errors import UsageError
from coachcli.store.models import Goal, Progress, User

GOAL_KEYS = ["id", "title", "status", "due", "why", "created_at"]
LIST_KEYS = [*GOAL_KEYS, "progress_count", "last_progress_at"]
PROGRESS_KEYS = ["id", "text", "source", "created_at"]
LOG_KEYS = ["id", "goal_id", "text", "source", "created_at"]
STATUS_KEYS = [
    "goals_active",
    "goals_overdue",
    "last_progress_at",
    "last_checkin_at",
    "proposals_waiting",
    "unread_checkins",
]


def ok(run) -> object:
    assert run.exit_code == 0, (run.stdout, run.stderr)
    return run.json()


def fails(run, code: int, needle: str = "") -> None:
    """A clean failure: the documented exit code, one `Error:` line, no traceback, nothing on stdout."""
    assert run.exit_code == code, (run.exit_code, run.stdout, run.stderr)
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), run.stderr
    assert needle in lines[0]
    assert "Traceback" not in run.stderr
    assert run.stdout == ""


def add_goal_row(
    store, handle: str, title: str, *, goal_id: str | None = None, due: date | None = None
) -> str:
    """A goal written straight to the store (for ids and due dates the CLI would not accept)."""
    from coachcli.coaching.users import get_or_create_user

    with store.write() as session:
        user = get_or_create_user(session, handle)
        goal = Goal(user_id=user.id, title=title, due=due)
        if goal_id:
            goal.id = goal_id
        session.add(goal)
        session.flush()
        return goal.id


# --- the commands -----------------------------------------------------------------------------------


def test_goal_lifecycle_and_shapes(coach) -> None:
    """add, list (soonest due first), log, show (newest progress first), done/reopen/drop, edit."""
    soon = ok(coach("goals", "add", "Run a 10k", "--due", "+4w", "--why", "Feel strong", "--json"))
    assert list(soon) == GOAL_KEYS
    assert soon["status"] == "active" and soon["why"] == "Feel strong"
    assert soon["due"] == (local_today() + timedelta(weeks=4)).isoformat()
    later = ok(
        coach(
            "goals",
            "add",
            "Read 12 books",
            "--due",
            (local_today() + timedelta(days=90)).isoformat(),
            "--json",
        )
    )
    undated = ok(coach("goals", "add", "Meditate", "--json"))
    assert undated["due"] is None

    # The same title while still active (case, spacing and end punctuation folded) is not added twice.
    again = ok(coach("goals", "add", "  run a 10K. ", "--json"))
    assert again["id"] == soon["id"]

    listed = ok(coach("goals", "list", "--json"))
    assert [list(g) for g in listed] == [LIST_KEYS] * 3
    assert [g["id"] for g in listed] == [soon["id"], later["id"], undated["id"]]
    assert listed[0]["progress_count"] == 0 and listed[0]["last_progress_at"] is None

    first = ok(coach("log", "Ran 5 km", "--goal", soon["id"][:6], "--json"))
    assert list(first) == LOG_KEYS
    assert first["goal_id"] == soon["id"] and first["source"] == "manual"
    second = ok(coach("log", "Ran 7 km", "-g", soon["id"], "--json"))
    loose = ok(coach("log", "Slept well", "--json"))
    assert loose["goal_id"] is None

    listed = ok(coach("goals", "list", "--json"))
    assert listed[0]["progress_count"] == 2
    assert listed[0]["last_progress_at"] == second["created_at"]

    shown = ok(coach("goals", "show", soon["id"][:8], "--json"))
    assert shown["id"] == soon["id"] and shown["title"] == "Run a 10k"
    assert [list(p) for p in shown["progress"]] == [PROGRESS_KEYS] * 2
    assert [p["text"] for p in shown["progress"]] == ["Ran 7 km", "Ran 5 km"]

    done = ok(coach("goals", "done", soon["id"][:8], "--json"))
    assert done["status"] == "done" and done["closed_at"] is not None
    assert [g["id"] for g in ok(coach("goals", "list", "--json"))] == [later["id"], undated["id"]]
    everything = ok(coach("goals", "list", "--all", "--json"))
    assert {g["id"]: g["status"] for g in everything}[soon["id"]] == "done"

    # Now that it is done, the same title may be set again as a new goal; reopening the old one clashes.
    fresh = ok(coach("goals", "add", "Run a 10k", "--json"))
    assert fresh["id"] != soon["id"]
    fails(coach("goals", "reopen", soon["id"][:8]), 1, "already has this title")
    ok(coach("goals", "drop", fresh["id"][:8], "--json"))
    reopened = ok(coach("goals", "reopen", soon["id"][:8], "--json"))
    assert reopened["status"] == "active" and reopened["closed_at"] is None

    edited = ok(
        coach("goals", "edit", later["id"][:8], "--title", "Read 10 books", "--due", "none", "--json")
    )
    assert edited["title"] == "Read 10 books" and edited["due"] is None
    assert coach("goals", "edit", later["id"][:8], "--why", "Curiosity").exit_code == 0
    assert ok(coach("goals", "show", later["id"][:8], "--json"))["why"] == "Curiosity"


def test_plain_list_shows_days_left_overdue_and_literal_titles(coach, store) -> None:
    """The table says how many days are left (or overdue) and since the last progress; a title
    that looks like Rich markup is printed as typed."""
    late = add_goal_row(
        store, "tester", "[bold]Finish[/bold] the draft", due=local_today() - timedelta(days=3)
    )
    add_goal_row(store, "tester", "Run a 10k", due=local_today() + timedelta(days=10))
    assert coach("log", "Wrote 500 words", "--goal", late[:8]).exit_code == 0
    shown = coach("goals", "list")
    assert shown.exit_code == 0, shown.stderr
    assert "[bold]Finish[/bold] the draft" in shown.stdout
    assert "3d overdue" in shown.stdout and "10d left" in shown.stdout
    assert "today" in shown.stdout and "never" in shown.stdout


def test_empty_store_lists_nothing(coach) -> None:
    assert ok(coach("goals", "list", "--json")) == []
    assert "No goals yet" in coach("goals", "list").stdout
    assert ok(coach("status", "--json")) == dict.fromkeys(STATUS_KEYS, 0) | {
        "last_progress_at": None,
        "last_checkin_at": None,
    }


def test_bad_input_is_a_clean_error(coach, store) -> None:
    """Empty title, unreadable or past date, unknown id, ambiguous prefix: documented exit codes."""
    fails(coach("goals", "add", "   "), 2, "goal title is empty")
    fails(coach("goals", "add", "x" * 201), 2, "at most 200")
    fails(coach("goals", "add", "Run", "--due", "someday maybe"), 2, "cannot read the due date")
    fails(coach("goals", "add", "Run", "--due", "2026-02-30"), 2, "not a real date")
    fails(coach("goals", "add", "Run", "--due", "2001-01-01"), 2, "in the past")
    fails(coach("goals", "add", "Run", "--due", "+3x"), 2, "not a duration")
    assert ok(coach("goals", "list", "--json")) == []  # nothing was written by a refused add

    add_goal_row(store, "tester", "One", goal_id="abcd1111-0000-4000-8000-000000000001")
    add_goal_row(store, "tester", "Two", goal_id="abcd2222-0000-4000-8000-000000000002")
    fails(coach("goals", "show", "abcd"), 2, "matches several goals")
    fails(coach("goals", "done", "ffff"), 1, "no goal with id")
    fails(coach("goals", "show", "not-an-id!"), 2, "not a goal id")
    fails(coach("log", "Ran", "--goal", "abcd"), 2, "matches several goals")
    fails(coach("log", "Ran", "--goal", "ffff"), 1, "no goal with id")
    fails(coach("log", "  "), 2, "progress note is empty")
    fails(coach("goals", "edit", "abcd1"), 2, "nothing to change")
    fails(coach("goals", "edit", "abcd1", "--due", "yesterday"), 2, "in the past")
    fails(coach("goals", "edit", "abcd1", "--title", " "), 2, "goal title is empty")
    assert ok(coach("goals", "show", "abcd1", "--json"))["title"] == "One"


def test_another_user_cannot_see_or_close_a_goal(coach) -> None:
    goal = ok(coach("-u", "alice", "goals", "add", "Private goal", "--json"))
    prefix = goal["id"][:8]
    assert ok(coach("-u", "bob", "goals", "list", "--all", "--json")) == []
    fails(coach("-u", "bob", "goals", "show", prefix), 1, "no goal with id")
    fails(coach("-u", "bob", "goals", "done", prefix), 1, "no goal with id")
    fails(coach("-u", "bob", "goals", "edit", prefix, "--title", "Mine now"), 1, "no goal with id")
    fails(coach("-u", "bob", "log", "sneaky", "--goal", prefix), 1, "no goal with id")
    assert ok(coach("-u", "bob", "status", "--json"))["goals_active"] == 0
    mine = ok(coach("-u", "alice", "goals", "show", prefix, "--json"))
    assert mine["status"] == "active" and mine["title"] == "Private goal" and mine["progress"] == []


def test_reset_keeps_goals_and_progress(coach, model_env) -> None:
    goal = ok(coach("goals", "add", "Run a 10k", "--json"))
    ok(coach("log", "Ran 5 km", "--goal", goal["id"][:8], "--json"))
    model_env.queue(text("Nice work."))
    assert coach("chat", "I ran today").exit_code == 0
    assert coach("reset", "--yes").exit_code == 0
    listed = ok(coach("goals", "list", "--json"))
    assert [(g["id"], g["progress_count"]) for g in listed] == [(goal["id"], 1)]
    status = ok(coach("status", "--json"))
    assert status["goals_active"] == 1 and status["last_progress_at"] is not None


def test_status_counts(coach, store) -> None:
    """Active and overdue goals, the newest progress, and proposals waiting for approval."""
    from coachcli.coaching.dispatch import lifecycle

    add_goal_row(store, "tester", "Late", due=local_today() - timedelta(days=1))
    add_goal_row(store, "tester", "On time", due=local_today() + timedelta(days=1))
    note = ok(coach("log", "Did a thing", "--json"))
    with store.write() as session:
        user = session.exec(select(User).where(User.handle == "tester")).one()
        lifecycle.create_dispatch(
            session, user, agent="planner", task="a plan", proposed_by="coach", status="proposed"
        )
    status = ok(coach("status", "--json"))
    assert list(status) == STATUS_KEYS
    assert status["goals_active"] == 2 and status["goals_overdue"] == 1
    assert status["last_progress_at"] == note["created_at"]
    assert status["proposals_waiting"] == 1 and status["unread_checkins"] == 0
    line = coach("status").stdout
    assert "2 active goals (1 overdue)" in line and "1 proposal waiting" in line


def test_a_narrow_terminal_keeps_the_goal_title_and_drops_lesser_columns_first(coach, terminal) -> None:
    title = "Run a marathon in under four hours"
    assert coach("goals", "add", title, "--due", "+30d").exit_code == 0
    for columns, shown, left_out in (
        (20, ["ID", "GOAL"], ["DUE", "DAYS", "PROGRESS", "LAST"]),
        (40, ["ID", "GOAL"], ["DUE", "DAYS", "PROGRESS", "LAST"]),
        (60, ["ID", "DUE", "DAYS", "GOAL"], ["PROGRESS", "LAST"]),
        (120, ["ID", "DUE", "DAYS", "PROGRESS", "LAST", "GOAL"], []),
    ):
        terminal(columns)
        for args in (("goals", "list"), ("goals", "list", "--all")):
            run = coach(*args)
            assert run.exit_code == 0, run.stderr
            header, *body = plain(run.stdout).splitlines()
            names = header.split()
            if "--all" in args:  # STATUS takes room too: at least as much else gives way
                assert names[0] == "ID" and names[-1] == "GOAL" and set(names) - {"STATUS"} <= set(shown)
            else:
                assert names == shown, (columns, run.stdout)
            assert not set(left_out) & set(header.split())
            assert " ".join(" ".join(body).split()).endswith(title), (columns, run.stdout)  # whole, folded
            assert all(len(line.rstrip()) <= columns for line in [header, *body]), run.stdout


# --- due dates ------------------------------------------------------------------------------------


def test_due_dates_in_every_documented_form() -> None:
    today = date(2026, 11, 28)  # a Saturday
    assert parse_due("2026-12-24", today=today) == date(2026, 12, 24)
    assert parse_due("2026-11-28", today=today) == today  # today is not the past
    assert parse_due("+4w", today=today) == date(2026, 12, 26)
    assert parse_due("+30d", today=today) == date(2026, 12, 28)
    assert parse_due("next friday", today=today) == date(2026, 12, 4)  # dateparser
    assert parse_due("in 3 weeks", today=today) == date(2026, 12, 19)
    for bad in ("", "yesterday", "2026-11-27", "soon-ish", "+0x"):
        with pytest.raises(UsageError):
            parse_due(bad, today=today)


def test_due_dates_at_the_ends_of_the_calendar(coach) -> None:
    """The last day a date can name is a due date; anything past it is exit 2, never an overflow."""
    assert parse_due("9999-12-31", today=date(2026, 11, 28)) == date(9999, 12, 31)
    assert parse_due("+1d", today=date(9999, 12, 30)) == date(9999, 12, 31)
    for bad in ("+2d", "+4w", "+3650d"):
        with pytest.raises(UsageError, match="after 9999-12-31"):
            parse_due(bad, today=date(9999, 12, 30))
    for bad in ("10000-01-01", "0000-01-01", "+99999d"):
        with pytest.raises(UsageError):
            parse_due(bad, today=date(2026, 11, 28))
    added = coach("goals", "add", "Far away", "--due", "9999-12-31", "--json")
    assert added.exit_code == 0, added.stderr
    assert [g["due"] for g in coach("goals", "list", "--json").json()] == ["9999-12-31"]
    assert coach("goals", "list").exit_code == 0  # the days left are counted, not overflowed
    for bad in ("10000-01-01", "+99999d"):
        run = coach("goals", "add", "Too far", "--due", bad)
        assert run.exit_code == 2 and run.stderr.startswith("Error:"), run.stderr


# --- the coach's tools ------------------------------------------------------------------------------


def test_coach_tools_set_log_and_update_goals(coach, model_env, store) -> None:
    """set_goal / log_progress / update_goal through the scripted model; a line for each on stderr;
    a duplicate goal is not created twice; bad arguments come back to the model as errors."""
    model_env.queue(
        tool_call("set_goal", {"title": "Run a 10k", "due": "+8w", "why": "health"}),
        tool_call("set_goal", {"title": "run a 10k"}),
        tool_call("set_goal", {"title": "Swim", "due": "2001-01-01"}),
        text("Great goal."),
    )
    run = coach("chat", "I want to run a 10k in two months")
    assert run.exit_code == 0, run.stderr
    assert run.stderr.count("✓ New goal: Run a 10k") == 1
    tool_results = [m for m in model_env.requests[-1]["messages"] if m["role"] == "tool"]
    assert "Saved goal" in tool_results[0]["content"]
    assert "Already an active goal" in tool_results[1]["content"]
    assert tool_results[2]["content"].startswith("Error:") and "in the past" in tool_results[2]["content"]
    goals = ok(coach("goals", "list", "--json"))
    assert [(g["title"], g["why"]) for g in goals] == [("Run a 10k", "health")]
    goal_id = goals[0]["id"]

    # The next turn's system prompt carries the goal with its id and days left.
    model_env.queue(
        tool_call("log_progress", {"text": "Ran 6 km", "goal_id": goal_id[:8]}),
        tool_call("log_progress", {"text": "Ran", "goal_id": "ffff"}),
        tool_call("update_goal", {"goal_id": goal_id[:8], "status": "done"}),
        tool_call("update_goal", {"goal_id": goal_id[:8], "status": "finished"}),
        text("Well done!"),
    )
    run = coach("chat", "Ran 6 km today and I am calling the goal done")
    assert run.exit_code == 0, run.stderr
    system = model_env.requests[-5]["messages"][0]["content"]
    assert f"[{goal_id[:8]}] Run a 10k (due {goals[0]['due']} (56 days left); why: health)" in system
    assert "✓ Progress on Run a 10k: Ran 6 km" in run.stderr
    assert "✓ Goal done: Run a 10k" in run.stderr
    tool_results = [m["content"] for m in model_env.requests[-1]["messages"] if m["role"] == "tool"][-4:]
    assert tool_results[1].startswith("Error:") and "no goal" in tool_results[1]
    assert tool_results[3].startswith("Error:") and "status" in tool_results[3]
    shown = ok(coach("goals", "show", goal_id[:8], "--json"))
    assert shown["status"] == "done"
    assert [(p["text"], p["source"]) for p in shown["progress"]] == [("Ran 6 km", "coach")]
    with store.read_session() as session:
        assert len(list(session.exec(select(Progress)))) == 1


def test_prompt_marks_overdue_goals_and_bounds_notes(coach, model_env, store) -> None:
    late = add_goal_row(store, "tester", "File taxes", due=local_today() - timedelta(days=2))
    for n in range(6):
        assert coach("log", f"step {n}", "--goal", late[:8]).exit_code == 0
    model_env.queue(text("Let's look at the taxes."))
    assert coach("chat", "hi").exit_code == 0
    system = model_env.requests[-1]["messages"][0]["content"]
    assert f"[{late[:8]}] File taxes (OVERDUE: was due" in system and "2 days ago" in system
    assert "step 5" in system and "step 3" in system and "step 2" not in system  # the newest three
