"""Check one record of an export file and turn it into clean values, naming the place of each problem.

Every check says what is wrong and where (`conversations[0].messages[12]: role "bot" is not one
of user, assistant, tool, system`), in the words a person fixing a hand-written file needs.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime
from typing import Any

from coachcli.store.models import (
    CONVERSATION_MODES,
    CONVERSATION_TYPES,
    DISPATCH_STATUSES,
    FACT_SOURCES,
    GOAL_STATUSES,
    MEMORY_KINDS,
    MESSAGE_KINDS,
    MESSAGE_STATUSES,
    PROGRESS_SOURCES,
    PROPOSERS,
)

ROLES = ("user", "assistant", "tool", "system")  # the order people think of them in
MAX_SHORT = 200  # names, models, tool-call ids
_UNSAFE = re.compile("[\x00\ud800-\udfff]")  # NUL and lone surrogates: no database stores them
_TIME_EXAMPLE = "e.g. 2026-11-28T09:00:00Z"


class Problems:
    """The problems found so far; the first few are kept with their places, the rest counted."""

    KEEP = 5

    def __init__(self) -> None:
        self.items: list[str] = []
        self.count = 0

    def add(self, path: str, message: str) -> None:
        self.count += 1
        if len(self.items) < self.KEEP:
            self.items.append(f"{path}: {message}" if path else message)

    def __bool__(self) -> bool:
        return self.count > 0

    def summary(self) -> str:
        more = self.count - 1
        tail = f" (and {more} more problem{'s' if more > 1 else ''})" if more else ""
        return self.items[0] + tail


def _type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    return "an object"


def _shown(value: str) -> str:
    text = value if len(value) <= 40 else value[:40] + "…"
    return '"' + text.encode("unicode_escape").decode("ascii").replace('"', '\\"') + '"'


# Stored times are shown in the reader's own time zone (up to 14 hours off UTC): a day's margin
# at either end of the calendar keeps every one of them showable.
EARLIEST = datetime(1, 1, 2, tzinfo=UTC)
LATEST = datetime(9999, 12, 30, 23, 59, 59, 999999, tzinfo=UTC)
TIME_RANGE = "give a time from 0001-01-02 to 9999-12-30 (UTC)"


class OutOfRange(ValueError):
    """A real time too near the ends of the calendar to be shown in every time zone."""


def parse_time(text: str) -> datetime | None:
    """ISO 8601 in UTC; a time without a zone is taken as UTC, a bare date as its midnight.
    None when it is not a time; OutOfRange when it falls outside EARLIEST..LATEST."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        return None
    try:
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    except OverflowError:  # 0001-01-01T00:00+14:00 is still in year 0 in UTC
        raise OutOfRange from None
    if not EARLIEST <= value <= LATEST:
        raise OutOfRange
    return value


class Fields:
    """Typed access to one record's fields; every failed check is added to `problems`."""

    def __init__(self, value: Any, path: str, problems: Problems, what: str) -> None:
        self.path = path
        self.problems = problems
        self.ok = isinstance(value, dict)
        self.data: dict[str, Any] = value if isinstance(value, dict) else {}
        if not self.ok:
            problems.add(path, f"{what} must be an object, not {_type_name(value)}")

    def fail(self, message: str) -> None:
        """Record a problem with this record (it will not be imported)."""
        self.ok = False
        self.problems.add(self.path, message)

    def text(
        self, key: str, *, required: bool = False, limit: int | None = None, empty: bool = True
    ) -> str | None:
        value = self.data.get(key)
        if value is None:
            if required and self.ok:
                self.fail(f"{key} is missing")
            return None
        if not isinstance(value, str):
            self.fail(f"{key} must be a string, not {_type_name(value)}")
            return None
        if _UNSAFE.search(value):
            self.fail(f"{key} holds a NUL character or an unpaired surrogate (\\u0000, \\ud800...)")
            return None
        if not empty and not value.strip():
            self.fail(f"{key} is empty")
            return None
        if limit is not None and len(value) > limit:
            self.fail(f"{key} is at most {limit} characters; this one has {len(value)}")
            return None
        return value

    def choice(self, key: str, choices: tuple[str, ...], default: str | None) -> str | None:
        value = self.data.get(key)
        if value is None:
            if default is None and self.ok:
                self.fail(f"{key} is missing: one of {', '.join(choices)}")
            return default
        if not isinstance(value, str) or value not in choices:
            shown = _shown(value) if isinstance(value, str) else _type_name(value)
            self.fail(f"{key} {shown} is not one of {', '.join(choices)}")
            return default
        return value

    def time(self, key: str) -> datetime | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            self.fail(f"{key} must be an ISO 8601 time string ({_TIME_EXAMPLE}), not {_type_name(value)}")
            return None
        try:
            parsed = parse_time(value)
        except OutOfRange:
            self.fail(f"{key} {_shown(value)} is too near the ends of the calendar: {TIME_RANGE}")
            return None
        if parsed is None:
            self.fail(f"{key} {_shown(value)} is not an ISO 8601 time ({_TIME_EXAMPLE})")
        return parsed

    def day(self, key: str) -> date | None:
        value = self.data.get(key)
        if value is None:
            return None
        parsed: date | None = None
        if isinstance(value, str):
            try:
                parsed = date.fromisoformat(value)
            except ValueError:
                parsed = None
        if parsed is None:
            shown = _shown(value) if isinstance(value, str) else _type_name(value)
            self.fail(f"{key} {shown} is not a date (YYYY-MM-DD)")
        return parsed

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            shown = value if isinstance(value, int) and not isinstance(value, bool) else _type_name(value)
            self.fail(f"{key} must be a whole number ≥ 0, not {shown}")
            return None
        return value

    def number(self, key: str) -> float | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.fail(f"{key} must be a number, not {_type_name(value)}")
            return None
        return float(value)

    def ident(self, key: str) -> str | None:
        """A string id (uuid-like); message ids may also be numbers."""
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, int) and not isinstance(value, bool):
            return str(value)
        if not isinstance(value, str) or not value.strip() or len(value) > 36 or _UNSAFE.search(value):
            self.fail(f"{key} must be a string of at most 36 characters")
            return None
        return value

    def tool_calls(self, key: str) -> list[dict[str, Any]] | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, list) or not all(isinstance(item, dict) for item in value):
            self.fail(f"{key} must be a list of objects, not {_type_name(value)}")
            return None
        return value


