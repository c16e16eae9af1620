"""Every tool the coach may call, in the order the model sees them. Add a tool: one line here."""

from __future__ import annotations

from typing import Any

from coachcli.coaching.tools import (
    log_progress,
    propose_dispatch,
    remember_fact,
    save_memory,
    search_history,
    set_goal,
    update_goal,
)
from coachcli.coaching.tools.base import Tool

TOOLS: tuple[Tool, ...] = (
    remember_fact.TOOL,
    save_memory.TOOL,
    propose_dispatch.TOOL,
    set_goal.TOOL,
    log_progress.TOOL,
    update_goal.TOOL,
    search_history.TOOL,
)


def schemas() -> list[dict[str, Any]]:
    """The tool schemas sent with every coaching request."""
    return [tool.schema() for tool in TOOLS]


def find_tool(name: str) -> Tool | None:
    return next((tool for tool in TOOLS if tool.name == name), None)
