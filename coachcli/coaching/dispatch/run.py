"""Running a specialist: pick it, run it on the task, and save the result as a task thread."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlmodel import Session

from coachcli.coaching import dispatches
from coachcli.coaching.agents import DEFAULT_AGENT, AgentSpec, get_agent, list_agents
from coachcli.coaching.facts import list_facts
from coachcli.coaching.runner import Heartbeat
from coachcli.errors import CoachError, ConflictError
from coachcli.llm.client import LLMClient, StreamBroken
from coachcli.llm.types import Completion, ReplyInterrupted
from coachcli.store.models import Dispatch, User

ClientFactory = Callable[[str | None], LLMClient]
TextCallback = Callable[[str], None]


def specialist_messages(spec: AgentSpec, task: str, facts: list[str]) -> list[dict[str, str]]:
    """The specialist sees its prompt, the task and the durable facts: not the coaching history."""
    body = f"Task: {task}"
    if facts:
        body += "\n\nWhat we know about the coachee:\n" + "\n".join(f"- {fact}" for fact in facts)
    return [{"role": "system", "content": spec.system_prompt}, {"role": "user", "content": body}]


def execute_specialist_agent(
    client: LLMClient,
    spec: AgentSpec,
    task: str,
    facts: list[str],
    *,
    on_text: TextCallback | None = None,
) -> Completion:
    """One model call; raises ProviderError (or StreamBroken with the partial text)."""
    return client.complete(specialist_messages(spec, task, facts), on_text=on_text)


@dataclass
class Pick:
    agent: str
    by_model: bool
    usage: Completion | None = None


def pick_agent(client: LLMClient, agents: list[AgentSpec], task: str) -> Pick:
    """Ask the model once which specialist fits; an unusable answer falls back to the planner."""
    catalogue = "\n".join(f"- {a.name}: {a.description}" for a in agents)
    messages = [
        {
            "role": "system",
            "content": "You route coaching tasks to specialists. Answer with the specialist's name only.",
        },
        {"role": "user", "content": f"Specialists:\n{catalogue}\n\nTask: {task}\n\nWhich specialist?"},
    ]
    reply = client.complete(messages, max_tokens=20)
    names = {a.name for a in agents}
    for word in re.findall(r"[a-z][a-z0-9-]+", reply.content.lower()):
        if word in names:
            return Pick(word, True, reply)
    return Pick(DEFAULT_AGENT, False, reply)


def _add_usage(a: Completion | None, b: Completion) -> Completion:
    if a is None:
        return b

    def plus(x: float | int | None, y: float | int | None) -> float | int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)

    return Completion(
        content=b.content,
        model=b.model,
        input_tokens=plus(a.input_tokens, b.input_tokens),  # type: ignore[arg-type]
        output_tokens=plus(a.output_tokens, b.output_tokens),  # type: ignore[arg-type]
        cost_usd=plus(a.cost_usd, b.cost_usd),
    )


def resolve_approved_dispatch(
    session: Session,
    user: User,
    dispatch: Dispatch,
    client_for: ClientFactory,
    *,
    on_text: TextCallback | None = None,
    extra_usage: Completion | None = None,
) -> dispatches.DispatchOutcome:
    """Claim an approved dispatch, run it outside any transaction, then commit the outcome at once.

    Success and its task thread are one transaction; a failure records the error and no thread.
    """
    spec = get_agent(session, dispatch.agent)  # before the claim: an unknown agent leaves it approved
    if not dispatches.claim(session, dispatch):
        session.rollback()
        raise dispatches.refusal(session, dispatch.id, "run")
    facts = [fact.text for fact in list_facts(session, user)]
    session.commit()  # the claim is visible; no lock is held while the model works
    try:
        with Heartbeat(session.get_bind(), dispatch.id):
            completion = execute_specialist_agent(
                client_for(spec.model), spec, dispatch.task, facts, on_text=on_text
            )
    except ReplyInterrupted as stop:
        _record_failure(session, dispatch, "interrupted by the user", stop.partial, status="interrupted")
        raise
    except StreamBroken as exc:
        _record_failure(session, dispatch, exc.message, exc.partial)
        raise
    except CoachError as exc:
        _record_failure(session, dispatch, exc.message, None)
        raise
    totals = _add_usage(extra_usage, completion)
    dispatches.succeed(
        session, user, dispatch, agent_display_name=spec.display_name, completion=completion, usage=totals
    )
    session.commit()
    session.refresh(dispatch)
    return dispatches.DispatchOutcome.of(dispatch)


def _record_failure(
    session: Session, dispatch: Dispatch, error: str, partial: Completion | None, *, status: str = "failed"
) -> None:
    session.rollback()
    if partial is not None and partial.content:
        error = f"{error} (partial result kept: {partial.content[:1500]})"
    if status == "interrupted":
        dispatches.interrupt(session, dispatch, error)
    else:
        dispatches.fail(session, dispatch, error)
    session.commit()
    session.refresh(dispatch)  # the UPDATE skipped the identity map: callers must not see "running"


def dispatch_now(
    session: Session,
    user: User,
    task: str,
    client_for: ClientFactory,
    *,
    agent: str | None = None,
    on_pick: Callable[[Pick], None] | None = None,
    on_text: TextCallback | None = None,
) -> dispatches.DispatchOutcome:
    """`coach dispatch`: an operator's task runs at once (picking the specialist if none is named)."""
    task = dispatches.clean_task(task)
    usage: Completion | None = None
    if agent is None:
        session.commit()
        pick = pick_agent(client_for(None), list_agents(session), task)
        usage = pick.usage
        if on_pick:
            on_pick(pick)
        agent = pick.agent
    spec = get_agent(session, agent)
    dispatch = dispatches.create_dispatch(
        session, user, agent=spec.name, task=task, proposed_by="operator", status="approved"
    )
    session.commit()
    return resolve_approved_dispatch(session, user, dispatch, client_for, on_text=on_text, extra_usage=usage)


def approve_and_run(
    session: Session,
    user: User,
    dispatch: Dispatch,
    client_for: ClientFactory,
    *,
    on_text: TextCallback | None = None,
) -> dispatches.DispatchOutcome:
    """A person approves a proposed dispatch: exactly one approver wins and runs it."""
    try:
        dispatches.approve(session, dispatch)
    except ConflictError:
        session.rollback()
        raise
    session.commit()
    return resolve_approved_dispatch(session, user, dispatch, client_for, on_text=on_text)
