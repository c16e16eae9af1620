"""`coach usage` and shell completion, cold, against cold `coach tasks list` (issue 14: ≤ 1.15× and
≤ 1.2×)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from core import COACH, Bench, Case, Figure, Outcome, command_versus, interleave, progress

MESSAGES = 100_000
COMPLETION_CONVERSATIONS = 100_000


def usage_home(bench: Bench) -> Path:
    """A copy of the standard store whose user has MESSAGES messages in the coaching conversation,
    half of them model replies with a ledger row each, plus as many ledger rows of other users."""
    home = bench.tmp / "usage-home"
    if home.exists():
        return home
    messages = bench.reps(MESSAGES, 10_000)
    progress(f"copying the standard store; adding {messages:,} messages and {messages:,} ledger rows")
    shutil.copytree(bench.home(), home)
    import sqlite3

    import seed

    db = home / "coach.db"
    raw = sqlite3.connect(db)
    try:
        bench_id, coaching_id = raw.execute(
            "SELECT u.id, c.id FROM users u JOIN conversations c ON c.user_id = u.id "
            "WHERE u.handle = ? AND c.type = 'coaching'",
            (seed.USER,),
        ).fetchone()
        others = [row[0] for row in raw.execute("SELECT id FROM users WHERE handle != ?", (seed.USER,))]
        # Other cases may already have chatted in the standard store: number after its messages.
        first = raw.execute(
            "SELECT COALESCE(MAX(position), 0) FROM messages WHERE conversation_id = ?", (coaching_id,)
        ).fetchone()[0]
    finally:
        raw.close()
    models = ("openai/gpt-4o-mini", "anthropic/claude-3-5-haiku", "ollama/llama3")
    message_rows: list[dict[str, Any]] = []
    call_rows: list[dict[str, Any]] = []
    for p in range(1, messages + 1):
        reply = p % 2 == 0
        model = models[p % 3]
        message_rows.append(
            {
                "conversation_id": coaching_id,
                "position": first + p,
                "role": "assistant" if reply else "user",
                "content": f"message {p}: " + "words " * 30,
                "status": "complete",
                "model": model if reply else None,
                "created_at": seed._t(p),
            }
        )
        if reply:
            call_rows.append(_call(bench_id, model, p, coaching_id))
        else:  # the same number of calls by everyone else, spread over the same months
            call_rows.append(_call(others[p % len(others)], model, p, None))
    seed._bulk_insert(db, [("messages", message_rows), ("model_calls", call_rows)])
    seed._checkpoint(db)
    return home


def _call(user_id: str, model: str, seq: int, conversation_id: str | None) -> dict[str, Any]:
    import seed

    return {
        "user_id": user_id,
        "kind": ("chat", "chat", "summary", "dispatch", "pick")[seq % 5],
        "model": model,
        "agent": "planner" if seq % 5 == 3 else None,
        "conversation_id": conversation_id,
        "input_tokens": 1000 + seq % 500,
        "output_tokens": 100 + seq % 50,
        "cost_usd": None if model.startswith("ollama") else 0.0001 * (seq % 7),
        "created_at": seed._t(seq * 10),  # about four months of calls
    }


def usage(bench: Bench) -> Outcome:
    env = bench.env(usage_home(bench))
    n = bench.reps(MESSAGES, 10_000)
    figures = [
        command_versus(
            bench, f"cold `coach usage` ({n:,} messages)", [COACH, "usage"], 1.15, env=env, seed=31
        ),
        command_versus(
            bench,
            f"cold `coach usage --by model --json` ({n:,} messages)",
            [COACH, "usage", "--by", "model", "--json"],
            1.15,
            env=env,
            seed=32,
        ),
    ]
    return Outcome(figures)


def completion_home(bench: Bench) -> Path:
    home = bench.tmp / "completion-home"
    if not home.exists():
        import seed

        size = bench.reps(COMPLETION_CONVERSATIONS, 10_000)
        progress(f"seeding a store of {size:,} conversations for completion")
        seed.build_store(home, size)
    return home


def completion(bench: Bench) -> Outcome:
    """`coach tasks show <Tab>` as bash asks it, a new process each, against cold `coach tasks list`
    on the same store, interleaved."""
    import procs

    env = bench.env(completion_home(bench))
    tab = {**env, "_COACH_COMPLETE": "complete_bash", "COMP_WORDS": "coach tasks show ", "COMP_CWORD": "3"}
    import subprocess

    first = subprocess.run([COACH], env=tab, capture_output=True, text=True, timeout=120)
    if first.returncode != 0 or len(first.stdout.split()) < 10:  # a check that the Tab finds threads
        raise RuntimeError(f"the completion answered {first.stdout[:200]!r} (exit {first.returncode})")
    runs = interleave(
        {"tab": lambda: procs.run([COACH], tab), "base": lambda: procs.run([COACH, "tasks", "list"], env)},
        bench.reps(21, 5),
        seed=33,
        label="completion",
    )
    size = bench.reps(COMPLETION_CONVERSATIONS, 10_000)
    figure = Figure.paired(
        f"`coach tasks show <Tab>` ({size:,} conversations)",
        "s",
        [r.wall for r in runs["tab"]],
        [r.wall for r in runs["base"]],
        "cold `coach tasks list`",
        1.2,
    )
    return Outcome([figure])


CASES = [
    Case(
        "usage",
        usage,
        """\
- **Usage**: `coach usage` (by day, plain) and `coach usage --by model --json`, each a new process,
  against `coach tasks list` in the same rounds, on a copy of the standard store whose user has
  100,000 messages in the coaching conversation, with 100,000 ledger rows (half the user's).""",
    ),
    Case(
        "completion",
        completion,
        """\
- **Completion**: `coach tasks show <Tab>` through bash's protocol (`_COACH_COMPLETE=complete_bash`,
  `COMP_WORDS`, `COMP_CWORD`), a new process each, against `coach tasks list` in the same rounds, on a
  store of 100,000 conversations.""",
    ),
]
