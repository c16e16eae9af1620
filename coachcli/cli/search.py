"""`coach search QUERY`: the user's whole history, best matches first."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any

import typer

from coachcli.cli.common import JsonOpt
from coachcli.cli.output import emit_json, iso, out, short_id, visible, when
from coachcli.cli.state import state

if TYPE_CHECKING:
    from rich.text import Text

    from coachcli.coaching.search import Hit

MATCH_STYLE = "bold yellow"
NEIGHBOUR_WIDTH = 200  # characters of a neighbouring turn shown in plain output


def hit_json(hit: Hit, *, with_context: bool) -> dict[str, Any]:
    document: dict[str, Any] = {
        "type": hit.type,
        "id": hit.id,
        "conversation_id": hit.conversation_id,
        "role": hit.role,
        "content": hit.content,
        "created_at": iso(hit.created_at),
        "score": hit.score,
    }
    if with_context:
        document["context"] = [
            {"id": c.id, "role": c.role, "content": c.content, "created_at": iso(c.created_at)}
            for c in hit.context
        ]
    return document


def search_cmd(
    ctx: typer.Context,
    query: Annotated[str, typer.Argument(help="Words to look for; a question works too.")],
    limit: Annotated[int, typer.Option("--limit", "-n", min=1, max=200, help="Show at most N hits.")] = 10,
    types: Annotated[
        list[str] | None,
        typer.Option(
            "--type",
            "-t",
            help="Only message (coaching), task (task threads), fact, memory or progress; repeatable.",
        ),
    ] = None,
    context: Annotated[
        int | None,
        typer.Option(
            "--context",
            "-C",
            min=0,
            max=10,
            help="Turns shown around a message hit [default: 1; 0 with --json]",
        ),
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """Search your messages, task threads, facts, memories and progress notes."""
    from coachcli.coaching.search import search

    turns = context if context is not None else (0 if json_out else 1)
    app = state(ctx)
    store = app.store_for_reading()
    if store is None:  # no schema yet: nothing to find, but the query is still checked
        hits = search(None, None, query, limit=limit, types=types, context=turns)
    else:
        with store.read_session() as session:  # by handle: no ORM models to load
            hits = search(session, app.settings().user, query, limit=limit, types=types, context=turns)
    if json_out:
        emit_json([hit_json(hit, with_context=context is not None) for hit in hits])
        return
    if not hits:
        out().print("Nothing found. Try other words, or fewer of them.")
        return
    from coachcli.coaching.search_text import query_terms

    terms = query_terms(query)
    console = out()
    for hit in hits:
        console.print(_header(hit))
        before = [c for c in hit.context if c.before]
        after = [c for c in hit.context if not c.before]
        for neighbour in before:
            console.print(_neighbour(neighbour.role, neighbour.content))
        console.print(_highlighted(hit.content, terms))
        for neighbour in after:
            console.print(_neighbour(neighbour.role, neighbour.content))
        console.print()


def _speaker(role: str | None) -> str:
    return {"user": "you", "assistant": "coach"}.get(role or "", role or "")


def _header(hit: Hit) -> Text:
    from rich.text import Text

    line = Text()
    line.append(when(hit.created_at), style="dim")
    line.append("  ")
    line.append(visible(hit.where, one_line=True), style="bold")
    if hit.role:
        line.append(f" · {_speaker(hit.role)}")
    line.append(f"  {short_id(str(hit.id))}", style="dim")
    return line


def _highlighted(content: str, terms: Any) -> Text:
    """The hit's text, literally, with the matching words styled (never parsed as markup)."""
    from rich.text import Text

    from coachcli.coaching.search_text import match_spans

    text = Text("  ")
    done = 0
    for start, end in match_spans(content, terms):
        text.append(visible(content[done:start]))
        text.append(visible(content[start:end]), style=MATCH_STYLE)
        done = end
    text.append(visible(content[done:]))
    return text


def _neighbour(role: str, content: str) -> Text:
    from rich.text import Text

    flat = " ".join(content.split())
    if len(flat) > NEIGHBOUR_WIDTH:
        flat = flat[: NEIGHBOUR_WIDTH - 1] + "…"
    return Text(f"  {_speaker(role)}: {visible(flat, one_line=True)}", style="dim")


def register(app: typer.Typer) -> None:
    app.command("search")(search_cmd)
