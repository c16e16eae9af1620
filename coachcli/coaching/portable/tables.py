"""The tables behind the models: export and import read and write rows, not ORM objects."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table

from coachcli.store.models import Agent, Conversation, Dispatch, Goal, Memory, Message, Progress, UserFact


def table(model: Any) -> Table:
    """A model's Core table (its columns are typed for SQLAlchemy, unlike the model's attributes)."""
    found: Table = model.__table__
    return found


AGENTS = table(Agent)
CONVERSATIONS = table(Conversation)
DISPATCHES = table(Dispatch)
FACTS = table(UserFact)
GOALS = table(Goal)
MEMORIES = table(Memory)
MESSAGES = table(Message)
PROGRESS = table(Progress)
