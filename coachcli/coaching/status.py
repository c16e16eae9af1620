"""The status at the door, and when the next check-in is due: plain SQL by handle, no table models.

`coach status`, the REPL's opening line and `coach checkin --if-due` (the daily cron case) read
only this, so they start as fast as `coach tasks list`. It is also the one place that says what
an unread check-in is: a check-in reply in the coaching conversation written after the person's
last message there.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, Integer, Text, bindparam, text
from sqlmodel import Session

from coachcli.coaching.goals import local_today
from coachcli.store.types import UTCDateTime

# Check-in replies (c: the check-in, m: its reply, cv: the coaching conversation) that the person
# has not answered yet: written after their last message in the coaching conversation.
_UNREAD_FROM = """
checkins AS c
JOIN messages AS m ON m.id = c.message_id
JOIN conversations AS cv ON cv.id = m.conversation_id AND cv.type = 'coaching' AND cv.user_id = c.user_id
"""
_UNREAD_WHERE = """
c.status = 'done' AND m.position > COALESCE(
  (SELECT max(mu.position) FROM messages AS mu WHERE mu.conversation_id = cv.id AND mu.role = 'user'), 0)
"""

_STATUS = f"""
SELECT
  (SELECT count(*) FROM goals AS g WHERE g.user_id = u.id AND g.status = 'active') AS goals_active,
  (SELECT count(*) FROM goals AS g WHERE g.user_id = u.id AND g.status = 'active' AND g.due < :today)
    AS goals_overdue,
  (SELECT max(p.created_at) FROM progress AS p WHERE p.user_id = u.id) AS last_progress_at,
  (SELECT max(c.finished_at) FROM checkins AS c WHERE c.user_id = u.id AND c.status = 'done')
    AS last_checkin_at,
  (SELECT count(*) FROM dispatches AS d WHERE d.user_id = u.id AND d.status = 'proposed')
    AS proposals_waiting,
  (SELECT count(*) FROM {_UNREAD_FROM} WHERE c.user_id = u.id AND {_UNREAD_WHERE}) AS unread_checkins
FROM users AS u WHERE u.handle = :handle
"""

_UNREAD_TEXTS = f"""
SELECT m.content, m.created_at FROM {_UNREAD_FROM}
JOIN users AS u ON u.id = c.user_id
WHERE u.handle = :handle AND {_UNREAD_WHERE}
ORDER BY m.position DESC LIMIT :limit
"""

_LAST_CLAIM = """
SELECT max(c.started_at) AS last FROM checkins AS c JOIN users AS u ON u.id = c.user_id
WHERE u.handle = :handle AND c.status IN ('running', 'done')
"""


@dataclass
class Status:
    goals_active: int = 0
    goals_overdue: int = 0
    last_progress_at: datetime | None = None
    last_checkin_at: datetime | None = None
    proposals_waiting: int = 0
    unread_checkins: int = 0


def get_status(session: Session, handle: str, *, today: date | None = None) -> Status:
    """The user's status in one query; all zeros for a handle the store has not seen."""
    query = (
        text(_STATUS)
        .bindparams(bindparam("today", type_=Date))
        .columns(
            goals_active=Integer,
            goals_overdue=Integer,
            last_progress_at=UTCDateTime,
            last_checkin_at=UTCDateTime,
            proposals_waiting=Integer,
            unread_checkins=Integer,
        )
    )
    row = session.execute(query, {"handle": handle, "today": today or local_today()}).first()
    return Status(*row) if row is not None else Status()


def unread_checkins(session: Session, handle: str, *, limit: int = 3) -> list[tuple[str, datetime]]:
    """The newest unread check-ins as (content, written at), oldest first: the REPL shows them."""
    query = text(_UNREAD_TEXTS).columns(content=Text, created_at=UTCDateTime)
    rows = [(row[0], row[1]) for row in session.execute(query, {"handle": handle, "limit": limit})]
    return rows[::-1]


@dataclass
class Schedule:
    """When the last check-in was claimed and when the next one is due (None: due now)."""

    last_claimed_at: datetime | None
    next_due: datetime | None

    def due(self, now: datetime) -> bool:
        return self.next_due is None or now >= self.next_due


MAX_GRACE = timedelta(hours=1)


def checkin_schedule(session: Session, handle: str, every: timedelta) -> Schedule:
    """When the next check-in is due: `every` after the last claim, less a grace of a tenth of it
    (at most an hour), so a daily timer that fires a few seconds early never skips a day.

    Claims that count: finished check-ins, and running ones (a live or a crashed run waits one
    interval, never a storm of retries). Failed ones do not hold back the next."""
    query = text(_LAST_CLAIM).columns(last=UTCDateTime)
    last = session.execute(query, {"handle": handle}).scalar()
    if last is None:
        return Schedule(last_claimed_at=None, next_due=None)
    return Schedule(last_claimed_at=last, next_due=last + every - min(every / 10, MAX_GRACE))
