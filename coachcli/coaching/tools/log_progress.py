"""log_progress: the coach notes progress the person reports, on a goal or in general."""

from __future__ import annotations

from coachcli.coaching.goals import log_progress
from coachcli.coaching.tools.base import Tool, ToolContext, arguments, require_arg, string
from coachcli.errors import CoachError, UsageError


def run(ctx: ToolContext) -> str:
    text = require_arg(ctx, "text")
    goal_id = ctx.text_arg("goal_id").strip() or None
    try:
        note, goal = log_progress(ctx.session, ctx.user, text, goal=goal_id, source="coach")
    except CoachError as exc:  # an unknown or ambiguous goal id: the model reads it and can fix it
        raise UsageError(exc.message) from exc
    shown = f"✓ Progress on {goal.title}" if goal else "✓ Progress noted"
    ctx.after_save(lambda: ctx.events.notice("progress", f"{shown}: {note.text}"))
    return f"Logged progress {note.id[:8]}" + (f" on goal {goal.id[:8]} ({goal.title})." if goal else ".")


TOOL = Tool(
    name="log_progress",
    description="Log something the person did or achieved, as a progress note; pass goal_id when "
    "it is about one of their goals.",
    parameters=arguments(
        "text",
        text=string("What they did, in one short sentence."),
        goal_id=string("Optional: the goal's id (or prefix)."),
    ),
    run=run,
)
