"""The weekly review: a dispatch to the built-in `reviewer` with the period's record as its task.

The task carries the goals, the period's progress notes, the check-ins and a digest of the
coaching messages, each section bounded so the whole task fits a dispatch (and any model's
window). The result is a task thread like every dispatch, titled by the task's first line:
`Reviewer: Weekly review 2026-11-21 – 2026-11-28`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from coachcli.coaching.goals import days_left, list_goals, local_today, progress_between
from coachcli.errors import ConflictError, UsageError
from coachcli.store.models import Conversation, Message, User
from coachcli.store.types import utcnow

if TYPE_CHECKING:
    from coachcli.coaching.dispatch.lifecycle import DispatchOutcome
    from coachcli.coaching.dispatch.run import ClientFactory

REVIEWER = "reviewer"
MAX_DAYS = 366
TASK_BUDGET = 3_900  # under the dispatch task limit (4,000 characters), with room to spare
NOTE_CHARS = 240
DIGEST_CHARS = 200
# Share of the budget each section may take before the next one starts (the digest gets the rest).
GOALS_SHARE, PROGRESS_SHARE, CHECKINS_SHARE = 0.25, 0.3, 0.15
_SPEAKER = {"user": "person", "assistant": "coach"}


@dataclass
class Period:
    """The period looked back over: the last `days` days up to now, named by local dates."""

    since: datetime
    until: datetime
    first_day: date
    last_day: date

    @property
    def label(self) -> str:
        days = (self.last_day - self.first_day).days
        kind = "Weekly review" if days == 7 else f"{days}-day review"
        return f"{kind} {self.first_day.isoformat()} – {self.last_day.isoformat()}"


def period_of(days: int, *, now: datetime | None = None) -> Period:
    if not 1 <= days <= MAX_DAYS:
        raise UsageError(f"--days must be between 1 and {MAX_DAYS}, got {days}.")
    until = now or utcnow()
    since = until - timedelta(days=days)
    return Period(since, until, since.astimezone().date(), until.astimezone().date())


def _one_line(text: str, limit: int) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"


def _section(title: str, lines: list[str], budget: int, *, keep_newest: bool = False) -> str:
    """A titled list that fits `budget` characters: lines are dropped (the oldest, or the last
    ones) and the drop is said, so the reviewer knows the record was cut."""
    if not lines:
        return ""
    chosen = list(reversed(lines)) if keep_newest else list(lines)
    kept: list[str] = []
    used = len(title) + 2
    for line in chosen:
        if used + len(line) + 1 > budget - 40:
            break
        kept.append(line)
        used += len(line) + 1
    if keep_newest:
        kept.reverse()
    dropped = len(lines) - len(kept)
    if dropped:
        note = f"- ({dropped} {'earlier' if keep_newest else 'more'} not shown)"
        kept = [note, *kept] if keep_newest else [*kept, note]
    return f"## {title}\n" + "\n".join(kept)


def _coaching_messages(session: Session, user: User, period: Period) -> list[Message]:
    coaching = select(Conversation.id).where(Conversation.user_id == user.id, Conversation.type == "coaching")
    query = (
        select(Message)
        .where(
            col(Message.conversation_id).in_(coaching),
            col(Message.created_at) > period.since,
            col(Message.created_at) <= period.until,
            col(Message.role).in_(("user", "assistant")),
            col(Message.content) != "",
        )
        .order_by(col(Message.position))
    )
    return list(session.exec(query))


def review_task(session: Session, user: User, period: Period, *, today: date | None = None) -> str:
    """The reviewer's task: the period's record, bounded to fit one dispatch."""
    today = today or local_today()
    goals = [
        row
        for row in list_goals(session, user.handle, include_closed=True)
        if row.goal.status == "active" or (row.goal.closed_at and row.goal.closed_at > period.since)
    ]
    notes = progress_between(session, user, period.since, period.until)
    messages = _coaching_messages(session, user, period)
    checkins = [m for m in messages if m.kind == "checkin"]
    talk = [m for m in messages if m.kind != "checkin"]
    if not goals and not notes and not messages:
        raise ConflictError(
            f"nothing to review for {period.first_day} – {period.last_day}: no goals, progress or "
            'conversation. Set a goal with coach goals add "…" or log progress with coach log "…".'
        )
    titles = {row.goal.id: row.goal.title for row in goals}
    goal_lines = []
    for row in goals:
        g = row.goal
        left = days_left(g.due, today)
        due = "" if g.due is None else f", due {g.due}" + (f" ({left} days left)" if left is not None else "")
        if left is not None and left < 0 and g.status == "active":
            due = f", due {g.due} (overdue by {-left} days)"
        why = f" — why: {_one_line(g.why, 120)}" if g.why else ""
        goal_lines.append(f"- {_one_line(g.title, 160)} [{g.status}{due}]{why}")
    progress_lines = [
        f"- {p.created_at:%Y-%m-%d}"
        + (f" [{_one_line(titles[p.goal_id], 60)}]" if p.goal_id in titles else "")
        + f": {_one_line(p.text, NOTE_CHARS)}"
        for p in notes
    ]
    checkin_lines = [f"- {m.created_at:%Y-%m-%d}: {_one_line(m.content, NOTE_CHARS)}" for m in checkins]
    talk_lines = [
        f"- {m.created_at:%Y-%m-%d} {_SPEAKER[m.role]}: {_one_line(m.content, DIGEST_CHARS)}" for m in talk
    ]
    header = (
        f"{period.label}\n\nReview {period.first_day} to {period.last_day} against the goals below: "
        "what moved, what stalled, what to change next."
    )
    parts = [header]
    room = TASK_BUDGET - len(header)
    for title, lines, share, newest in (
        ("Goals", goal_lines, GOALS_SHARE, False),
        ("Progress notes in the period", progress_lines or ["- none logged"], PROGRESS_SHARE, True),
        ("The coach's check-ins", checkin_lines, CHECKINS_SHARE, True),
    ):
        section = _section(title, lines, int(TASK_BUDGET * share), keep_newest=newest)
        if section:
            parts.append(section)
            room -= len(section) + 2
    digest = _section("Digest of the coaching conversation", talk_lines, room - 2, keep_newest=True)
    if digest:
        parts.append(digest)
    return "\n\n".join(parts)


def run_review(
    session: Session,
    user: User,
    client_for: ClientFactory,
    *,
    days: int = 7,
    on_text: Callable[[str], None] | None = None,
) -> DispatchOutcome:
    """Dispatch the review to the reviewer now; its task thread holds the result."""
    from coachcli.coaching.dispatch.run import dispatch_now

    task = review_task(session, user, period_of(days))
    return dispatch_now(session, user, task, client_for, agent=REVIEWER, on_text=on_text)
