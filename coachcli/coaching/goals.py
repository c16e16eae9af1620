"""Goals and progress notes: what the person works towards, and what they did about it.

Both belong to the user like facts (reset keeps them). A goal is looked up by id or a unique
prefix among the user's own goals only, so nobody can see or close another person's goal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Date, Integer, String, Text, text
from sqlmodel import Session, col, select

from coachcli.coaching.ids import by_prefix
from coachcli.coaching.text import require_text
from coachcli.config import parse_duration
from coachcli.errors import ConflictError, UsageError
from coachcli.store.types import UTCDateTime, utcnow

if TYPE_CHECKING:  # the table models load only where a goal is written or looked up by id:
    # listings, `coach status` and `checkin --if-due` read with plain SQL and stay as light as
    # `coach tasks list`.
    from coachcli.store.models import Goal, Progress, User

MAX_TITLE_LENGTH = 200
MAX_WHY_LENGTH = 2_000
MAX_PROGRESS_LENGTH = 4_000
PROMPT_GOALS = 12  # the coach's prompt carries at most this many active goals…
PROMPT_NOTES_PER_GOAL = 3  # …each with its newest few progress notes
_ISO_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")  # with fullmatch: `$` would allow a final newline
DUE_HINT = "use YYYY-MM-DD, +30d, +4w or words like 'next friday'."


@dataclass(frozen=True)
class GoalView:
    """A goal as listings, prompts and reviews read it (plain data, no table model)."""

    id: str
    title: str
    why: str | None
    due: date | None
    status: str
    created_at: datetime
    updated_at: datetime
    closed_at: datetime | None


@dataclass
class GoalRow:
    """A goal with what a listing shows about its progress."""

    goal: GoalView
    progress_count: int
    last_progress_at: datetime | None


@dataclass
class GoalBrief:
    """An active goal as the coach's prompt shows it: the goal and its newest progress notes."""

    row: GoalRow
    notes: list[Progress]


def local_today() -> date:
    """Due dates are days on the person's own calendar, so 'today' is the local date."""
    return datetime.now().astimezone().date()


def parse_due(text: str, *, today: date | None = None) -> date:
    """A due date from YYYY-MM-DD, +30d / +4w, or words ('next friday', 'in 3 weeks', 'Dec 24').

    Words go to dateparser, imported only then (about 0.2 s); the others cost nothing. A date
    that cannot be read, or one already past, is a UsageError (exit 2).
    """
    today = today or local_today()
    cleaned = " ".join(text.split())
    if not cleaned:
        raise UsageError(f"the due date is empty: {DUE_HINT}")
    if cleaned.startswith("+"):  # a duration from today, read like every duration setting
        try:
            due = today + timedelta(days=parse_duration(cleaned[1:]).days)
        except OverflowError:  # only near the end of the calendar
            raise UsageError(f"{cleaned!r} falls after 9999-12-31: {DUE_HINT}") from None
    elif _ISO_DATE.fullmatch(cleaned):
        try:
            due = date.fromisoformat(cleaned)
        except ValueError:
            raise UsageError(f"{cleaned!r} is not a real date: {DUE_HINT}") from None
    else:
        due = _parse_words(cleaned, today)
    if due < today:
        raise UsageError(f"the due date {due.isoformat()} is in the past: give a date from today on.")
    return due


def _parse_words(text: str, today: date) -> date:
    import dateparser  # lazily: only for dates written in words

    parsed = dateparser.parse(
        text,
        languages=["en"],
        settings={
            "PREFER_DATES_FROM": "future",
            "RELATIVE_BASE": datetime(today.year, today.month, today.day),
            "RETURN_AS_TIMEZONE_AWARE": False,
        },
    )
    if parsed is None:
        raise UsageError(f"cannot read the due date {text!r}: {DUE_HINT}")
    return parsed.date()


