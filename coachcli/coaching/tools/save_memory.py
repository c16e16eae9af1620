"""save_memory: a note about this coaching conversation (reset deletes it)."""

from __future__ import annotations

from coachcli.coaching.memories import add_note
from coachcli.coaching.tools.base import Tool, ToolContext, arguments, string


def run(ctx: ToolContext) -> str:
    memory = add_note(ctx.session, ctx.user, ctx.conversation_id, ctx.text_arg("note"))
    content = memory.content
    ctx.after_save(lambda: ctx.events.memory_saved(content))
    return "Saved."


TOOL = Tool(
    name="save_memory",
    description="Save a note about this coaching conversation (cleared by reset).",
    parameters=arguments("note", note=string()),
    run=run,
)
