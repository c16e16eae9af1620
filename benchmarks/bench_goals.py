"""Goal commands that call no model, cold, against cold `coach tasks list` (issue 12: ≤ 1.15×)."""

from __future__ import annotations

import shutil
from pathlib import Path

from core import COACH, Bench, Case, Outcome, command_versus, progress

GOALS, NOTES = 8, 400


def goals_home(bench: Bench) -> Path:
    """A copy of the standard store whose user has goals, progress notes and a check-in just done
    (so `checkin --if-due` is not due): the state a daily cron job usually finds."""
    home = bench.tmp / "goals-home"
    if home.exists():
        return home
    progress(f"copying the standard store; adding {GOALS} goals, {NOTES} progress notes, a check-in")
    shutil.copytree(bench.home(), home)
    from datetime import timedelta

    import seed

    from coachcli.coaching.users import get_or_create_user
    from coachcli.store.engine import Store
    from coachcli.store.models import Checkin, Goal, Progress
    from coachcli.store.types import utcnow

    store = Store(f"sqlite:///{home / 'coach.db'}")
    try:
        with store.write() as session:
            user = get_or_create_user(session, seed.USER)
            now = utcnow()
            goals = [
                Goal(
                    user_id=user.id,
                    title=f"Goal {n}: a habit worth keeping",
                    due=(now + timedelta(days=7 * n - 10)).date(),
                )
                for n in range(GOALS)
            ]
            session.add_all(goals)
            session.flush()
            session.add_all(
                Progress(
                    user_id=user.id,
                    goal_id=goals[n % GOALS].id,
                    text=f"Step {n} done",
                    created_at=now - timedelta(hours=n),
                )
                for n in range(NOTES)
            )
            session.add(Checkin(user_id=user.id, status="done", started_at=now, finished_at=now))
    finally:
        store.dispose()
    return home


def goal_commands(bench: Bench) -> Outcome:
    env = bench.env(goals_home(bench))
    figures = [
        command_versus(
            bench,
            "cold `coach goals list` (8 goals, 400 notes)",
            [COACH, "goals", "list"],
            1.15,
            env=env,
            seed=21,
        ),
        command_versus(bench, "cold `coach status`", [COACH, "status"], 1.15, env=env, seed=22),
        command_versus(
            bench,
            "cold `coach checkin --if-due` (not due)",
            [COACH, "checkin", "--if-due"],
            1.15,
            env=env,
            seed=23,
        ),
    ]
    return Outcome(figures)


CASES = [
    Case(
        "goals",
        goal_commands,
        """\
- **Goals**: `coach goals list`, `coach status` and `coach checkin --if-due` when the check-in is not
  due (the daily cron case), each a new process, against `coach tasks list` in the same rounds, on a
  copy of the standard store whose user has 8 goals, 400 progress notes and a check-in just done.""",
    ),
]
