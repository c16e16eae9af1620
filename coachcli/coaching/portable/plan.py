"""The first pass over an import file: check all of it, keep all of it except the messages.

Messages are only checked and counted here (they are the bulk of any history and are read again,
streamed, when written). Everything else (facts, goals, notes, dispatches, conversation headers)
is small by nature and kept, so the write pass can create conversations before their messages.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import IO, Any

from coachcli.coaching.portable import validation
from coachcli.coaching.portable.reader import FileFormatError, Record, records
from coachcli.errors import UsageError

Row = dict[str, Any]


@dataclass
class Item:
    path: str
    row: Row


@dataclass
class Plan:
    """A checked file, ready to write: every record but the messages."""

    facts: list[Item] = field(default_factory=list)
    goals: list[Item] = field(default_factory=list)
    goal_progress: dict[int, list[Item]] = field(default_factory=lambda: defaultdict(list))
    progress: list[Item] = field(default_factory=list)
    agents: list[Item] = field(default_factory=list)
    conversations: dict[int, Item] = field(default_factory=dict)
    memories: dict[int, list[Item]] = field(default_factory=lambda: defaultdict(list))
    message_counts: dict[int, int] = field(default_factory=lambda: defaultdict(int))
    messages_with_ids: bool = False
    messages_without_time: bool = False
    dispatches: list[Item] = field(default_factory=list)
    top: dict[str, Any] = field(default_factory=dict)

    @property
    def message_total(self) -> int:
        return sum(self.message_counts.values())


NOTHING = "nothing was imported."  # how every refused import ends


class ImportFileError(UsageError):
    """The file cannot be imported; the message names the first problem and its place."""


def read_plan(source: IO[bytes], name: str) -> Plan:
    """Check the whole file; an ImportFileError (exit 2) names what is wrong and where."""
    plan = Plan()
    problems = validation.Problems()
    try:
        for record in records(source):
            _take(plan, record, problems)
            if record.kind == "top" and record.key in ("format", "version") and problems:
                break  # not an export of this coach: reading on would only add noise
    except FileFormatError as exc:
        problems.add("", str(exc))
    if not problems:
        _check_envelope(plan, problems)
        _check_ids(plan, problems)
    if problems:
        raise ImportFileError(f"{name}: {problems.summary()}; {NOTHING}")
    return plan


def _take(plan: Plan, record: Record, problems: validation.Problems) -> None:
    if record.kind == "top":
        plan.top[record.key] = record.value
        validation.check_top(record.key, record.value, problems)
        return
    row = validation.CHECKS[record.kind](record.value, record.path, problems)
    if record.kind == "message":
        plan.message_counts[record.parent] += 1
        if row is not None:
            plan.messages_with_ids = plan.messages_with_ids or row["id"] is not None
            plan.messages_without_time = plan.messages_without_time or row["created_at"] is None
        return
    if row is None:
        return
    item = Item(record.path, row)
    if record.kind == "conversation":
        plan.conversations[record.index] = item
    elif record.kind == "memory":
        plan.memories[record.parent].append(item)
    elif record.kind == "goal_progress":
        plan.goal_progress[record.parent].append(item)
    else:
        lists = {"fact": plan.facts, "goal": plan.goals, "agent": plan.agents, "dispatch": plan.dispatches}
        lists.get(record.kind, plan.progress).append(item)


def _check_envelope(plan: Plan, problems: validation.Problems) -> None:
    from coachcli.coaching.portable import FORMAT, VERSION

    if "format" not in plan.top:
        problems.add(
            "format", f'is missing: an export starts with {{"format": "{FORMAT}", "version": {VERSION}}}'
        )
    elif "version" not in plan.top:
        problems.add("version", f"is missing: this coach reads version {VERSION}")


def _check_ids(plan: Plan, problems: validation.Problems) -> None:
    """Ids are unique per kind, and references inside the file point at the right kind of thing."""
    conversations = _unique_ids(plan.conversations.values(), problems)
    _unique_ids(plan.facts, problems)
    _unique_ids(plan.goals, problems)
    _unique_ids([*plan.progress, *(p for items in plan.goal_progress.values() for p in items)], problems)
    _unique_ids([m for items in plan.memories.values() for m in items], problems)
    _unique_ids(plan.dispatches, problems)
    names: dict[str, str] = {}
    for item in plan.agents:
        if item.row["name"] in names:
            problems.add(
                item.path, f"agent {item.row['name']} is defined twice (also {names[item.row['name']]})"
            )
        names[item.row["name"]] = item.path
    for item in plan.conversations.values():
        parent = conversations.get(item.row["parent_id"] or "")
        if parent is not None and parent.row["type"] != "coaching":
            problems.add(
                item.path,
                f"parent_id {item.row['parent_id']} is a task thread; a task thread's parent is a "
                "coaching conversation",
            )


def _unique_ids(items: Any, problems: validation.Problems) -> dict[str, Item]:
    seen: dict[str, Item] = {}
    for item in items:
        ident = item.row.get("id")
        if ident is None:
            continue
        if ident in seen:
            problems.add(item.path, f"id {ident} is used twice (also {seen[ident].path})")
        seen[ident] = item
    return seen
