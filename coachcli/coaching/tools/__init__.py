"""The coach's tools: one module per tool, its JSON schema next to its handler, one registry list.

How to add a tool (one new file, one registry line):

1. Create `coachcli/coaching/tools/<name>.py`::

       from coachcli.coaching.tools.base import Tool, ToolContext, arguments, string

       def run(ctx: ToolContext) -> str:
           title = ctx.text_arg("title")          # ctx.args holds the parsed JSON arguments
           goal = add_goal(ctx.session, ctx.user, title)   # write with ctx.session; do NOT commit
           ctx.after_save(lambda: ctx.events.notice("goal", f"✓ New goal: {goal.title}"))
           return f"Saved goal {goal.id[:8]}."    # what the model reads as the tool result

       TOOL = Tool(
           name="set_goal",
           description="What the model reads to decide when to call it.",
           parameters=arguments("title", title=string("The goal in a few words.")),  # required first
           run=run,
       )

2. Add `<name>.TOOL` to `TOOLS` in `coachcli/coaching/tools/registry.py`.
3. Mention it in the coach's prompt (coaching/prompts.py) if the model needs guidance.

The contract a handler relies on:
- The turn checks, in the same transaction, that the conversation was not reset since the turn
  began, then calls the handler, then stores the tool result and commits once. So a handler only
  writes (flush at most): its writes and the tool result are kept together, or dropped together
  when the conversation was reset meanwhile. A handler that must wait on a person or a model
  (propose_dispatch) commits before waiting.
- Bad arguments: raise `UsageError("what is wrong")`; the turn rolls back the handler's writes and
  the model reads `Error: what is wrong`. Never raise for something the model can fix by reading.
- Lines for the person go through `ctx.events` (`notice(kind, text)` for a one-line note), best
  registered with `ctx.after_save(...)` so nothing is announced that was not stored.

This package's `__init__` imports nothing, so importing a tool module stays cheap.
"""
