"""The same export as Markdown, for reading: facts, goals, then one heading per conversation.

Built from the records of export.py (same batches, same order), so what a person reads is what
the JSON holds. Times are shown in UTC: an export is read on other machines and in other zones.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from sqlmodel import Session

from coachcli.coaching.portable import export
from coachcli.store.models import User
from coachcli.store.types import utcnow

SPEAKERS = {"user": "You", "assistant": "Coach", "tool": "Tool", "system": "System"}
TASK_SPEAKERS = {**SPEAKERS, "assistant": "Specialist"}


def _time(value: str | None) -> str:
    if not value:
        return "-"
    return datetime.fromisoformat(value).strftime("%Y-%m-%d %H:%M UTC")


def _call(call: Any) -> str:
    function = call.get("function") if isinstance(call, dict) else None
    if not isinstance(function, dict):
        return "a tool"
    arguments = str(function.get("arguments") or "")
    shown = arguments if len(arguments) <= 200 else arguments[:200] + "…"
    return f"`{function.get('name', 'tool')}({shown})`"


def _message(record: export.Record, speakers: dict[str, str]) -> str:
    speaker = speakers.get(record["role"], record["role"])
    marks = []
    if record.get("kind") == "checkin":
        marks.append("check-in")
    if record["status"] == "interrupted":
        marks.append("interrupted")
    mark = f" ({', '.join(marks)})" if marks else ""
    lines = [f"**{speaker}** · {_time(record['created_at'])}{mark}", ""]
    if record["content"]:
        lines += [record["content"], ""]
    for call in record.get("tool_calls") or []:
        lines += [f"*Called {_call(call)}*", ""]
    return "\n".join(lines) + "\n"


def write_markdown(
    session: Session, user: User | None, handle: str, write: export.Write
) -> export.ExportCounts:
    counts = export.ExportCounts()
    write(f"# Coaching export: {handle}\n\n")
    write(f"Exported {_time(export.iso_time(utcnow()))}.\n\n")
    if user is None:
        write("Nothing stored yet.\n")
        return counts
    export.consistent_snapshot(session)
    write("## Facts\n\n")
    for fact in export.facts(session, user):
        counts.facts += 1
        replaced = f" — *replaced {_time(fact['superseded_at'])}*" if fact["superseded_at"] else ""
        write(f"- {fact['text']} *({fact['source']}, {_time(fact['created_at'])})*{replaced}\n")
    write("\n" if counts.facts else "No facts.\n\n")
    _goals(session, user, write)
    for conversation in export.conversations(session, user):
        counts.conversations += 1
        counts.messages += _conversation(conversation, write)
    _dispatches(session, user, write)
    return counts


def _goals(session: Session, user: User, write: export.Write) -> None:
    goals = list(export.goals(session, user))
    loose = list(export.loose_progress(session, user))
    if not goals and not loose:
        return
    write("## Goals\n\n")
    for goal in goals:
        due = f", due {goal['due']}" if goal["due"] else ""
        write(f"### {goal['title']} ({goal['status']}{due})\n\n")
        if goal["why"]:
            write(f"Why: {goal['why']}\n\n")
        for note in goal["progress"]:
            write(f"- {_time(note['created_at'])}: {note['text']}\n")
        write("\n" if goal["progress"] else "")
    if loose:
        write("### Progress without a goal\n\n")
        for note in loose:
            write(f"- {_time(note['created_at'])}: {note['text']}\n")
        write("\n")


def _conversation(conversation: export.ConversationOut, write: export.Write) -> int:
    header = conversation.header
    if header["type"] == "coaching":
        write("## Coaching conversation\n\n")
        speakers = SPEAKERS
    else:
        write(f"## Task thread: {header['title'] or header['id']}\n\n")
        speakers = TASK_SPEAKERS
    write(f"*Started {_time(header['created_at'])}, last active {_time(header['updated_at'])}.*\n\n")
    memories = conversation.memories()
    summary = next((m for m in memories if m["kind"] == "summary"), None)
    if summary is not None:
        write(f"### Summary (of the first {summary['covers_through']} messages)\n\n{summary['content']}\n\n")
    notes = [m for m in memories if m["kind"] == "note"]
    if notes:
        write("### Coach's notes\n\n")
        write("".join(f"- {note['content']} *({_time(note['created_at'])})*\n" for note in notes) + "\n")
    count = 0
    for count, message in enumerate(conversation.messages(), 1):
        if count == 1 and (summary or notes):
            write("### Messages\n\n")
        write(_message(message, speakers))
    if not count:
        write("No messages.\n\n")
    return count


def _dispatches(session: Session, user: User, write: export.Write) -> None:
    first = True
    for dispatch in export.dispatches(session, user):
        if first:
            write("## Dispatches\n\n")
            first = False
        write(
            f"- {_time(dispatch['created_at'])} · {dispatch['agent']} · {dispatch['status']}: "
            f"{json.dumps(dispatch['task'], ensure_ascii=False)[1:-1]}\n"
        )
    if not first:
        write("\n")