def check_top(key: str, value: Any, problems: Problems) -> None:
    """format, version, exported_at, user: the envelope (checked as soon as it is read)."""
    from coachcli.coaching.portable import FORMAT, VERSION

    if key == "format" and value != FORMAT:
        shown = _shown(value) if isinstance(value, str) else _type_name(value)
        problems.add("format", f'{shown} is not "{FORMAT}": this is not a coach export')
    elif key == "version" and (isinstance(value, bool) or not isinstance(value, int)):
        problems.add("version", f"must be a number, not {_type_name(value)}")
    elif key == "version" and value != VERSION:
        newer = " (written by a newer coach: upgrade coachcli)" if value > VERSION else ""
        problems.add("version", f"{value} is not a version this coach reads ({VERSION}){newer}")
    elif key == "exported_at":
        Fields({key: value}, "", problems, "").time(key)
    elif key == "user":
        fields = Fields(value, "user", problems, "user")
        fields.text("handle", limit=64)


def fact(value: Any, path: str, problems: Problems) -> dict[str, Any] | None:
    from coachcli.coaching.facts import MAX_FACT_LENGTH

    f = Fields(value, path, problems, "a fact")
    row = {
        "id": f.ident("id"),
        "text": f.text("text", required=True, limit=MAX_FACT_LENGTH, empty=False),
        "source": f.choice("source", FACT_SOURCES, "manual"),
        "created_at": f.time("created_at"),
        "updated_at": f.time("updated_at"),
        "superseded_at": f.time("superseded_at"),
        "superseded_by": f.ident("superseded_by"),
    }
    return row if f.ok else None


def goal(value: Any, path: str, problems: Problems) -> dict[str, Any] | None:
    from coachcli.coaching.goals import MAX_TITLE_LENGTH, MAX_WHY_LENGTH

    f = Fields(value, path, problems, "a goal")
    row = {
        "id": f.ident("id"),
        "title": f.text("title", required=True, limit=MAX_TITLE_LENGTH, empty=False),
        "why": f.text("why", limit=MAX_WHY_LENGTH),
        "due": f.day("due"),
        "status": f.choice("status", GOAL_STATUSES, "active"),
        "created_at": f.time("created_at"),
        "updated_at": f.time("updated_at"),
        "closed_at": f.time("closed_at"),
    }
    return row if f.ok else None


def progress(value: Any, path: str, problems: Problems) -> dict[str, Any] | None:
    from coachcli.coaching.goals import MAX_PROGRESS_LENGTH

    f = Fields(value, path, problems, "a progress note")
    row = {
        "id": f.ident("id"),
        "text": f.text("text", required=True, limit=MAX_PROGRESS_LENGTH, empty=False),
        "source": f.choice("source", PROGRESS_SOURCES, "manual"),
        "created_at": f.time("created_at"),
    }
    return row if f.ok else None


