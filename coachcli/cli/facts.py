"""`coach facts list|add|rm`: durable user facts (reset never touches them)."""

from __future__ import annotations

from typing import Annotated

import typer

from coachcli.cli.common import JsonOpt, reading, writing
from coachcli.cli.output import emit_json, iso, out, short_id
from coachcli.cli.state import state

facts_app = typer.Typer(help="Durable facts about you that the coach and specialists use.")


def fact_json(fact: object) -> dict[str, object]:
    return {
        "id": fact.id,  # type: ignore[attr-defined]
        "text": fact.text,  # type: ignore[attr-defined]
        "source": fact.source,  # type: ignore[attr-defined]
        "created_at": iso(fact.created_at),  # type: ignore[attr-defined]
    }


@facts_app.command("list")
def list_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Your durable facts, oldest first."""
    from coachcli.coaching.facts import list_facts

    with reading(state(ctx)) as (session, user):
        facts = list_facts(session, user) if user else []
    if json_out:
        emit_json([fact_json(f) for f in facts])
        return
    if not facts:
        out().print('No facts yet. Add one with: coach facts add "Prefers morning workouts"')
        return
    for fact in facts:
        out().print(
            f"[dim]{short_id(fact.id)}[/dim]  {fact.text}  [dim]({fact.source})[/dim]", highlight=False
        )


@facts_app.command("add")
def add_cmd(
    ctx: typer.Context,
    text: Annotated[str, typer.Argument(help="The fact, in a short sentence.")],
    json_out: JsonOpt = False,
) -> None:
    """Add a fact; restating an existing one updates it instead of duplicating it."""
    from coachcli.coaching.facts import add_fact

    with writing(state(ctx)) as (session, user):
        fact, created = add_fact(session, user, text, source="manual")
    if json_out:
        emit_json(fact_json(fact))
        return
    verb = "Added" if created else "Updated"
    out().print(f"{verb} fact {short_id(fact.id)}: {fact.text}", markup=False)


@facts_app.command("rm")
def rm_cmd(
    ctx: typer.Context,
    fact_id: Annotated[str, typer.Argument(metavar="ID", help="Fact id or a unique prefix.")],
    json_out: JsonOpt = False,
) -> None:
    """Remove a fact."""
    from coachcli.coaching.facts import remove_fact

    with writing(state(ctx)) as (session, user):
        fact = remove_fact(session, user, fact_id)
    if json_out:
        emit_json({"removed": fact_json(fact)})
        return
    out().print(f"Removed fact {short_id(fact.id)}: {fact.text}", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(facts_app, name="facts")
