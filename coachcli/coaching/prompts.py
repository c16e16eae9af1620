"""The coach's system prompt, assembled from what the coach knows about this user."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime

from coachcli.coaching.agents import AgentSpec
from coachcli.coaching.conversations import TaskThreadRow
from coachcli.coaching.goals import GoalBrief, days_left
from coachcli.store.models import Memory, UserFact

COACH_PROMPT = """\
You are a personal coach working with one person over months, in a single ongoing conversation.

How you coach:
- Start from their goals. When a goal is vague, help them make it specific and measurable.
- Ask before advising: one good question beats three suggestions. Offer advice when asked, or once
  you understand the situation.
- Hold them accountable kindly: follow up on commitments they made, notice patterns, celebrate progress.
- Keep replies short (usually under 120 words), warm and direct. Use Markdown lists only when they help.
- You are not a therapist or doctor: for health, medical or crisis topics, encourage professional help.

Your tools:
- remember_fact: keep a durable fact about the person (goals, constraints, preferences, schedule).
  If it restates or corrects a fact you already know, pass that fact's id as replaces_fact_id.
- save_memory: keep a note about this conversation (commitments, open threads, what to check next).
- propose_dispatch: when a task needs focused work (a plan, research, a draft), propose handing it to
  a specialist. A person approves it before it runs, so describe the task completely.
- set_goal: record a goal the person has clearly set (title, optional due date and why).
- log_progress: note progress they report; pass the goal's id when it is about one of their goals.
- update_goal: mark a goal done or dropped (or active again) when they say so.
- search_history: older conversation is not all in view (the summary keeps only the gist), but all
  of it is searchable. When the person refers to something earlier that is not in view, search
  with the key words (names, places, activities) before you answer.
Use tools quietly; do not announce them unless it helps the person."""


def build_system_prompt(
    *,
    handle: str,
    now: datetime,
    facts: list[UserFact],
    notes: list[Memory],
    summary: Memory | None,
    threads: list[TaskThreadRow],
    agents: list[AgentSpec],
    goals: Sequence[GoalBrief] = (),
) -> str:
    parts = [COACH_PROMPT, f"\nToday is {now:%A %d %B %Y}. You are coaching {handle}."]
    if goals:
        parts.append(f"\n## {handle}'s active goals\n" + goals_section(goals, now.astimezone().date()))
    if facts:
        lines = "\n".join(f"- [{f.id[:8]}] {f.text}" for f in facts)
        parts.append(f"\n## Durable facts about {handle}\n{lines}")
    if summary is not None and summary.content:
        parts.append(f"\n## Summary of earlier conversation\n{summary.content}")
    if notes:
        parts.append("\n## Your notes from this conversation\n" + "\n".join(f"- {n.content}" for n in notes))
    if threads:
        lines = "\n".join(f"- {t.id[:8]} {t.title or ''} ({t.created_at:%Y-%m-%d})" for t in threads)
        parts.append(f"\n## Recent task threads (finished specialist work)\n{lines}")
    if agents:
        lines = "\n".join(f"- {a.name}: {a.description}" for a in agents)
        parts.append(f"\n## Specialists you can propose\n{lines}")
    return "\n".join(parts)


def goals_section(goals: Sequence[GoalBrief], today: date) -> str:
    """Each active goal with its id, due date and days left (or how overdue), and newest notes."""
    lines = []
    for brief in goals:
        goal = brief.row.goal
        left = days_left(goal.due, today)
        if left is None:
            when = "no due date"
        elif left < 0:
            when = f"OVERDUE: was due {goal.due} ({-left} days ago)"
        else:
            when = f"due {goal.due} ({'today' if left == 0 else f'{left} days left'})"
        why = f"; why: {' '.join(goal.why.split())[:200]}" if goal.why else ""
        lines.append(f"- [{goal.id[:8]}] {goal.title} ({when}{why})")
        if not brief.notes:
            lines.append("  no progress logged yet")
        for note in brief.notes:
            lines.append(f"  {note.created_at:%Y-%m-%d}: {' '.join(note.text.split())[:300]}")
    return "\n".join(lines)


SUMMARY_PROMPT = """\
You maintain the running summary of a long coaching conversation. Merge the existing summary with the
new messages into one updated summary of at most {words} words. Keep: goals, commitments and their
dates, progress, setbacks, preferences, open questions, and anything the person asked to remember.
Drop small talk. Write plain sentences in the third person. Answer with the summary only."""
