"""remember_fact: keep a durable fact about the person (reset keeps facts)."""

from __future__ import annotations

from coachcli.coaching.facts import save_fact
from coachcli.coaching.tools.base import Tool, ToolContext, arguments, string
from coachcli.errors import CoachError, UsageError


def run(ctx: ToolContext) -> str:
    text = ctx.text_arg("fact")
    replaces = ctx.text_arg("replaces_fact_id").strip() or None
    try:
        with ctx.session.begin_nested():  # a refused `replaces` leaves the turn's transaction usable
            change = save_fact(ctx.session, ctx.user, text, source="coach", replaces=replaces)
    except CoachError as exc:  # e.g. an unknown replaces id: save it as a new fact instead
        if replaces is None:
            raise UsageError(exc.message) from exc
        change = save_fact(ctx.session, ctx.user, text, source="coach")
    saved_text, created = change.fact.text, change.created
    ctx.after_save(lambda: ctx.events.fact_saved(saved_text, created))
    return change.describe()  # names the fact, also the one a restatement merged into


TOOL = Tool(
    name="remember_fact",
    description="Save a durable fact about the person (survives reset). "
    "Use replaces_fact_id when it restates or corrects a known fact.",
    parameters=arguments(
        "fact",
        fact=string("One short sentence."),
        replaces_fact_id=string("Id (or prefix) of the fact this one corrects, if any."),
    ),
    run=run,
)
