"""The JSON documents of DESIGN.md, one function per shape, used by every command that prints one.

Change a shape here and every command that prints that entity changes with it; the contract
tests compare the keys.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from coachcli.cli.output import iso

if TYPE_CHECKING:  # the store models load only when a command has a row to print
    from collections.abc import Sequence

    from coachcli.coaching.agents import AgentSpec
    from coachcli.coaching.conversations import TaskThreadRow
    from coachcli.coaching.dispatch.lifecycle import DispatchOutcome
    from coachcli.coaching.turn_events import TurnResult
    from coachcli.store.models import Conversation, Dispatch, Message, UserFact

Document = dict[str, Any]


def dispatch_json(outcome: DispatchOutcome) -> Document:
    """`dispatch --json`, `dispatches approve|retry --json`: a run's dispatch. A failed or interrupted
    one adds "error", so a script always has the id to retry and the reason."""
    document: Document = {
        "dispatch_id": outcome.dispatch_id,
        "status": outcome.status,
        "agent": outcome.agent,
        "task": outcome.task,
        "task_thread_id": outcome.task_thread_id,
        "result": outcome.result,
    }
    if outcome.status in ("failed", "interrupted"):
        document["error"] = outcome.error
    return document


def error_json(message: str) -> Document:
    """A failure before any dispatch existed (bad task, unknown agent): nothing to retry."""
    return {"error": message}


def dispatch_row_json(dispatch: Dispatch) -> Document:
    """`dispatches list --json` rows, and `dispatches reject --json`."""
    return {
        "id": dispatch.id,
        "status": dispatch.status,
        "agent": dispatch.agent,
        "task": dispatch.task,
        "proposed_by": dispatch.proposed_by,
        "task_thread_id": dispatch.task_thread_id,
        "created_at": iso(dispatch.created_at),
    }


def task_thread_row_json(row: TaskThreadRow) -> Document:
    """`tasks list --json` rows."""
    return {
        "id": row.id,
        "title": row.title,
        "agent": row.agent,
        "created_at": iso(row.created_at),
        "updated_at": iso(row.updated_at),
    }


def task_thread_json(thread: Conversation, messages: Sequence[Message]) -> Document:
    """`tasks show --json`: the thread and its messages in order."""
    return {
        "id": thread.id,
        "type": thread.type,
        "parent_id": thread.parent_id,
        "title": thread.title,
        "mode": thread.mode,
        "created_at": iso(thread.created_at),
        "updated_at": iso(thread.updated_at),
        "messages": [
            {"role": m.role, "content": m.content, "created_at": iso(m.created_at)} for m in messages
        ],
    }


def chat_turn_json(result: TurnResult) -> Document:
    """`chat MESSAGE --json` (check-ins add their own keys to it)."""
    return {
        "conversation_id": result.conversation_id,
        "reply": result.reply,
        "model": result.model,
        "input_tokens": result.input_tokens,
        "output_tokens": result.output_tokens,
        "cost_usd": result.cost_usd,
    }


def fact_json(fact: UserFact, *, history: bool = False) -> Document:
    """`facts list|add|edit --json` (a UserFact); with `history` (`--all`) also when and by what
    it was replaced."""
    document: Document = {
        "id": fact.id,
        "text": fact.text,
        "source": fact.source,
        "created_at": iso(fact.created_at),
    }
    if history:
        document["superseded_at"] = iso(fact.superseded_at)
        document["superseded_by"] = fact.superseded_by
    return document


def agent_json(spec: AgentSpec, *, full: bool = False) -> Document:
    """`agents list|add --json` (an AgentSpec); `agents show --json` adds the system prompt."""
    document: Document = {
        "name": spec.name,
        "display_name": spec.display_name,
        "description": spec.description,
        "model": spec.model,
        "builtin": spec.builtin,
    }
    if full:
        document["system_prompt"] = spec.system_prompt
    return document
