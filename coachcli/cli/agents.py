"""`coach agents list|show|add|rm`: the specialists a task can go to."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from coachcli.cli.common import JsonOpt, writing
from coachcli.cli.output import emit_json, out, print_columns, styled
from coachcli.cli.shapes import agent_json
from coachcli.cli.state import state
from coachcli.errors import UsageError

agents_app = typer.Typer(help="Specialist agents: built-in planner, researcher and writer, plus your own.")


@agents_app.command("list")
def list_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Built-in and user-defined specialists."""
    from coachcli.coaching.agents import list_agents

    app = state(ctx)
    with app.store().read_session() as session:
        specs = list_agents(session)
    if json_out:
        emit_json([agent_json(s) for s in specs])
        return
    rows = [
        [s.name + (" *" if s.builtin else ""), s.display_name, s.model or "default", s.description]
        for s in specs
    ]
    print_columns(("NAME", "DISPLAY NAME", "MODEL", "DESCRIPTION"), rows, give_way=(2, 1))
    out().print("* built in", style="dim")


@agents_app.command("show")
def show_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Agent name.")],
    json_out: JsonOpt = False,
) -> None:
    """One specialist, with its system prompt."""
    from coachcli.coaching.agents import get_agent

    with state(ctx).store().read_session() as session:
        spec = get_agent(session, name)
    if json_out:
        emit_json(agent_json(spec, full=True))
        return
    console = out()
    builtin = ", built in" if spec.builtin else ""
    console.print(styled((spec.display_name, "bold"), f" ({spec.name}{builtin})"))
    console.print(spec.description)
    console.print(f"model: {spec.model or 'the default model'}", style="dim")
    console.print()
    console.print(spec.system_prompt)


@agents_app.command("add")
def add_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Slug: lowercase letters, digits, '-'.")],
    display_name: Annotated[str, typer.Option("--display-name", help="Name shown to people.")],
    description: Annotated[str, typer.Option("--description", help="One line: what it is good for.")],
    prompt: Annotated[str | None, typer.Option("--prompt", help="The system prompt.")] = None,
    prompt_file: Annotated[
        Path | None, typer.Option("--prompt-file", help="Read the system prompt from a file.")
    ] = None,
    model: Annotated[str | None, typer.Option("--model", help="Model for this agent's runs.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Define a specialist, stored in the database (shared by everyone on it)."""
    from coachcli.coaching.agents import add_agent

    if (prompt is None) == (prompt_file is None):
        raise UsageError("give the system prompt with exactly one of --prompt or --prompt-file.")
    if prompt_file is not None:
        try:
            prompt = prompt_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"cannot read {prompt_file}: {getattr(exc, 'strerror', None) or exc}.") from exc
    with writing(state(ctx)) as (session, _user):
        spec = add_agent(
            session,
            name=name,
            display_name=display_name,
            description=description,
            system_prompt=prompt or "",
            model=model,
        )
    if json_out:
        emit_json(agent_json(spec))
        return
    out().print(f"Added agent {spec.name} ({spec.display_name}).")


@agents_app.command("rm")
def rm_cmd(
    ctx: typer.Context,
    name: Annotated[str, typer.Argument(help="Agent name.")],
    json_out: JsonOpt = False,
) -> None:
    """Remove a user-defined specialist (built-ins stay)."""
    from coachcli.coaching.agents import remove_agent

    with writing(state(ctx)) as (session, _user):
        remove_agent(session, name)
    if json_out:
        emit_json({"removed": name})
        return
    out().print(f"Removed agent {name}.")


def register(app: typer.Typer) -> None:
    app.add_typer(agents_app, name="agents")
