"""update_goal: the coach marks a goal done or dropped (or active again) when the person says so."""

from __future__ import annotations

from coachcli.coaching.goals import set_status
from coachcli.coaching.tools.base import Tool, ToolContext, arguments, require_arg, string
from coachcli.errors import CoachError, UsageError
from coachcli.store.models import GOAL_STATUSES

_SHOWN = {"done": "✓ Goal done", "dropped": "Goal dropped", "active": "Goal reopened"}


def run(ctx: ToolContext) -> str:
    goal_id = require_arg(ctx, "goal_id")
    status = require_arg(ctx, "status").lower()
    try:
        goal, changed = set_status(ctx.session, ctx.user, goal_id, status)
    except CoachError as exc:  # unknown id, bad status, a title clash on reopening
        raise UsageError(exc.message) from exc
    if not changed:
        return f"Goal {goal.id[:8]} was already {goal.status}."
    ctx.after_save(lambda: ctx.events.notice("goal", f"{_SHOWN[status]}: {goal.title}"))
    return f"Goal {goal.id[:8]} ({goal.title}) is now {goal.status}."


TOOL = Tool(
    name="update_goal",
    description="Change a goal's status when the person says they finished it (done), gave it up "
    "(dropped) or want it back (active).",
    parameters=arguments(
        "goal_id", "status", goal_id=string("The goal's id (or prefix)."), status=string(enum=GOAL_STATUSES)
    ),
    run=run,
)
