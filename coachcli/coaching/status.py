"""The status at the door: goals, overdue ones, last progress and check-in, proposals, unread check-ins.

A handful of small queries and no model: `coach status` and the REPL's opening line use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from sqlalchemy import func
from sqlmodel import Session, col, select

from coachcli.coaching.checkin import last_checkin_at, unread_checkins
from coachcli.coaching.goals import local_today
from coachcli.store.models import Dispatch, Goal, Progress, User


@dataclass
class Status:
    goals_active: int
    goals_overdue: int
    last_progress_at: datetime | None
    last_checkin_at: datetime | None
    proposals_waiting: int
    unread_checkins: int


def get_status(session: Session, user: User, *, today: date | None = None) -> Status:
    today = today or local_today()
    goals = session.exec(
        select(func.count(), func.count().filter(col(Goal.due) < today)).where(
            Goal.user_id == user.id, Goal.status == "active"
        )
    ).one()
    last_progress = session.exec(
        select(func.max(Progress.created_at)).where(Progress.user_id == user.id)
    ).one()
    proposals = session.exec(
        select(func.count()).where(Dispatch.user_id == user.id, Dispatch.status == "proposed")
    ).one()
    return Status(
        goals_active=int(goals[0]),
        goals_overdue=int(goals[1]),
        last_progress_at=last_progress,
        last_checkin_at=last_checkin_at(session, user),
        proposals_waiting=int(proposals),
        unread_checkins=unread_checkins(session, user),
    )


def empty_status() -> Status:
    """For a user the store has never seen."""
    return Status(0, 0, None, None, 0, 0)
