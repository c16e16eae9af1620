"""Running a dispatch: claim it, pick the specialist if nobody named one, run it, record the result.

Every entry point claims the dispatch (approved → running) in the same transaction as its own
transition, and everything after the claim ends in succeeded, failed or interrupted: no run is
left `approved` or `running` behind a failure. The dispatch comes back either way, as the return
value or on `DispatchFailed.outcome`, so callers never look it up again.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session

from coachcli.coaching.agents import DEFAULT_AGENT, AgentSpec, get_agent, list_agents
from coachcli.coaching.dispatch import lifecycle
from coachcli.coaching.dispatch.lifecycle import DispatchOutcome
from coachcli.coaching.dispatch.liveness import Heartbeat
from coachcli.coaching.facts import list_facts
from coachcli.coaching.usage import dispatch_kind, record_call
from coachcli.errors import CoachError
from coachcli.llm.types import Completion, ReplyInterrupted
from coachcli.store.models import Dispatch, User

if TYPE_CHECKING:
    from coachcli.llm.client import LLMClient

ClientFactory = Callable[[str | None], "LLMClient"]
TextCallback = Callable[[str], None]


class DispatchFailed(CoachError):
    """A run that failed after its dispatch existed: the cause's message and exit code, plus the
    dispatch as recorded (status failed, with the error), so a caller can print it or retry it."""

    def __init__(self, outcome: DispatchOutcome, cause: CoachError) -> None:
        super().__init__(cause.message, hint=cause.hint)
        self.outcome = outcome
        self.cause = cause
        self.exit_code = cause.exit_code


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

    def plus_int(x: int | None, y: int | None) -> int | None:
        return None if x is None and y is None else (x or 0) + (y or 0)

    def plus_float(x: float | None, y: float | None) -> float | None:
        return None if x is None and y is None else (x or 0.0) + (y or 0.0)

    return Completion(
        content=b.content,
        model=b.model,
        input_tokens=plus_int(a.input_tokens, b.input_tokens),
        output_tokens=plus_int(a.output_tokens, b.output_tokens),
        cost_usd=plus_float(a.cost_usd, b.cost_usd),
    )


# -- entry points ------------------------------------------------------------------------------


def dispatch_now(
    session: Session,
    user: User,
    task: str,
    client_for: ClientFactory,
    *,
    agent: str | None = None,
    on_pick: Callable[[Pick], None] | None = None,
    on_text: TextCallback | None = None,
) -> DispatchOutcome:
    """`coach dispatch`: an operator's task runs at once, picking the specialist if none is named.

    The dispatch is created and claimed before the pick, so a failed pick is a failed dispatch of
    its own (retryable) rather than an error with nothing to show for it.
    """
    task = lifecycle.clean_task(task)
    named = get_agent(session, agent).name if agent is not None else None
    dispatch = lifecycle.create_dispatch(
        session, user, agent=named or DEFAULT_AGENT, task=task, proposed_by="operator", status="approved"
    )
    _claim(session, dispatch)
    return _run_claimed(
        session, user, dispatch, client_for, pick=named is None, on_pick=on_pick, on_text=on_text
    )


def approve_and_run(
    session: Session,
    user: User,
    dispatch: Dispatch,
    client_for: ClientFactory,
    *,
    task: str | None = None,
    on_text: TextCallback | None = None,
) -> DispatchOutcome:
    """A person approves a proposed dispatch (maybe with an edited task): exactly one approver wins
    and runs it. An agent that no longer exists is refused before anything changes."""
    return _decide_then_run(
        session, user, dispatch, client_for, lambda: lifecycle.approve(session, dispatch, task), on_text
    )


def retry_and_run(
    session: Session,
    user: User,
    dispatch: Dispatch,
    client_for: ClientFactory,
    *,
    on_text: TextCallback | None = None,
) -> DispatchOutcome:
    """A failed or interrupted dispatch runs again (its agent must still exist)."""
    return _decide_then_run(
        session, user, dispatch, client_for, lambda: lifecycle.retry(session, dispatch), on_text
    )


def _decide_then_run(
    session: Session,
    user: User,
    dispatch: Dispatch,
    client_for: ClientFactory,
    decide: Callable[[], Dispatch],
    on_text: TextCallback | None,
) -> DispatchOutcome:
    """The person's transition (to approved) and the claim commit together: never left approved."""
    get_agent(session, dispatch.agent)
    try:
        decide()
    except CoachError:
        session.rollback()
        raise
    return resolve_approved_dispatch(session, user, dispatch, client_for, on_text=on_text)


