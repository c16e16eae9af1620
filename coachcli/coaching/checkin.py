"""Check-ins: a coaching turn the coach starts, on a schedule (cron, a systemd timer) or on demand.

A check-in claims a row in `checkins` before the model is called, in a transaction that holds
the user's lock and first checks the interval, so several `coach checkin --if-due` started at
once write exactly one check-in. The reply is an assistant message of kind `checkin` in the
coaching conversation; it counts as unread until the person writes again.

`checkin --if-due` decides "not due" with coaching/status.py alone (no table models, no model
client); this module loads the rest only when a check-in is written.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import func
from sqlmodel import Session, col, select

from coachcli.coaching.goals import GoalRow, days_left, list_goals, local_today, lock_user, progress_between
from coachcli.coaching.status import checkin_schedule, get_status
from coachcli.store.models import Checkin, Conversation, Message, Progress, User
from coachcli.store.types import utcnow

if TYPE_CHECKING:
    from coachcli.coaching.dispatch.run import ClientFactory
    from coachcli.coaching.turn_events import TurnEvents, TurnResult

MAX_PROGRESS_SHOWN = 12  # progress notes since the last check-in, newest kept
MAX_NOTE_CHARS = 300
UNANSWERED_GENTLE = 2  # after this many unanswered check-ins the tone changes
# Sent in the person's place (never saved): a request must end with a user message.
CHECKIN_CUE = "(Scheduled check-in: the person has not written. Write the check-in now.)"


@dataclass
class CheckinBrief:
    """What the coach is told before writing a check-in."""

    goals: list[GoalRow]
    progress: list[Progress]  # since the last check-in, oldest first (bounded)
    progress_total: int
    last_checkin_at: datetime | None
    unanswered: int
    today: date


@dataclass
class CheckinOutcome:
    """A finished check-in (`result`), or why none was written (`skipped`, with `next_due`)."""

    result: TurnResult | None = None
    skipped: str | None = None  # "not_due" | "nothing_yet"
    next_due: datetime | None = None


def claim(
    session: Session, user: User, *, every: timedelta | None, now: datetime | None = None
) -> Checkin | None:
    """Claim the next check-in: None when `every` is given and it is not due yet. The caller commits.

    The user's lock is taken before the schedule is read, so of several racing claims the
    first commits its row and the others then find it and get None.
    """
    now = now or utcnow()
    lock_user(session, user)
    if every is not None and not checkin_schedule(session, user.handle, every).due(now):
        return None
    row = Checkin(user_id=user.id, status="running", started_at=now)
    session.add(row)
    session.flush()
    return row


def finish(session: Session, checkin_id: str, *, message_id: int | None, ok: bool) -> None:
    """Record how the claimed check-in ended; a failed one does not hold back the next."""
    row = session.get(Checkin, checkin_id)
    if row is None:  # the user was deleted meanwhile
        return
    row.status = "done" if ok else "failed"
    row.message_id = message_id
    row.finished_at = utcnow()
    session.add(row)
    session.flush()


def has_material(session: Session, user: User) -> bool:
    """Anything to check in about: a goal, a progress note, or a coaching conversation."""
    if list_goals(session, user.handle):
        return True
    if session.exec(select(Progress.id).where(Progress.user_id == user.id).limit(1)).first():
        return True
    coaching = select(Conversation.id).where(Conversation.user_id == user.id, Conversation.type == "coaching")
    return (
        session.exec(select(Message.id).where(col(Message.conversation_id).in_(coaching)).limit(1)).first()
        is not None
    )


def gather(session: Session, user: User, *, today: date | None = None) -> CheckinBrief:
    status = get_status(session, user.handle)
    progress = progress_between(session, user, status.last_checkin_at)
    return CheckinBrief(
        goals=list_goals(session, user.handle),
        progress=progress[-MAX_PROGRESS_SHOWN:],
        progress_total=len(progress),
        last_checkin_at=status.last_checkin_at,
        unanswered=status.unread_checkins,
        today=today or local_today(),
    )


CHECKIN_RULES = """\
## This turn is a check-in
You are writing first: the person did not just say anything. This is a scheduled check-in, and
they will read it whenever they next open coach.
- Keep it short: two to four sentences, under 80 words.
- Name one specific thing you noticed: progress since the last check-in, a goal due soon or
  overdue, a commitment from the conversation, or that things have been quiet.
- Ask exactly one concrete question they can answer in a line.
- Promise nothing the tool cannot do: you cannot send reminders, messages or notifications, and
  you cannot schedule anything. Only say what you will do in the conversation itself.