def clean_title(title: str) -> str:
    return " ".join(
        require_text(
            title,
            what="goal title",
            limit=MAX_TITLE_LENGTH,
            empty_hint='name the goal, e.g. coach goals add "Run a 10k".',
        ).split()
    )


def _clean_why(why: str | None) -> str | None:
    if why is None or not why.strip():
        return None
    if len(why.strip()) > MAX_WHY_LENGTH:
        raise UsageError(f"the why is at most {MAX_WHY_LENGTH} characters; this one has {len(why.strip())}.")
    return why.strip()


def lock_user(session: Session, user: User) -> None:
    """Serialise one user's check-and-insert writes: a row lock on PostgreSQL; on SQLite the
    write transaction already holds the database lock, and FOR UPDATE is left out."""
    from coachcli.store.models import User

    session.exec(select(User.id).where(User.id == user.id).with_for_update()).one()


def active_with_title(
    session: Session, user: User, title: str, *, other_than: str | None = None
) -> Goal | None:
    """The user's active goal with this title, folding case, spacing and end punctuation."""
    from coachcli.coaching.facts import normalize
    from coachcli.store.models import Goal

    wanted = normalize(title)
    query = select(Goal).where(Goal.user_id == user.id, Goal.status == "active")
    return next(
        (g for g in session.exec(query) if normalize(g.title) == wanted and g.id != other_than),
        None,
    )


def add_goal(
    session: Session,
    user: User,
    title: str,
    *,
    due: date | None = None,
    why: str | None = None,
) -> tuple[Goal, bool]:
    """A new active goal, or the active goal that already has this title. Returns (goal, created)."""
    from coachcli.store.models import Goal

    title = clean_title(title)
    why = _clean_why(why)
    lock_user(session, user)
    existing = active_with_title(session, user, title)
    if existing is not None:
        return existing, False
    goal = Goal(user_id=user.id, title=title, why=why, due=due)
    session.add(goal)
    session.flush()
    return goal, True


def find_goal(session: Session, user: User, id_or_prefix: str) -> Goal:
    """One of this user's goals by id or unique prefix (another user's goals are never matched)."""
    from coachcli.store.models import Goal

    return by_prefix(session, Goal, id_or_prefix, what="goal", where=[Goal.user_id == user.id])


_GOALS = """
SELECT g.id, g.title, g.why, g.due, g.status, g.created_at, g.updated_at, g.closed_at,
       count(p.id) AS progress_count, max(p.created_at) AS last_progress_at
FROM goals AS g
JOIN users AS u ON u.id = g.user_id
LEFT JOIN progress AS p ON p.goal_id = g.id
WHERE u.handle = :handle {only_active}
GROUP BY g.id, g.title, g.why, g.due, g.status, g.created_at, g.updated_at, g.closed_at
ORDER BY g.due IS NULL, g.due, g.created_at
"""


def list_goals(session: Session, handle: str, *, include_closed: bool = False) -> list[GoalRow]:
    """Active goals (or all), soonest due first, undated ones last, with their progress counts.

    One query by handle, without the table models: `coach goals list` costs what `tasks list` does.
    """
    sql = _GOALS.format(only_active="" if include_closed else "AND g.status = 'active'")
    query = text(sql).columns(
        id=String,
        title=Text,
        why=Text,
        due=Date,
        status=String,
        created_at=UTCDateTime,
        updated_at=UTCDateTime,
        closed_at=UTCDateTime,
        progress_count=Integer,
        last_progress_at=UTCDateTime,
    )
    rows = session.execute(query, {"handle": handle})
    return [GoalRow(GoalView(*row[:8]), int(row[8] or 0), row[9]) for row in rows]


def goal_progress(session: Session, goal_id: str, *, limit: int | None = None) -> list[Progress]:
    """The goal's progress notes, newest first (callers found the goal among the user's own)."""
    from coachcli.store.models import Progress

    query = (
        select(Progress)
        .where(Progress.goal_id == goal_id)
        .order_by(col(Progress.created_at).desc(), col(Progress.id))
    )
    if limit is not None:
        query = query.limit(limit)
    return list(session.exec(query))


