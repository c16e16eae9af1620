"""Rows for a store at every schema revision: the seed data of the upgrade test in test_faults.py.

The test builds an empty store at each revision of KNOWN_REVISIONS, fills it with `rows_at(revision)`,
runs `coach db upgrade`, and checks that every row and value is still there. So each revision's
new tables and columns are covered once its owner adds rows here:

- Add an entry `"NNNN_name": {"table": [row, ...]}` to ROWS, keyed by the revision that created
  the table or column (in chain order). Rows are seeded into stores at that revision and later.
- A row is a dict of column -> value in the columns of the newest revision; a column an older
  revision lacks is left out when seeding that revision (so a new column can be given on a new row).
- Use fixed ids and times (below), not random ones, so a failure names the same row every run.
  Reference the users, conversations and messages of 0001_initial (ALICE, COACH_A, ...).
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

Row = dict[str, Any]

T0 = datetime(2024, 5, 1, 8, 30, 15, 123456, tzinfo=UTC)
ALICE, BOB = "a11ce000-0000-4000-8000-000000000001", "b0b00000-0000-4000-8000-000000000002"
COACH_A, THREAD_A, COACH_B = (
    "c0ac0000-0000-4000-8000-00000000000a",
    "7a5c0000-0000-4000-8000-00000000000a",
    "c0ac0000-0000-4000-8000-00000000000b",
)
GOAL_A = "90a10000-0000-4000-8000-000000000001"
CALL = {
    "id": "call_1",
    "type": "function",
    "function": {"name": "remember_fact", "arguments": '{"fact": "x"}'},
}


ROWS: dict[str, dict[str, list[Row]]] = {
    "0001_initial": {
        "users": [
            {"id": ALICE, "handle": "alice", "created_at": T0},
            {"id": BOB, "handle": "bob", "created_at": T0},
        ],
        "agents": [
            {
                "name": "nutritionist",
                "display_name": "Nutritionist",
                "description": "Meal plans and habits",
                "system_prompt": "You plan meals. Café ✓ — 5 km",
                "model": "openai/gpt-4o-mini",
                "created_at": T0,
            }
        ],
        "conversations": [
            {
                "id": COACH_A,
                "user_id": ALICE,
                "type": "coaching",
                "parent_id": None,
                "mode": "auto",
                "title": "Running again",
                "created_at": T0,
                "updated_at": T0,
            },
            {
                "id": THREAD_A,
                "user_id": ALICE,
                "type": "task",
                "parent_id": COACH_A,
                "mode": "task",
                "title": "Planner: a four-week plan",
                "created_at": T0,
                "updated_at": T0,
            },
            {
                "id": COACH_B,
                "user_id": BOB,
                "type": "coaching",
                "parent_id": None,
                "mode": "coaching",
                "title": None,
                "created_at": T0,
                "updated_at": T0,
            },
        ],
        "messages": [
            {
                "conversation_id": COACH_A,
                "position": 1,
                "role": "user",
                "content": "I want to run again ✓",
                "status": "complete",
                "created_at": T0,
            },
            {
                "conversation_id": COACH_A,
                "position": 2,
                "role": "assistant",
                "content": "",
                "tool_calls": [CALL],
                "status": "complete",
                "model": "openai/gpt-4o-mini",
                "input_tokens": 120,
                "output_tokens": 14,
                "cost_usd": 0.000123,
                "created_at": T0,
            },
            {
                "conversation_id": COACH_A,
                "position": 3,
                "role": "tool",
                "content": "Saved fact 1234.",
                "tool_call_id": "call_1",
                "status": "complete",
                "created_at": T0,
            },
            {
                "conversation_id": COACH_A,
                "position": 4,
                "role": "assistant",
                "content": "Half a rep",
                "status": "interrupted",
                "created_at": T0,
            },
            {
                "conversation_id": THREAD_A,
                "position": 1,
                "role": "user",
                "content": "Task: a four-week plan",
                "status": "complete",
                "created_at": T0,
            },
            {
                "conversation_id": THREAD_A,
                "position": 2,
                "role": "assistant",
                "content": "Week 1: walk.",
                "status": "complete",
                "created_at": T0,
            },
            {
                "conversation_id": COACH_B,
                "position": 1,
                "role": "user",
                "content": "Hello",
                "status": "complete",
                "created_at": T0,
            },
        ],
        "user_facts": [
            {
                "id": "f0000000-0000-4000-8000-000000000001",
                "user_id": ALICE,
                "text": "Prefers mornings",
                "normalized": "prefers mornings",
                "source": "manual",
                "created_at": T0,
                "updated_at": T0,
            },
            {
                "id": "f0000000-0000-4000-8000-000000000002",
                "user_id": BOB,
                "text": "Knee injury in 2023",
                "normalized": "knee injury in 2023",
                "source": "coach",
                "created_at": T0,
                "updated_at": T0,
            },
        ],
        "memories": [
            {
                "id": "e0000000-0000-4000-8000-000000000001",
                "user_id": ALICE,
                "conversation_id": COACH_A,
                "kind": "note",
                "content": "Finished task thread 7a5c0000",
                "covers_through": None,
                "created_at": T0,
                "updated_at": T0,
            },
            {
                "id": "e0000000-0000-4000-8000-000000000002",
                "user_id": ALICE,
                "conversation_id": COACH_A,
                "kind": "summary",
                "content": "They want to run again.",
                "covers_through": 2,
                "created_at": T0,
                "updated_at": T0,
            },
        ],
        "dispatches": [
            {
                "id": "d0000000-0000-4000-8000-000000000001",
                "user_id": ALICE,
                "conversation_id": COACH_A,
                "agent": "planner",
                "task": "a four-week plan",
                "status": "succeeded",
                "proposed_by": "coach",
                "result": "Week 1: walk.",
                "error": None,
                "reason": None,
                "task_thread_id": THREAD_A,
                "tool_call_id": "call_9",
                "model": "openai/gpt-4o-mini",
                "input_tokens": 50,
                "output_tokens": 9,
                "cost_usd": 0.0005,
                "runner_host": "laptop",
                "runner_pid": 4242,
                "runner_start": "123456",
                "heartbeat_at": T0,
                "attempts": 1,
                "created_at": T0,
                "updated_at": T0,
                "started_at": T0,
                "finished_at": T0,
            },
            {
                "id": "d0000000-0000-4000-8000-000000000002",
                "user_id": ALICE,
                "conversation_id": COACH_A,
                "agent": "nutritionist",
                "task": "breakfasts",
                "status": "failed",
                "proposed_by": "operator",
                "error": "rate limited",
                "attempts": 1,
                "created_at": T0,
                "updated_at": T0,
            },
            {
                "id": "d0000000-0000-4000-8000-000000000003",
                "user_id": BOB,
                "conversation_id": COACH_B,
                "agent": "writer",
                "task": "a note to my team",
                "status": "proposed",
                "proposed_by": "coach",
                "attempts": 0,
                "created_at": T0,
                "updated_at": T0,
            },
        ],
    },
    "0003_goals_progress": {
        "goals": [
            {
                "id": GOAL_A,
                "user_id": ALICE,
                "title": "Run a 10k ✓",
                "why": "Feel strong again",
                "due": date(2024, 6, 30),
                "status": "active",
                "created_at": T0,
                "updated_at": T0,
                "closed_at": None,
            },
            {
                "id": "90a10000-0000-4000-8000-000000000002",
                "user_id": ALICE,
                "title": "Stretch daily",
                "why": None,
                "due": None,
                "status": "done",
                "created_at": T0,
                "updated_at": T0,
                "closed_at": T0,
            },
            {
                "id": "90a10000-0000-4000-8000-000000000003",
                "user_id": BOB,
                "title": "Ship the report",
                "why": None,
                "due": date(2024, 5, 15),
                "status": "dropped",
                "created_at": T0,
                "updated_at": T0,
                "closed_at": T0,
            },
        ],
        "progress": [
            {
                "id": "9a000000-0000-4000-8000-000000000001",
                "user_id": ALICE,
                "goal_id": GOAL_A,
                "text": "Ran 5 km — 31 min",
                "source": "manual",
                "created_at": T0,
            },
            {
                "id": "9a000000-0000-4000-8000-000000000002",
                "user_id": ALICE,
                "goal_id": None,
                "text": "Slept 8 hours",
                "source": "coach",
                "created_at": T0,
            },
        ],
        "checkins": [
            {
                "id": "c4ec0000-0000-4000-8000-000000000001",
                "user_id": ALICE,
                "status": "done",
                "message_id": None,
                "started_at": T0,
                "finished_at": T0,
            },
            {
                "id": "c4ec0000-0000-4000-8000-000000000002",
                "user_id": BOB,
                "status": "failed",
                "message_id": None,
                "started_at": T0,
                "finished_at": None,
            },
        ],
        "messages": [
            {
                "conversation_id": COACH_A,
                "position": 5,
                "role": "assistant",
                "content": "How did the long run go?",
                "status": "complete",
                "kind": "checkin",
                "created_at": T0,
            },
        ],
    },
    "0002_fact_history": {
        # Bob corrected a fact: the old one is kept, superseded by the new one.
        "user_facts": [
            {
                "id": "f0000000-0000-4000-8000-000000000003",
                "user_id": BOB,
                "text": "Knee injury in 2023",
                "normalized": "knee injury in 2023",
                "source": "manual",
                "created_at": T0,
                "updated_at": T0,
                "superseded_at": T0,
                "superseded_by": "f0000000-0000-4000-8000-000000000002",
            },
        ],
    },
    "0005_usage_ledger": {
        # The usage ledger: a chat call with a price, a pick whose price is unknown.
        "model_calls": [
            {
                "id": 1,
                "user_id": ALICE,
                "kind": "chat",
                "model": "openai/gpt-4o-mini",
                "agent": None,
                "conversation_id": COACH_A,
                "dispatch_id": None,
                "input_tokens": 1200,
                "output_tokens": 80,
                "cost_usd": 0.000228,
                "created_at": T0,
            },
            {
                "id": 2,
                "user_id": ALICE,
                "kind": "pick",
                "model": "ollama/llama3",
                "agent": None,
                "conversation_id": COACH_A,
                "dispatch_id": "d0000000-0000-4000-8000-000000000001",
                "input_tokens": 300,
                "output_tokens": 2,
                "cost_usd": None,
                "created_at": T0,
            },
        ],
    },
}


def rows_at(revision: str, chain: tuple[str, ...]) -> dict[str, list[Row]]:
    """Every row a store at `revision` holds: those of that revision and of all before it in `chain`."""
    tables: dict[str, list[Row]] = {}
    for rev in chain[: chain.index(revision) + 1]:
        for table, rows in ROWS.get(rev, {}).items():
            tables.setdefault(table, []).extend(rows)
    return tables