- No guilt and no lecture; celebrate real progress plainly.
- Do not call tools in a check-in unless the person's own words since the last check-in ask for it."""

GENTLE_RULES = """\
- They have not answered the last {n} check-ins. Be gentler and even shorter: acknowledge they may
  be busy, do not repeat earlier questions, and offer an easy out (a one-word answer is fine, or
  they can change how often you check in with `coach config set checkin_every 3d`, or drop or
  change a goal)."""


def checkin_instruction(brief: CheckinBrief) -> str:
    """The check-in's rules and what happened since the last one, appended to the coach's prompt."""
    parts = [CHECKIN_RULES]
    if brief.unanswered >= UNANSWERED_GENTLE:
        parts.append(GENTLE_RULES.format(n=brief.unanswered))
    since = (
        f"since the last check-in ({brief.last_checkin_at:%Y-%m-%d})" if brief.last_checkin_at else "so far"
    )
    if brief.progress:
        titles = {row.goal.id: row.goal.title for row in brief.goals}
        lines = []
        for p in brief.progress:
            about = f" [{titles[p.goal_id]}]" if p.goal_id in titles else ""
            lines.append(f"- {p.created_at:%Y-%m-%d}{about}: {_short(p.text)}")
        more = brief.progress_total - len(brief.progress)
        if more > 0:
            lines.insert(0, f"- ({more} earlier notes not shown)")
        parts.append(f"\nProgress logged {since}:\n" + "\n".join(lines))
    else:
        parts.append(f"\nNo progress was logged {since}.")
    quiet = [row for row in brief.goals if _quiet_days(row, brief.today) is not None]
    if quiet:
        lines = [f"- {row.goal.title}: {_quiet_days(row, brief.today)}" for row in quiet]
        parts.append("\nHow recent each goal's progress is:\n" + "\n".join(lines))
    return "\n".join(parts)


def _quiet_days(row: GoalRow, today: date) -> str | None:
    if row.last_progress_at is None:
        return "no progress logged yet"
    days = (today - row.last_progress_at.date()).days
    left = days_left(row.goal.due, today)
    due = f", {left} days left" if left is not None and left >= 0 else ""
    return f"last progress {days} days ago{due}"


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_NOTE_CHARS else flat[: MAX_NOTE_CHARS - 1] + "…"


def run_checkin(
    session: Session,
    user: User,
    client_for: ClientFactory,
    *,
    every: timedelta | None,
    events: TurnEvents | None = None,
    context_tokens: int | None = None,
) -> CheckinOutcome:
    """Claim and write one check-in. With `every`, only when that long has passed since the last.

    The model client is made (`client_for(None)`) only once there is a check-in to write."""
    from coachcli.coaching.chat import CoachingTurn
    from coachcli.coaching.conversations import get_or_create_coaching

    if not has_material(session, user):
        session.rollback()
        return CheckinOutcome(skipped="nothing_yet")
    row = claim(session, user, every=every)
    if row is None:  # only with `every`: another run claimed it first, or it is not due yet
        next_due = checkin_schedule(session, user.handle, every).next_due if every is not None else None
        session.rollback()
        return CheckinOutcome(skipped="not_due", next_due=next_due)
    checkin_id = row.id
    coaching = get_or_create_coaching(session, user)
    anchor = session.exec(select(func.max(Message.id)).where(Message.conversation_id == coaching.id)).one()
    instruction = checkin_instruction(gather(session, user))
    session.commit()  # the claim is visible to every other process before the model is called
    try:
        turn = CoachingTurn(
            session,
            user.handle,
            client_for(None),
            client_for=client_for,
            events=events,
            context_tokens=context_tokens,
        )
        result = turn.respond(
            user,
            coaching.id,
            anchor=anchor,
            instruction=instruction,
            reply_fields={"kind": "checkin"},
            cue=CHECKIN_CUE,
        )
    except BaseException:
        session.rollback()
        finish(session, checkin_id, message_id=None, ok=False)
        session.commit()
        raise
    message_id = _reply_id(session, coaching.id, after=anchor) if result.saved else None
    finish(session, checkin_id, message_id=message_id, ok=message_id is not None)
    session.commit()
    return CheckinOutcome(result=result)


def _reply_id(session: Session, conversation_id: str, *, after: int | None) -> int | None:
    """The check-in's final reply: the newest check-in message written after the anchor."""
    query = select(func.max(Message.id)).where(
        Message.conversation_id == conversation_id,
        Message.kind == "checkin",
        Message.role == "assistant",
        col(Message.content) != "",
    )
    if after is not None:
        query = query.where(col(Message.id) > after)
    return session.exec(query).one()