def resolve_approved_dispatch(
    session: Session,
    user: User,
    dispatch: Dispatch,
    client_for: ClientFactory,
    *,
    on_text: TextCallback | None = None,
) -> DispatchOutcome:
    """Claim an approved dispatch (committing the caller's transition with it) and run it.

    Success and its task thread are one transaction; a failure records the error and no thread.
    """
    get_agent(session, dispatch.agent)  # an unknown agent is refused before the claim
    _claim(session, dispatch)
    return _run_claimed(session, user, dispatch, client_for, on_text=on_text)


# -- the run itself ----------------------------------------------------------------------------


def _claim(session: Session, dispatch: Dispatch) -> None:
    if not lifecycle.claim(session, dispatch):
        session.rollback()
        raise lifecycle.refusal(session, dispatch.id, "run")
    session.commit()  # the claim is visible; no lock is held while the model works


def _run_claimed(
    session: Session,
    user: User,
    dispatch: Dispatch,
    client_for: ClientFactory,
    *,
    pick: bool = False,
    on_pick: Callable[[Pick], None] | None = None,
    on_text: TextCallback | None = None,
) -> DispatchOutcome:
    """Everything after the claim. Any failure ends the dispatch failed (interrupted on Ctrl-C)."""
    usage: Completion | None = None
    try:
        with Heartbeat(session.get_bind(), dispatch.id):
            if pick:
                agents = list_agents(session)
                session.commit()
                try:
                    choice = pick_agent(client_for(None), agents, dispatch.task)
                except CoachError as exc:
                    wrapped = CoachError(f"choosing a specialist failed: {exc.message}", hint=exc.hint)
                    wrapped.exit_code = exc.exit_code
                    raise wrapped from exc
                usage = choice.usage
                lifecycle.assign(session, dispatch, choice.agent)
                if choice.usage is not None:
                    record_call(
                        session,
                        user.id,
                        "pick",
                        choice.usage,
                        conversation_id=dispatch.conversation_id,
                        dispatch_id=dispatch.id,
                    )
                session.commit()
                if on_pick:
                    on_pick(choice)
            spec = get_agent(session, dispatch.agent)
            facts = [fact.text for fact in list_facts(session, user)]
            session.commit()
            completion = execute_specialist_agent(
                client_for(spec.model), spec, dispatch.task, facts, on_text=on_text
            )
        _record_run(session, dispatch, completion)
        lifecycle.succeed(
            session,
            user,
            dispatch,
            agent_display_name=spec.display_name,
            completion=completion,
            usage=_add_usage(usage, completion),
        )
        session.commit()
    except ReplyInterrupted as stop:
        _record_failure(session, dispatch, "interrupted by the user", stop.partial, status="interrupted")
        raise
    except KeyboardInterrupt:
        _record_failure(session, dispatch, "interrupted by the user", None, status="interrupted")
        raise
    except CoachError as exc:
        partial = getattr(exc, "partial", None)  # StreamBroken keeps what had arrived
        outcome = _record_failure(session, dispatch, exc.message, partial)
        raise DispatchFailed(outcome, exc) from exc
    except Exception as exc:  # a bug or a database failure: still not left running
        _record_failure(session, dispatch, f"internal error ({type(exc).__name__}: {exc})", None)
        raise
    session.refresh(dispatch)
    return DispatchOutcome.of(dispatch)


def _record_run(session: Session, dispatch: Dispatch, completion: Completion) -> None:
    """The specialist's call in the usage ledger, with the dispatch's own transition."""
    record_call(
        session,
        dispatch.user_id,
        dispatch_kind(dispatch.agent),
        completion,
        conversation_id=dispatch.conversation_id,
        dispatch_id=dispatch.id,
        agent=dispatch.agent,
    )


def _record_failure(
    session: Session, dispatch: Dispatch, error: str, partial: Completion | None, *, status: str = "failed"
) -> DispatchOutcome:
    session.rollback()
    if partial is not None and partial.content:
        error = f"{error} (partial result kept: {partial.content[:1500]})"
        _record_run(session, dispatch, partial)
    if status == "interrupted":
        lifecycle.interrupt(session, dispatch, error)
    else:
        lifecycle.fail(session, dispatch, error)
    session.commit()
    session.refresh(dispatch)  # the UPDATE skipped the identity map: callers must not see "running"
    return DispatchOutcome.of(dispatch)
