"""set_goal: the coach records a goal the person has set (reset keeps goals)."""

from __future__ import annotations

from coachcli.coaching.goals import add_goal, parse_due
from coachcli.coaching.tools.base import Tool, ToolContext, arguments, require_arg, string


def run(ctx: ToolContext) -> str:
    title = require_arg(ctx, "title")
    due_text = ctx.text_arg("due").strip()
    due = parse_due(due_text) if due_text else None  # a bad or past date: an error the model reads
    goal, created = add_goal(ctx.session, ctx.user, title, due=due, why=ctx.text_arg("why") or None)
    if not created:
        return f"Already an active goal {goal.id[:8]}: {goal.title}. Nothing added."
    shown = f"{goal.title} (due {goal.due.isoformat()})" if goal.due else goal.title
    ctx.after_save(lambda: ctx.events.notice("goal", f"✓ New goal: {shown}"))
    return f"Saved goal {goal.id[:8]}: {shown}."


TOOL = Tool(
    name="set_goal",
    description="Record a goal the person has clearly set for themselves (not one you suggest). "
    "An active goal with the same title is not added twice.",
    parameters=arguments(
        "title",
        title=string("The goal in a few words, e.g. 'Run a 10k'."),
        due=string("Optional due date: YYYY-MM-DD, +30d, +4w or words like 'next friday'."),
        why=string("Optional: why it matters to them, in their words."),
    ),
    run=run,
)
