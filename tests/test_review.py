"""The weekly review: a dispatch to the built-in Reviewer whose task carries the period's record."""

from __future__ import annotations

from datetime import timedelta

from scripted_server import text

from coachcli.coaching.agents import BUILTIN_AGENTS
from coachcli.coaching.review import TASK_BUDGET, period_of
from coachcli.store.types import utcnow

DISPATCH_KEYS = ["dispatch_id", "status", "agent", "task", "task_thread_id", "result"]


def ok(run) -> object:
    assert run.exit_code == 0, (run.stdout, run.stderr)
    return run.json()


def test_review_creates_a_reviewer_task_thread(coach, model_env) -> None:
    goal = ok(coach("goals", "add", "Run a 10k", "--due", "+6w", "--why", "health", "--json"))
    assert coach("log", "Ran 5 km", "--goal", goal["id"][:8]).exit_code == 0
    model_env.queue(text("What did you run?"), text("Ran twice, good."))
    assert coach("checkin").exit_code == 0
    assert coach("chat", "Ran twice this week, knees are sore").exit_code == 0
    model_env.queue(text("## The week\nTwo runs: moving. Knees: watch them."))

    review = ok(coach("review", "--json"))
    assert list(review) == DISPATCH_KEYS
    assert review["status"] == "succeeded" and review["agent"] == "reviewer"
    assert review["result"].startswith("## The week")
    request = model_env.requests[-1]["messages"]
    assert request[0]["content"] == BUILTIN_AGENTS["reviewer"].system_prompt
    task = request[1]["content"]
    for needle in ("Run a 10k", "why: health", "Ran 5 km", "What did you run?", "knees are sore"):
        assert needle in task, needle

    period = period_of(7)
    title = f"Reviewer: Weekly review {period.first_day} – {period.last_day}"
    threads = ok(coach("tasks", "list", "--json"))
    assert [(t["id"], t["title"], t["agent"]) for t in threads] == [
        (review["task_thread_id"], title, "reviewer")
    ]
    shown = ok(coach("tasks", "show", review["task_thread_id"][:8], "--json"))
    assert shown["messages"][-1]["content"] == review["result"]


def test_review_days_and_nothing_to_review(coach, model_env) -> None:
    for days in ("0", "367", "-5", "99999999999999999999999"):  # huge spans are refused, not overflowed
        bad = coach("review", "--days", days)
        assert bad.exit_code == 2 and bad.stderr.startswith("Error: --days must be between 1"), bad.stderr
    empty = coach("review")
    assert empty.exit_code == 1 and "nothing to review" in empty.stderr
    assert model_env.requests == []
    assert ok(coach("tasks", "list", "--json")) == []


def test_review_task_is_bounded_and_says_what_it_left_out(coach, model_env, store) -> None:
    """A busy period still fits one dispatch: the oldest lines give way, and the task says so."""
    from coachcli.coaching.conversations import get_or_create_coaching
    from coachcli.coaching.messages import append_message
    from coachcli.coaching.users import get_or_create_user

    assert coach("goals", "add", "Write a book").exit_code == 0
    with store.write() as session:
        user = get_or_create_user(session, "tester")
        coaching = get_or_create_coaching(session, user)
        for n in range(120):
            append_message(session, coaching.id, "user", f"message {n} " + "words " * 80)
    for n in range(40):
        assert coach("log", f"chapter note {n} " + "detail " * 40).exit_code == 0
    model_env.queue(text("Review."))
    review = ok(coach("review", "--days", "3", "--json"))
    task = review["task"]
    assert len(task) <= TASK_BUDGET
    assert task.startswith("3-day review ")
    assert "earlier not shown" in task
    assert "message 119" in task and "message 0 " not in task  # the newest are kept
    assert "chapter note 39" in task


def test_review_period_label() -> None:
    now = utcnow()
    assert period_of(7, now=now).label.startswith("Weekly review ")
    period = period_of(14, now=now)
    assert period.label.startswith("14-day review ")
    assert period.until - period.since == timedelta(days=14)
