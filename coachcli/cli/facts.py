"""`coach facts list|add|edit|rm`: durable user facts (reset never touches them)."""

from __future__ import annotations

from typing import Annotated

import typer

from coachcli.cli.common import JsonOpt, reading, writing
from coachcli.cli.output import emit_json, out, short_id, styled, when
from coachcli.cli.shapes import fact_json
from coachcli.cli.state import state

facts_app = typer.Typer(help="Durable facts about you that the coach and specialists use.")

FactIdArg = Annotated[str, typer.Argument(metavar="ID", help="Fact id or a unique prefix.")]
FactTextArg = Annotated[str, typer.Argument(help="The fact, in a short sentence.")]


@facts_app.command("list")
def list_cmd(
    ctx: typer.Context,
    all_facts: Annotated[
        bool, typer.Option("--all", "-a", help="Include replaced facts (the history of corrections).")
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Your current facts, oldest first (--all: with the ones corrections replaced)."""
    from coachcli.coaching.facts import list_facts

    with reading(state(ctx)) as (session, user):
        facts = list_facts(session, user, include_replaced=all_facts) if user else []
    if json_out:
        emit_json([fact_json(f, history=all_facts) for f in facts])
        return
    if not facts:
        out().print('No facts yet. Add one with: coach facts add "Prefers morning workouts"')
        return
    console = out()
    for fact in facts:
        if fact.superseded_at is None:
            note = f"({fact.source})"
        else:
            successor = f" by {short_id(fact.superseded_by)}" if fact.superseded_by else ""
            note = f"({fact.source}; replaced{successor} {when(fact.superseded_at)})"
        text_style = "dim strike" if fact.superseded_at is not None else ""
        console.print(styled((short_id(fact.id), "dim"), "  ", (fact.text, text_style), "  ", (note, "dim")))


@facts_app.command("add")
def add_cmd(ctx: typer.Context, text: FactTextArg, json_out: JsonOpt = False) -> None:
    """Add a fact; restating a known one merges into it (the line says which)."""
    from coachcli.coaching.facts import save_fact

    with writing(state(ctx)) as (session, user):
        change = save_fact(session, user, text, source="manual")
    if json_out:
        emit_json(fact_json(change.fact))
        return
    out().print(change.describe())


@facts_app.command("edit")
def edit_cmd(ctx: typer.Context, fact_id: FactIdArg, text: FactTextArg, json_out: JsonOpt = False) -> None:
    """Correct a fact: the new text replaces it, the old one is kept in the history (--all)."""
    from coachcli.coaching.facts import edit_fact

    with writing(state(ctx)) as (session, user):
        change = edit_fact(session, user, fact_id, text)
    if json_out:
        document = fact_json(change.fact)
        document["replaces"] = change.replaced.id if change.replaced is not None else None
        emit_json(document)
        return
    out().print(change.describe())


@facts_app.command("rm")
def rm_cmd(ctx: typer.Context, fact_id: FactIdArg, json_out: JsonOpt = False) -> None:
    """Remove a fact."""
    from coachcli.coaching.facts import remove_fact

    with writing(state(ctx)) as (session, user):
        fact = remove_fact(session, user, fact_id)
    if json_out:
        emit_json({"removed": fact_json(fact)})
        return
    out().print(f"Removed fact {short_id(fact.id)}: {fact.text}")


def register(app: typer.Typer) -> None:
    app.add_typer(facts_app, name="facts")
