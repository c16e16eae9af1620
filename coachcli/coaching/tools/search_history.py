"""search_history: the coach looks up what the person said earlier and is no longer in view."""

from __future__ import annotations

from typing import TYPE_CHECKING

from coachcli.coaching.tools.base import Tool, ToolContext, arguments, require_arg, string

if TYPE_CHECKING:  # the search modules load when the coach searches, not with every turn's tools
    from coachcli.coaching.search import Hit

DEFAULT_LIMIT = 5
MAX_LIMIT = 20
SHOWN_CHARS = 600  # of each hit; the model can search again with more precise words


def run(ctx: ToolContext) -> str:
    from coachcli.coaching.search import search

    query = require_arg(ctx, "query")
    limit = _limit(ctx.args.get("limit"))
    ctx.events.notice("dim", f"searched your history for: {' '.join(query.split())[:120]}")
    hits = search(ctx.session, ctx.user, query, limit=limit, context=1)
    if not hits:
        return f"Nothing found for {query!r}. Try other words (names, places, activities)."
    lines = [f"{len(hits)} results for {query!r}, best first:"]
    for number, hit in enumerate(hits, 1):
        lines.append(f"{number}. {_describe(hit)}")
    return "\n".join(lines)


def _limit(value: object) -> int:
    try:
        number = int(str(value)) if value is not None else DEFAULT_LIMIT
    except ValueError:
        number = DEFAULT_LIMIT
    return min(max(number, 1), MAX_LIMIT)


def _speaker(role: str | None) -> str:
    return {"user": "the person", "assistant": "you (coach)"}.get(role or "", role or "")


def _short(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= SHOWN_CHARS else flat[: SHOWN_CHARS - 1] + "…"


def _describe(hit: Hit) -> str:
    when = hit.created_at.strftime("%Y-%m-%d %H:%M UTC")
    said = f"{_speaker(hit.role)}: " if hit.role else ""
    text = f"[{when} · {hit.where}] {said}{_short(hit.content)}"
    for turn in hit.context:
        place = "before" if turn.before else "after"
        text += f"\n   ({place}) {_speaker(turn.role)}: {_short(turn.content)}"
    return text


TOOL = Tool(
    name="search_history",
    description="Search everything the person said before, including conversation no longer in view "
    "(older messages, task threads, facts, notes, progress). Use it when they refer to something "
    "earlier that is not in view; pass the key words (names, places, activities).",
    parameters=arguments(
        "query",
        query=string("Words to look for, or a question."),
        limit={"type": "integer", "description": f"How many results (default {DEFAULT_LIMIT})."},
    ),
    run=run,
)
