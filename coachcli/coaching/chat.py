"""One coaching turn: save the user's words first, fit the window, call the model, run its tools.

A turn remembers its anchor, the message it answers. Every save of the turn first locks the
conversation row and checks that the anchor is still there: after a `coach reset` from elsewhere
the late reply is still returned (and shown) but nothing more of that turn is stored.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from sqlmodel import Session

from coachcli.coaching.agents import list_agents
from coachcli.coaching.context import Budget, Cue, TokenCounter, budget_for, fit_history
from coachcli.coaching.conversations import get_or_create_coaching, list_task_threads
from coachcli.coaching.facts import list_facts
from coachcli.coaching.goals import goal_briefs
from coachcli.coaching.memories import get_summary, list_notes
from coachcli.coaching.messages import append_message, append_reply, message_exists
from coachcli.coaching.prompts import build_system_prompt
from coachcli.coaching.text import require_text
from coachcli.coaching.tools.base import ToolContext
from coachcli.coaching.tools.registry import find_tool, schemas
from coachcli.coaching.turn_events import QuietEvents, TurnEvents, TurnResult
from coachcli.coaching.usage import record_call
from coachcli.coaching.users import get_or_create_user
from coachcli.errors import UsageError
from coachcli.llm.client import StreamBroken
from coachcli.llm.types import Completion, ReplyInterrupted, ToolCall
from coachcli.store.models import User
from coachcli.store.types import utcnow

if TYPE_CHECKING:
    from coachcli.coaching.dispatch.run import ClientFactory
    from coachcli.llm.client import LLMClient

MAX_TOOL_ROUNDS = 6
MAX_MESSAGE_LENGTH = 100_000


class ConversationWasReset(Exception):
    """The turn's anchor message is gone: the conversation was reset while the turn ran."""


def clean_message(text: str) -> str:
    return require_text(
        text, what="message", limit=MAX_MESSAGE_LENGTH, empty_hint="say something to the coach."
    )


class CoachingTurn:
    """Runs turns for one user. Each store write is its own short transaction."""

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
        self.client_for: ClientFactory = client_for or (lambda _model: client)
        self.events: TurnEvents = events or QuietEvents()
        self.context_tokens = context_tokens
        self.counter = TokenCounter(client)

    def run(self, text: str) -> TurnResult:
        """The person's message, saved before the model is called, then the coach's answer."""
        text = clean_message(text)
        session = self.session
        user = get_or_create_user(session, self.handle)
        coaching = get_or_create_coaching(session, user)
        anchor = append_message(session, coaching.id, "user", text).id
        session.commit()  # the user's words are safe before the model is called
        return self.respond(user, coaching.id, anchor=anchor)

    def respond(
        self,
        user: User,
        conversation_id: str,
        *,
        anchor: int | None,
        instruction: str | None = None,
        reply_fields: Mapping[str, Any] | None = None,
        cue: str | None = None,
    ) -> TurnResult:
        """The model loop: call, store the reply, run its tools, until the model answers.

        `run` calls it after saving the person's message (the anchor). A coach-initiated turn (a
        check-in) calls it directly: no new user message, `instruction` appended to the system
        prompt, `reply_fields` (e.g. kind="checkin") stored on the assistant messages, as anchor
        the message it follows (None: no reset check), and `cue`, a user message sent after that
        anchor but never saved, so every request ends with a user message (see `Cue`).
        """
        self.client.check_credentials()
        budget = budget_for(self.client, self.context_tokens)
        result = TurnResult(conversation_id=conversation_id, reply="", model=self.client.model)
        turn = _Turn(
            self,
            user,
            conversation_id,
            anchor,
            instruction,
            dict(reply_fields or {}),
            Cue(cue, after=anchor) if cue else None,
        )
        try:
            for _ in range(MAX_TOOL_ROUNDS):
                completion = turn.call(budget, result)
                if not completion.tool_calls:
                    return result
                for call in completion.tool_calls:
                    turn.run_tool(call, result)
        except ConversationWasReset:
            self.session.rollback()
            result.saved = False
            return result
        result.reply = result.reply or "(the coach kept calling tools; stopped after several rounds)"
        return result


