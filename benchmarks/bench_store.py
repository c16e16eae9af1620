"""Store cases, in process: appending to a long conversation, and listing task threads in a big store."""

from __future__ import annotations

import statistics

import seed
import service
from core import Bench, Case, Figure, Outcome, Section, fmt, progress


def append(bench: Bench) -> Outcome:
    long = bench.reps(10_000, 2_000)
    progress(f"appending message {long:,} vs message 10")
    db, ids = seed.build_message_store(bench.tmp / "messages", {"long": long - 1, "short": 9})
    times = service.append_times(db, ids, bench.reps(300, 40))
    figure = Figure.paired(
        f"append message {long:,} of a conversation (append_message + commit)",
        "s",
        times["long"],
        times["short"],
        "appending message 10",
        1.5,
    )
    return Outcome([figure])


def listing(bench: Bench) -> Outcome:
    big = bench.reps(100_000, 10_000)
    progress(f"seeding stores of 1,000 and {big:,} conversations; listing task threads")
    dbs = {
        "1k": seed.build_store(bench.tmp / "list-1k", 1_000),
        "big": seed.build_store(bench.tmp / "list-big", big),
    }
    times, info = service.list_times(dbs, seed.USER, bench.reps(300, 40))
    plan = info["big"]["plan"]
    uses_index = any("ix_conversations_parent_created" in line for line in plan)
    figure = Figure.paired(
        f"list_task_threads at {big:,} conversations (200 threads listed)",
        "s",
        times["big"],
        times["1k"],
        "at 1,000 conversations",
        2.0,
        condition_ok=uses_index,
        note="" if uses_index else "the plan does not use ix_conversations_parent_created",
    )
    one_big, one_small = statistics.median(times["big/one"]), statistics.median(times["1k/one"])
    context = [
        [
            f"list_task_threads(handle) (the query `coach tasks list` runs) at {big:,} / at 1,000 "
            "conversations",
            f"{fmt(one_big, 's')} / {fmt(one_small, 's')}",
            f"{one_big / one_small:.2f}×",
        ],
        ["Task threads listed (big store / 1k store)", f"{info['big']['rows']} / {info['1k']['rows']}", ""],
    ]
    plans = Section(
        f"Query plans at {big:,} conversations",
        [
            "`list_task_threads` (the figure):",
            "",
            "```",
            *plan,
            "```",
            "",
            "`list_task_threads(handle)` (what `coach tasks list` runs; all of a user's task threads hang "
            "under their one coaching conversation, so (user_id, type) finds the same rows):",
            "",
            "```",
            *info["big"]["one"],
            "```",
        ],
    )
    return Outcome([figure], context, [plans])


CASES = [
    Case(
        "append",
        append,
        """\
- **Append**: `append_message` + `commit` in a fresh session, on a conversation holding 9,999
  messages vs one holding 9; the new row is deleted after each timed append (untimed).""",
    ),
    Case(
        "list",
        listing,
        """\
- **List**: `list_task_threads` for the bench user's coaching conversation (200 threads), in a
  fresh read session, in a store of 100,000 conversations vs one of 1,000 (other users' rows
  interleaved in time). The plan above is SQLite's `EXPLAIN QUERY PLAN` of the exact statement.
  No `ANALYZE` is run: users' stores have no statistics either.""",
    ),
]
