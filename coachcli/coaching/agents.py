"""Specialist agents: three built in, more defined by users and shared through the database."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlmodel import Session, col, select

from coachcli.coaching.text import require_storable
from coachcli.errors import ConflictError, NotFoundError, UsageError
from coachcli.store.models import Agent

DEFAULT_AGENT = "planner"
_NAME = re.compile(r"[a-z][a-z0-9-]{1,39}")  # used with fullmatch: `$` would allow a final newline
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")  # controls and bidi overrides


@dataclass(frozen=True)
class AgentSpec:
    name: str
    display_name: str
    description: str
    system_prompt: str
    model: str | None = None
    builtin: bool = False


_SHARED = (
    "You work for a coach. The person you help is the coachee; their durable facts follow the task "
    "when known. Respect them (schedule, health limits, preferences). Write for the coachee directly, "
    "in Markdown, concise and concrete. If something essential is unknown, state the assumption you "
    "made instead of asking, because you will not get a reply. Never give medical, legal or financial "
    "diagnosis; suggest a professional where it matters."
)

BUILTIN_AGENTS: dict[str, AgentSpec] = {
    "planner": AgentSpec(
        name="planner",
        display_name="Planner",
        description="Turns a goal into a realistic, step-by-step plan with a schedule and check-ins.",
        system_prompt=(
            "You are the Planner, a specialist in turning goals into plans people actually follow. "
            + _SHARED
            + " Produce: a one-line goal statement; the plan as weeks or phases, each with 2-5 concrete "
            "actions sized to the coachee's time; how progress is measured; the first action they can "
            "do today; and one fallback for a bad week. Prefer small, repeatable habits over heroics."
        ),
        builtin=True,
    ),
    "researcher": AgentSpec(
        name="researcher",
        display_name="Researcher",
        description="Finds and compares options, evidence and resources, and says how sure it is.",
        system_prompt=(
            "You are the Researcher, a specialist in finding and weighing options for a coachee. "
            + _SHARED
            + " Produce: a short answer first; then the options you found, each with what it is, who it "
            "suits, cost or effort, and its main drawback; a recommendation tied to the coachee's facts; "
            "and how confident you are. You have no web access: rely on well-established knowledge, "
            "name sources the coachee can check, and never invent citations or numbers."
        ),
        builtin=True,
    ),
    "writer": AgentSpec(
        name="writer",
        display_name="Writer",
        description="Drafts messages, reflections, summaries and other text in the coachee's voice.",
        system_prompt=(
            "You are the Writer, a specialist in drafting text for a coachee: emails, messages, "
            "journal prompts, reflections, summaries. "
            + _SHARED
            + " Match the tone the task asks for (default: warm, direct, plain words). Give the draft "
            "first, ready to copy; then at most three short notes on choices the coachee may want to "
            "change. Keep drafts as short as they can be while doing the job."
        ),
        builtin=True,
    ),
    "reviewer": AgentSpec(
        name="reviewer",
        display_name="Reviewer",
        description=(
            "Looks back over a period against the goals: what moved, what stalled, what to change next."
        ),
        system_prompt=(
            "You are the Reviewer, a specialist in looking back with a coachee over a period (usually a "
            "week) against their goals. "
            + _SHARED
            + " The task gives the goals, the progress notes, the coach's check-ins and a digest of the "
            "conversation for the period. Produce: one line on the period overall; per goal, what moved "
            "(cite the notes) and what stalled, plainly, without blame; patterns you see across goals; "
            "and at most three concrete changes for the next period, each small enough to start this "
            "week. Say so when the record is thin instead of guessing, and only use what the task shows."
        ),
        builtin=True,
    ),
}


def _spec(agent: Agent) -> AgentSpec:
    return AgentSpec(
        name=agent.name,
        display_name=agent.display_name,
        description=agent.description,
        system_prompt=agent.system_prompt,
        model=agent.model,
    )


def list_agents(session: Session) -> list[AgentSpec]:
    """Built-ins first, then the user-defined ones by name."""
    stored = session.exec(select(Agent).order_by(col(Agent.name)))
    return [*BUILTIN_AGENTS.values(), *(_spec(a) for a in stored if a.name not in BUILTIN_AGENTS)]


def get_agent(session: Session, name: str) -> AgentSpec:
    key = name.strip().lower()
    if key in BUILTIN_AGENTS:
        return BUILTIN_AGENTS[key]
    agent = session.get(Agent, key)
    if agent is None:
        known = ", ".join(a.name for a in list_agents(session))
        raise NotFoundError(f"no agent named {name!r}: known agents are {known}.")
    return _spec(agent)


def validate_name(name: str) -> str:
    if not _NAME.fullmatch(name):
        raise UsageError(
            f"invalid agent name {name!r}: use 2-40 lowercase letters, digits or '-', starting with a letter."
        )
    return name


def add_agent(
    session: Session,
    *,
    name: str,
    display_name: str,
    description: str,
    system_prompt: str,
    model: str | None = None,
) -> AgentSpec:
    """Store a user-defined specialist; built-in names cannot be shadowed."""
    name = validate_name(name)
    if name in BUILTIN_AGENTS:
        raise ConflictError(f"{name!r} is a built-in agent: choose another name.")
    fields = {"display name": display_name, "description": description, "prompt": system_prompt}
    for label, value in fields.items():
        if not require_storable(value, what=f"agent's {label}").strip():
            raise UsageError(f"the agent's {label} cannot be empty.")
    one_line = {"display name": display_name, "description": description, "model": model or ""}
    for label, value in one_line.items():
        if _CONTROL.search(" ".join(value.split())):  # whitespace folds to spaces; ESC & co. do not
            raise UsageError(f"the agent's {label} holds control characters: use plain text.")
    if len(display_name) > 80:
        raise UsageError("the display name is at most 80 characters.")
    if session.get(Agent, name) is not None:
        raise ConflictError(f"an agent named {name!r} exists: remove it first with `coach agents rm {name}`.")
    agent = Agent(
        name=name,
        display_name=" ".join(display_name.split()),
        description=" ".join(description.split()),
        system_prompt=system_prompt.strip(),
        model=(model or "").strip() or None,
    )
    session.add(agent)
    session.flush()
    return _spec(agent)


def remove_agent(session: Session, name: str) -> None:
    key = name.strip().lower()
    if key in BUILTIN_AGENTS:
        raise ConflictError(f"{key!r} is a built-in agent and cannot be removed.")
    agent = session.get(Agent, key)
    if agent is None:
        raise NotFoundError(f"no user-defined agent named {name!r}.")
    session.delete(agent)
    session.flush()