class _Turn:
    """The state of one running turn: whose it is, where it writes, and what it answers."""

    def __init__(
        self,
        owner: CoachingTurn,
        user: User,
        conversation_id: str,
        anchor: int | None,
        instruction: str | None,
        reply_fields: dict[str, Any],
        cue: Cue | None,
    ) -> None:
        self.owner = owner
        self.session = owner.session
        self.user = user
        self.conversation_id = conversation_id
        self.anchor = anchor
        self.instruction = instruction
        self.reply_fields = reply_fields
        self.cue = cue  # only a turn the coach starts has one

    def guard(self) -> None:
        """Lock the conversation row and check the anchor; raise when the conversation was reset."""
        if self.anchor is not None and not message_exists(self.session, self.conversation_id, self.anchor):
            raise ConversationWasReset

    def call(self, budget: Budget, result: TurnResult) -> Completion:
        session = self.session
        client = self.owner.client
        self.guard()
        request = fit_history(
            session,
            self.user,
            self.conversation_id,
            client,
            budget,
            self.system_prompt,
            self.owner.counter,
            self.guard,
            self.cue,
        )
        session.commit()  # no lock is held while the model streams
        try:
            completion = client.complete(
                request, tools=schemas(), on_text=self.owner.events.text, max_tokens=budget.reply
            )
        except ReplyInterrupted as stop:
            self.save_partial(stop.partial)
            raise
        except StreamBroken as broken:
            self.save_partial(broken.partial)
            raise
        result.add_usage(completion)
        result.model = completion.model
        if completion.content:
            result.reply = completion.content
        try:
            self.guard()
        except ConversationWasReset:
            self.session.rollback()
            self.record(completion)  # the call was paid for even though its reply is not kept
            session.commit()
            raise
        self.record(completion)
        append_reply(
            session,
            self.conversation_id,
            completion,
            tool_calls=[c.as_openai() for c in completion.tool_calls] or None,
            **self.reply_fields,
        )
        session.commit()
        return completion

    def save_partial(self, partial: Completion) -> None:
        """What was shown before Ctrl-C or a broken stream is kept, marked interrupted."""
        self.session.rollback()
        if not partial.content:
            return
        try:
            self.guard()
        except ConversationWasReset:
            self.session.rollback()
            self.record(partial)  # its cost is still the user's
            self.session.commit()
            return
        self.record(partial)
        append_message(
            self.session,
            self.conversation_id,
            "assistant",
            partial.content,
            status="interrupted",
            model=partial.model,
            **self.reply_fields,
        )
        self.session.commit()

    def record(self, completion: Completion) -> None:
        """The call in the usage ledger, in the transaction that saves its reply."""
        kind = "checkin" if self.reply_fields.get("kind") == "checkin" else "chat"
        record_call(self.session, self.user.id, kind, completion, conversation_id=self.conversation_id)

    def system_prompt(self) -> str:
        session = self.session
        prompt = build_system_prompt(
            handle=self.user.handle,
            now=utcnow(),
            facts=list_facts(session, self.user),
            notes=list_notes(session, self.conversation_id, limit=30),
            summary=get_summary(session, self.conversation_id),
            threads=list_task_threads(session, self.user, self.conversation_id, limit=10),
            agents=list_agents(session),
            goals=goal_briefs(session, self.user),
        )
        return f"{prompt}\n\n{self.instruction}" if self.instruction else prompt

    def run_tool(self, call: ToolCall, result: TurnResult) -> None:
        """Run one tool and store its result with its writes, in one transaction, or neither."""
        session = self.session
        self.guard()
        ctx: ToolContext | None = None
        tool = find_tool(call.name)
        if tool is None:
            outcome = f"Error: there is no tool named {call.name!r}."
        else:
            try:
                args = call.parsed()
            except (ValueError, json.JSONDecodeError):
                args = None
            if args is None:
                outcome = f"Error: the arguments for {call.name} were not valid JSON; nothing was done."
            else:
                ctx = ToolContext(
                    session=session,
                    user=self.user,
                    conversation_id=self.conversation_id,
                    call=call,
                    args=args,
                    events=self.owner.events,
                    result=result,
                    client_for=self.owner.client_for,
                )
                try:
                    outcome = tool.run(ctx)
                except UsageError as exc:
                    session.rollback()
                    ctx = None
                    outcome = f"Error: {exc.message}"
        self.guard()  # again: a tool that waited on a person or a model has committed meanwhile
        append_message(session, self.conversation_id, "tool", outcome, tool_call_id=call.id)
        session.commit()
        if ctx is not None:
            ctx.saved()