def set_status(session: Session, user: User, id_or_prefix: str, status: str) -> tuple[Goal, bool]:
    """Mark a goal done, dropped or active again. Returns (goal, changed); the same status twice
    changes nothing. Reopening refuses a goal whose title another active goal already has."""
    from coachcli.store.models import GOAL_STATUSES

    if status not in GOAL_STATUSES:
        raise UsageError(f"a goal's status is one of {', '.join(GOAL_STATUSES)}, not {status!r}.")
    goal = find_goal(session, user, id_or_prefix)
    if goal.status == status:
        return goal, False
    if status == "active":
        lock_user(session, user)
        twin = active_with_title(session, user, goal.title, other_than=goal.id)
        if twin is not None:
            raise ConflictError(
                f"an active goal already has this title ({twin.id[:8]}): close it first or edit the title."
            )
    now = utcnow()
    goal.status = status
    goal.closed_at = None if status == "active" else now
    goal.updated_at = now
    session.add(goal)
    session.flush()
    return goal, True


def edit_goal(
    session: Session,
    user: User,
    id_or_prefix: str,
    *,
    title: str | None = None,
    due: date | None = None,
    clear_due: bool = False,
    why: str | None = None,
) -> Goal:
    """Change a goal's title, due date (or clear it) or why; at least one must be given."""
    if title is None and due is None and not clear_due and why is None:
        raise UsageError("nothing to change: give --title, --due or --why.")
    goal = find_goal(session, user, id_or_prefix)
    if title is not None:
        title = clean_title(title)
        if goal.status == "active":
            lock_user(session, user)
            twin = active_with_title(session, user, title, other_than=goal.id)
            if twin is not None:
                raise ConflictError(f"another active goal already has this title ({twin.id[:8]}).")
        goal.title = title
    if due is not None or clear_due:
        goal.due = due
    if why is not None:
        goal.why = _clean_why(why)
    goal.updated_at = utcnow()
    session.add(goal)
    session.flush()
    return goal


def log_progress(
    session: Session,
    user: User,
    text: str,
    *,
    goal: str | None = None,
    source: str = "manual",
) -> tuple[Progress, Goal | None]:
    """A progress note, about one of the user's goals (id or prefix) or none; returns it and the goal."""
    from coachcli.store.models import PROGRESS_SOURCES, Progress

    if source not in PROGRESS_SOURCES:
        raise UsageError(f"progress source must be one of {', '.join(PROGRESS_SOURCES)}.")
    text = require_text(
        text,
        what="progress note",
        limit=MAX_PROGRESS_LENGTH,
        empty_hint='say what you did, e.g. coach log "Ran 5 km".',
    )
    target = find_goal(session, user, goal) if goal else None
    note = Progress(user_id=user.id, goal_id=target.id if target else None, text=text, source=source)
    session.add(note)
    session.flush()
    return note, target


def progress_between(
    session: Session, user: User, since: datetime | None, until: datetime | None = None
) -> list[Progress]:
    """The user's progress notes in a period, oldest first."""
    from coachcli.store.models import Progress

    query = select(Progress).where(Progress.user_id == user.id)
    if since is not None:
        query = query.where(col(Progress.created_at) > since)
    if until is not None:
        query = query.where(col(Progress.created_at) <= until)
    return list(session.exec(query.order_by(col(Progress.created_at), col(Progress.id))))


def days_left(due: date | None, today: date) -> int | None:
    """Days until the due date (negative when overdue), or None for an undated goal."""
    return (due - today).days if due is not None else None


def goal_briefs(session: Session, user: User) -> list[GoalBrief]:
    """The active goals for the coach's prompt, soonest due first, bounded in goals and notes."""
    rows = list_goals(session, user.handle)[:PROMPT_GOALS]
    return [GoalBrief(row, goal_progress(session, row.goal.id, limit=PROMPT_NOTES_PER_GOAL)) for row in rows]