def agent(value: Any, path: str, problems: Problems) -> dict[str, Any] | None:
    from coachcli.coaching.agents import validate_name
    from coachcli.errors import UsageError

    f = Fields(value, path, problems, "an agent")
    name = f.text("name", required=True, limit=40, empty=False)
    if name is not None:
        try:
            validate_name(name)
        except UsageError as exc:
            f.fail(exc.message)
    display = f.text("display_name", limit=80) or (name or "").replace("-", " ").title()
    row = {
        "name": name,
        "display_name": display,
        "description": f.text("description") or display,
        "system_prompt": f.text("system_prompt", required=True, empty=False),
        "model": f.text("model", limit=MAX_SHORT),
        "created_at": f.time("created_at"),
    }
    return row if f.ok else None


def conversation(value: Any, path: str, problems: Problems) -> dict[str, Any] | None:
    f = Fields(value, path, problems, "a conversation")
    kind = f.choice("type", CONVERSATION_TYPES, None)
    row = {
        "id": f.ident("id"),
        "type": kind,
        "parent_id": f.ident("parent_id"),
        "title": f.text("title"),
        "mode": f.choice("mode", CONVERSATION_MODES, "task" if kind == "task" else "auto"),
        "created_at": f.time("created_at"),
        "updated_at": f.time("updated_at"),
    }
    if kind == "coaching" and row["parent_id"] is not None:
        f.fail("a coaching conversation has no parent_id (only task threads do)")
    return row if f.ok else None


def message(value: Any, path: str, problems: Problems) -> dict[str, Any] | None:
    f = Fields(value, path, problems, "a message")
    role = f.data.get("role")
    if f.ok and role is None:
        f.fail(f"role is missing: one of {', '.join(ROLES)}")
    elif f.ok and role not in ROLES:
        shown = _shown(role) if isinstance(role, str) else _type_name(role)
        f.fail(f"role {shown} is not one of {', '.join(ROLES)}")
    content = f.text("content", required=True, empty=role in ("assistant", "tool"))
    row = {
        "id": f.ident("id"),
        "role": role,
        "content": content,
        "created_at": f.time("created_at"),
        "status": f.choice("status", MESSAGE_STATUSES, "complete"),
        "tool_calls": f.tool_calls("tool_calls"),
        "tool_call_id": f.text("tool_call_id", limit=128),
        "model": f.text("model", limit=MAX_SHORT),
        "input_tokens": f.integer("input_tokens"),
        "output_tokens": f.integer("output_tokens"),
        "cost_usd": f.number("cost_usd"),
        "kind": f.choice("kind", MESSAGE_KINDS, None) if f.data.get("kind") is not None else None,
    }
    return row if f.ok else None


def memory(value: Any, path: str, problems: Problems) -> dict[str, Any] | None:
    f = Fields(value, path, problems, "a memory")
    row = {
        "id": f.ident("id"),
        "kind": f.choice("kind", MEMORY_KINDS, "note"),
        "content": f.text("content", required=True, empty=False),
        "covers_through": f.integer("covers_through"),
        "created_at": f.time("created_at"),
        "updated_at": f.time("updated_at"),
    }
    return row if f.ok else None


def dispatch(value: Any, path: str, problems: Problems) -> dict[str, Any] | None:
    f = Fields(value, path, problems, "a dispatch")
    row = {
        "id": f.ident("id"),
        "agent": f.text("agent", required=True, limit=40, empty=False),
        "task": f.text("task", required=True, empty=False),
        "status": f.choice("status", DISPATCH_STATUSES, "proposed"),
        "proposed_by": f.choice("proposed_by", PROPOSERS, "operator"),
        "result": f.text("result"),
        "error": f.text("error"),
        "reason": f.text("reason"),
        "task_thread_id": f.ident("task_thread_id"),
        "tool_call_id": f.text("tool_call_id", limit=128),
        "model": f.text("model", limit=MAX_SHORT),
        "input_tokens": f.integer("input_tokens"),
        "output_tokens": f.integer("output_tokens"),
        "cost_usd": f.number("cost_usd"),
        "created_at": f.time("created_at"),
        "updated_at": f.time("updated_at"),
        "started_at": f.time("started_at"),
        "finished_at": f.time("finished_at"),
    }
    if f.data.get("status") is None and (row["result"] or row["task_thread_id"]):
        row["status"] = "succeeded"  # a hand-written dispatch with an outcome has run
    return row if f.ok else None


CHECKS = {
    "fact": fact,
    "goal": goal,
    "goal_progress": progress,
    "progress": progress,
    "agent": agent,
    "conversation": conversation,
    "message": message,
    "memory": memory,
    "dispatch": dispatch,
}
