"""What shell completion offers from the store: ids and names of the user's own rows.

Each function is one small indexed query with a LIMIT, run on every Tab press: (value, help)
pairs, newest first, whose value starts with what was typed. All take (session, handle, prefix)
first, so cli/complete.py can name any of them the same way.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import Session, col, select

from coachcli.store.models import (
    Conversation,
    Dispatch,
    Goal,
    Memory,
    User,
    UserFact,
)

LIMIT = 50
Choice = tuple[str, str]  # (value, help)


def _user_id(handle: str) -> Any:
    return select(User.id).where(User.handle == handle).scalar_subquery()


def _coaching_id(handle: str) -> Any:
    return (
        select(Conversation.id)
        .where(Conversation.user_id == _user_id(handle), Conversation.type == "coaching")
        .scalar_subquery()
    )


def _starting(column: Any, prefix: str) -> Any:
    return col(column).startswith(prefix.lower(), autoescape=True)


def task_threads(session: Session, handle: str, prefix: str) -> list[Choice]:
    """Task threads under the user's coaching conversation (the parent index, newest first)."""
    query = (
        select(Conversation.id, Conversation.title)
        .where(Conversation.parent_id == _coaching_id(handle), _starting(Conversation.id, prefix))
        .order_by(col(Conversation.created_at).desc())
        .limit(LIMIT)
    )
    return [(id_, title or "") for id_, title in session.exec(query)]


def dispatches(session: Session, handle: str, prefix: str, statuses: tuple[str, ...]) -> list[Choice]:
    """Dispatches in a state the command accepts (approve and reject: proposed; retry: failed…)."""
    query = (
        select(Dispatch.id, Dispatch.agent, Dispatch.task)
        .where(
            Dispatch.user_id == _user_id(handle),
            col(Dispatch.status).in_(statuses),
            _starting(Dispatch.id, prefix),
        )
        .order_by(col(Dispatch.created_at).desc())
        .limit(LIMIT)
    )
    return [(id_, f"{agent}: {task}") for id_, agent, task in session.exec(query)]


def retryable_dispatches(session: Session, handle: str, prefix: str) -> list[Choice]:
    """Dispatches `coach dispatches retry` accepts."""
    from coachcli.coaching.dispatch.lifecycle import RETRYABLE

    return dispatches(session, handle, prefix, RETRYABLE)


def agent_names(session: Session, _handle: str, prefix: str, *, builtin: bool = True) -> list[Choice]:
    """Specialists by name (`agents.list_agents`): all, or only the removable (stored) ones."""
    from coachcli.coaching.agents import BUILTIN_AGENTS, list_agents

    typed = prefix.lower()
    return sorted(
        (spec.name, spec.description)
        for spec in list_agents(session)
        if spec.name.startswith(typed) and (builtin or spec.name not in BUILTIN_AGENTS)
    )[:LIMIT]


def facts(session: Session, handle: str, prefix: str) -> list[Choice]:
    query = (
        select(UserFact.id, UserFact.text)
        .where(
            UserFact.user_id == _user_id(handle),
            col(UserFact.superseded_at).is_(None),
            _starting(UserFact.id, prefix),
        )
        .order_by(col(UserFact.created_at).desc())
        .limit(LIMIT)
    )
    return list(session.exec(query))


def goals(session: Session, handle: str, prefix: str, statuses: tuple[str, ...]) -> list[Choice]:
    query = (
        select(Goal.id, Goal.title)
        .where(Goal.user_id == _user_id(handle), col(Goal.status).in_(statuses), _starting(Goal.id, prefix))
        .order_by(col(Goal.created_at).desc())
        .limit(LIMIT)
    )
    return list(session.exec(query))


def memory_notes(session: Session, handle: str, prefix: str) -> list[Choice]:
    """The coach's notes on the user's coaching conversation (the running summary is not removable)."""
    query = (
        select(Memory.id, Memory.content)
        .where(
            Memory.conversation_id == _coaching_id(handle),
            Memory.kind == "note",
            _starting(Memory.id, prefix),
        )
        .order_by(col(Memory.created_at).desc())
        .limit(LIMIT)
    )
    return list(session.exec(query))
