"""One coaching turn: save the user's words first, fit the window, call the model, run its tools."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from sqlmodel import Session

from coachcli.coaching import dispatches
from coachcli.coaching.agents import get_agent, list_agents
from coachcli.coaching.context import Budget, TokenCounter, budget_for, fit_history
from coachcli.coaching.conversations import get_or_create_coaching, list_task_threads
from coachcli.coaching.facts import add_fact, list_facts
from coachcli.coaching.memories import add_note, get_summary, list_notes
from coachcli.coaching.messages import append_message
from coachcli.coaching.prompts import build_system_prompt
from coachcli.coaching.specialist import ClientFactory, approve_and_run
from coachcli.coaching.text import require_text
from coachcli.coaching.tools import TOOLS
from coachcli.coaching.users import get_or_create_user
from coachcli.errors import CoachError, UsageError
from coachcli.llm.client import LLMClient, StreamBroken
from coachcli.llm.types import Completion, ReplyInterrupted, ToolCall
from coachcli.store.models import Dispatch, User
from coachcli.store.types import utcnow

MAX_TOOL_ROUNDS = 6
MAX_MESSAGE_LENGTH = 100_000


@dataclass
class Decision:
    """What a person said about a proposal: approve (maybe with an edited task), reject, or later."""

    action: str  # "approve" | "reject" | "later"
    task: str | None = None
    reason: str | None = None


class TurnEvents(Protocol):
    def text(self, piece: str) -> None: ...
    def fact_saved(self, text: str, created: bool) -> None: ...
    def memory_saved(self, text: str) -> None: ...
    def proposal(self, dispatch: Dispatch, display_name: str) -> Decision: ...
    def dispatch_started(self, dispatch: Dispatch) -> Callable[[], None]: ...
    def dispatch_finished(self, outcome: dispatches.DispatchOutcome) -> None: ...


class QuietEvents:
    """Defaults for one-shot turns: nothing streamed, proposals left for later."""

    def text(self, piece: str) -> None:
        return None

    def fact_saved(self, text: str, created: bool) -> None:
        return None

    def memory_saved(self, text: str) -> None:
        return None

    def proposal(self, dispatch: Dispatch, display_name: str) -> Decision:
        return Decision("later")

    def dispatch_started(self, dispatch: Dispatch) -> Callable[[], None]:
        return lambda: None

    def dispatch_finished(self, outcome: dispatches.DispatchOutcome) -> None:
        return None


@dataclass
class TurnResult:
    conversation_id: str
    reply: str
    model: str
    input_tokens: int | None = None
    output_tokens: int | None = None
    cost_usd: float | None = None
    facts_saved: list[str] = field(default_factory=list)
    memories_saved: list[str] = field(default_factory=list)
    proposals: list[Dispatch] = field(default_factory=list)
    outcomes: list[dispatches.DispatchOutcome] = field(default_factory=list)

    def add_usage(self, completion: Completion) -> None:
        if completion.input_tokens is not None:
            self.input_tokens = (self.input_tokens or 0) + completion.input_tokens
        if completion.output_tokens is not None:
            self.output_tokens = (self.output_tokens or 0) + completion.output_tokens
        if completion.cost_usd is not None:
            self.cost_usd = (self.cost_usd or 0.0) + completion.cost_usd


def clean_message(text: str) -> str:
    return require_text(
        text, what="message", limit=MAX_MESSAGE_LENGTH, empty_hint="say something to the coach."
    )


class CoachingTurn:
    """Runs one turn for one user. Each store write is its own short transaction."""

    def __init__(
        self,
        session: Session,
        handle: str,
        client: LLMClient,
        *,
        client_for: ClientFactory | None = None,
        events: TurnEvents | None = None,
        context_tokens: int | None = None,
    ) -> None:
        self.session = session
        self.handle = handle
        self.client = client
        self.client_for = client_for or (lambda _model: client)
        self.events: TurnEvents = events or QuietEvents()
        self.context_tokens = context_tokens
        self.counter = TokenCounter(client)

    def run(self, text: str) -> TurnResult:
        text = clean_message(text)
        session = self.session
        user = get_or_create_user(session, self.handle)
        coaching = get_or_create_coaching(session, user)
        append_message(session, coaching.id, "user", text)
        session.commit()  # the user's words are safe before the model is called
        self.client.check_credentials()
        budget = budget_for(self.client, self.context_tokens)
        result = TurnResult(conversation_id=coaching.id, reply="", model=self.client.model)
        for _ in range(MAX_TOOL_ROUNDS):
            completion = self._call(user, coaching.id, budget)
            result.add_usage(completion)
            result.model = completion.model
            if completion.content:
                result.reply = completion.content
            if not completion.tool_calls:
                return result
            for call in completion.tool_calls:
                outcome = self._run_tool(user, coaching.id, call, result)
                append_message(session, coaching.id, "tool", outcome, tool_call_id=call.id)
                session.commit()
        result.reply = result.reply or "(the coach kept calling tools; stopped after several rounds)"
        return result

    def _call(self, user: User, conversation_id: str, budget: Budget) -> Completion:
        session = self.session
        request = fit_history(
            session,
            user,
            conversation_id,
            self.client,
            budget,
            lambda: self._system_prompt(user, conversation_id),
            self.counter,
        )
        session.commit()  # no lock is held while the model streams
        try:
            completion = self.client.complete(
                request, tools=TOOLS, on_text=self.events.text, max_tokens=budget.reply
            )
        except ReplyInterrupted as stop:
            self._save_partial(conversation_id, stop.partial)
            raise
        except StreamBroken as broken:
            self._save_partial(conversation_id, broken.partial)
            raise
        append_message(
            session,
            conversation_id,
            "assistant",
            completion.content,
            tool_calls=[c.as_openai() for c in completion.tool_calls] or None,
            model=completion.model,
            input_tokens=completion.input_tokens,
            output_tokens=completion.output_tokens,
            cost_usd=completion.cost_usd,
        )
        session.commit()
        return completion

    def _save_partial(self, conversation_id: str, partial: Completion) -> None:
        """What was shown before Ctrl-C or a broken stream is kept, marked interrupted."""
        self.session.rollback()
        if partial.content:
            append_message(
                self.session,
                conversation_id,
                "assistant",
                partial.content,
                status="interrupted",
                model=partial.model,
            )
            self.session.commit()

    def _system_prompt(self, user: User, conversation_id: str) -> str:
        session = self.session
        return build_system_prompt(
            handle=user.handle,
            now=utcnow(),
            facts=list_facts(session, user),
            notes=list_notes(session, conversation_id, limit=30),
            summary=get_summary(session, conversation_id),
            threads=list_task_threads(session, user, conversation_id, limit=10),
            agents=list_agents(session),
        )

    # -- tools ----------------------------------------------------------------------------

    def _run_tool(self, user: User, conversation_id: str, call: ToolCall, result: TurnResult) -> str:
        try:
            args = call.parsed()
        except (ValueError, json.JSONDecodeError):
            return f"Error: the arguments for {call.name} were not valid JSON; nothing was done."
        handler = {
            "remember_fact": self._remember_fact,
            "save_memory": self._save_memory,
            "propose_dispatch": self._propose_dispatch,
        }.get(call.name)
        if handler is None:
            return f"Error: there is no tool named {call.name!r}."
        try:
            return handler(user, conversation_id, call, args, result)
        except UsageError as exc:
            self.session.rollback()
            return f"Error: {exc.message}"

    def _remember_fact(
        self, user: User, _cid: str, _call: ToolCall, args: dict[str, Any], result: TurnResult
    ) -> str:
        text = str(args.get("fact", ""))
        replaces = args.get("replaces_fact_id") or None
        try:
            fact, created = add_fact(self.session, user, text, source="coach", replaces=replaces)
        except CoachError as exc:  # e.g. an unknown replaces id: save it as a new fact instead
            self.session.rollback()
            if replaces is None:
                raise UsageError(exc.message) from exc
            fact, created = add_fact(self.session, user, text, source="coach")
        self.session.commit()
        result.facts_saved.append(fact.text)
        self.events.fact_saved(fact.text, created)
        return f"{'Saved' if created else 'Updated'} fact {fact.id[:8]}: {fact.text}"

    def _save_memory(
        self, user: User, conversation_id: str, _call: ToolCall, args: dict[str, Any], result: TurnResult
    ) -> str:
        memory = add_note(self.session, user, conversation_id, str(args.get("note", "")))
        self.session.commit()
        result.memories_saved.append(memory.content)
        self.events.memory_saved(memory.content)
        return "Saved."

    def _propose_dispatch(
        self, user: User, _cid: str, call: ToolCall, args: dict[str, Any], result: TurnResult
    ) -> str:
        session = self.session
        try:
            spec = get_agent(session, str(args.get("agent", "")))
        except CoachError:
            known = ", ".join(a.name for a in list_agents(session))
            return f"Error: no specialist named {args.get('agent')!r}; known: {known}."
        dispatch = dispatches.create_dispatch(
            session,
            user,
            agent=spec.name,
            task=str(args.get("task", "")),
            proposed_by="coach",
            status="proposed",
            tool_call_id=call.id,
        )
        session.commit()
        result.proposals.append(dispatch)
        decision = self.events.proposal(dispatch, spec.display_name)
        short = dispatch.id[:8]
        if decision.action == "reject":
            dispatches.reject(session, dispatch, decision.reason)
            session.commit()
            reason = f" Reason: {decision.reason}" if decision.reason else ""
            return f"The person declined the proposal to have the {spec.display_name} do it.{reason}"
        if decision.action != "approve":
            return (
                f"Proposal {short} saved for the person to decide later "
                f"(`coach dispatches approve {short}`). Tell them it is waiting for approval."
            )
        if decision.task and decision.task.strip() != dispatch.task:
            dispatch.task = dispatches.clean_task(decision.task)
            session.add(dispatch)
            session.commit()
        done = self.events.dispatch_started(dispatch)
        try:
            outcome = approve_and_run(session, user, dispatch, self.client_for)
        except CoachError as exc:
            done()
            retry = f"`coach dispatches retry {short}`"
            return f"The {spec.display_name} failed: {exc.message} (retry with {retry})."
        done()
        result.outcomes.append(outcome)
        self.events.dispatch_finished(outcome)
        preview = (outcome.result or "")[:1500]
        return (
            f"Approved and done. Task thread {(outcome.task_thread_id or '')[:8]} holds the result. "
            f"Result:\n{preview}"
        )
