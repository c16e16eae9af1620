"""`coach usage` and the usage ledger (issue 14 §1): every model call is recorded where it happens
(chat rounds, summary folds, the pick of a specialist, the specialist, check-ins, reviews), the
report groups it in one query, an unknown price stays unknown, and reset keeps the billing history."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import MODEL, plain
from scripted_server import ScriptedServer, text, tool_call
from sqlmodel import select

from coachcli.coaching.usage import iso_week
from coachcli.llm.types import Completion
from coachcli.store.models import ModelCall
from coachcli.store.types import utcnow

KEYS = ["key", "requests", "input_tokens", "output_tokens", "cost_usd"]


def calls(store: Any) -> list[ModelCall]:
    with store.read_session() as session:
        return list(session.exec(select(ModelCall).order_by(ModelCall.id)))  # type: ignore[arg-type]


def seed_calls(
    store: Any, handle: str, rows: list[tuple[datetime, str, str, str | None, int, int, float | None]]
) -> None:
    """Ledger rows (when, kind, model, agent, input, output, cost) for `handle`, written directly."""
    from coachcli.coaching.users import get_or_create_user

    with store.write() as session:
        user = get_or_create_user(session, handle)
        for when, kind, model, agent, tokens_in, tokens_out, cost in rows:
            session.add(
                ModelCall(
                    user_id=user.id,
                    kind=kind,
                    model=model,
                    agent=agent,
                    input_tokens=tokens_in,
                    output_tokens=tokens_out,
                    cost_usd=cost,
                    created_at=when,
                )
            )


# -- recording ------------------------------------------------------------------------------------


def test_chat_rounds_pick_dispatch_and_review_are_recorded(
    coach: Any, model_env: ScriptedServer, store: Any
) -> None:
    """A turn with a tool round is two chat calls; a dispatch without an agent is a pick and a
    dispatch; a dispatch to the reviewer is a review. Tokens as the model reported them."""
    model_env.queue(
        tool_call("remember_fact", {"fact": "Runs in the morning"}, input_tokens=100, output_tokens=7),
        text("Noted.", input_tokens=120, output_tokens=3),
    )
    assert coach("chat", "I run in the morning", "--json").exit_code == 0
    model_env.queue(
        text("writer", input_tokens=50, output_tokens=1), text("Dear club", input_tokens=60, output_tokens=2)
    )
    assert coach("dispatch", "Draft a note to my club", "--json").exit_code == 0
    model_env.queue(text("Good week", input_tokens=70, output_tokens=2))
    assert coach("dispatch", "Review my week", "--agent", "reviewer", "--json").exit_code == 0

    rows = calls(store)
    assert [(r.kind, r.agent, r.input_tokens, r.output_tokens) for r in rows] == [
        ("chat", None, 100, 7),
        ("chat", None, 120, 3),
        ("pick", None, 50, 1),
        ("dispatch", "writer", 60, 2),
        ("review", "reviewer", 70, 2),
    ]
    assert all(r.model == MODEL and r.cost_usd is None for r in rows)  # the scripted model has no price
    assert rows[2].dispatch_id == rows[3].dispatch_id is not None
    assert rows[0].conversation_id == rows[1].conversation_id is not None

    by_kind = coach("usage", "--by", "kind", "--json").json()
    assert by_kind == [
        {"key": "chat", "requests": 2, "input_tokens": 220, "output_tokens": 10, "cost_usd": None},
        {"key": "dispatch", "requests": 1, "input_tokens": 60, "output_tokens": 2, "cost_usd": None},
        {"key": "pick", "requests": 1, "input_tokens": 50, "output_tokens": 1, "cost_usd": None},
        {"key": "review", "requests": 1, "input_tokens": 70, "output_tokens": 2, "cost_usd": None},
    ]


def test_checkin_is_recorded_as_checkin(coach: Any, model_env: ScriptedServer, store: Any) -> None:
    assert coach("goals", "add", "Run a 10k", "--json").exit_code == 0
    model_env.queue(text("How is the 10k going?", input_tokens=90, output_tokens=5))
    assert coach("checkin", "--json").exit_code == 0
    assert [(r.kind, r.input_tokens) for r in calls(store)] == [("checkin", 90)]


def test_a_summary_fold_is_recorded(store: Any) -> None:
    """Folding old messages into the running summary is a model call of kind `summary`."""
    from coachcli.coaching.context import Budget, fold
    from coachcli.coaching.conversations import get_or_create_coaching
    from coachcli.coaching.messages import append_message, list_messages
    from coachcli.coaching.users import get_or_create_user

    class Folder:
        model = MODEL

        def complete(self, messages: list[dict[str, Any]], **_: Any) -> Completion:
            return Completion("They run.", MODEL, [], 400, 12, 0.0021)

    with store.session() as session:
        user = get_or_create_user(session, "tester")
        coaching = get_or_create_coaching(session, user)
        for i in range(4):
            append_message(session, coaching.id, "user", f"run {i}")
        session.commit()
        fold(
            session,
            user,
            coaching.id,
            Folder(),
            Budget(window=4000, reply=500),
            list_messages(session, coaching.id),
        )  # type: ignore[arg-type]
    [row] = calls(store)
    assert (row.kind, row.input_tokens, row.output_tokens, row.cost_usd) == ("summary", 400, 12, 0.0021)
    assert row.conversation_id is not None


def test_reset_keeps_usage(coach: Any, model_env: ScriptedServer, store: Any) -> None:
    """Usage is billing history: `coach reset` clears the messages, not what they cost."""
    model_env.queue(text("Hello"))
    assert coach("chat", "Hi", "--json").exit_code == 0
    assert coach("reset", "--yes").exit_code == 0
    assert [r.kind for r in calls(store)] == ["chat"]
    assert coach("usage", "--json").json()[0]["requests"] == 1


# -- the report -----------------------------------------------------------------------------------

NOW = utcnow()
DAY1 = datetime(2026, 11, 16, 9, tzinfo=UTC)  # a Monday: ISO week 47
DAY2 = datetime(2026, 11, 22, 23, 30, tzinfo=UTC)  # Sunday, still week 47
DAY3 = datetime(2026, 11, 23, 0, 15, tzinfo=UTC)  # Monday, week 48


def seed_report(store: Any) -> None:
    seed_calls(
        store,
        "tester",
        [
            (DAY1, "chat", "openai/gpt-4o-mini", None, 1000, 100, 0.0012),
            (DAY2, "dispatch", "openai/gpt-4o-mini", "planner", 2000, 300, 0.0025),
            (DAY3, "chat", "ollama/llama3", None, 500, 50, None),
            (DAY3, "pick", "openai/gpt-4o-mini", None, 300, 2, 0.0001),
        ],
    )
    seed_calls(store, "someone-else", [(DAY1, "chat", "openai/gpt-4o", None, 9, 9, 9.0)])


def test_usage_groups_by_day_week_model_agent(coach: Any, store: Any) -> None:
    seed_report(store)
    by_day = coach("usage", "--json").json()
    assert by_day == [
        {"key": "2026-11-16", "requests": 1, "input_tokens": 1000, "output_tokens": 100, "cost_usd": 0.0012},
        {"key": "2026-11-22", "requests": 1, "input_tokens": 2000, "output_tokens": 300, "cost_usd": 0.0025},
        {"key": "2026-11-23", "requests": 2, "input_tokens": 800, "output_tokens": 52, "cost_usd": None},
    ]
    by_week = coach("usage", "--by", "week", "--json").json()
    assert [(r["key"], r["requests"], r["cost_usd"]) for r in by_week] == [
        ("2026-W47", 2, pytest.approx(0.0037)),
        ("2026-W48", 2, None),
    ]
    by_model = coach("usage", "--by", "model", "--json").json()
    assert [(r["key"], r["requests"], r["cost_usd"]) for r in by_model] == [
        ("ollama/llama3", 1, None),
        ("openai/gpt-4o-mini", 3, pytest.approx(0.0038)),
    ]
    by_agent = coach("usage", "--by", "agent", "--json").json()
    assert [(r["key"], r["requests"]) for r in by_agent] == [(None, 3), ("planner", 1)]  # the coach first


def test_since_and_until_bound_the_days(coach: Any, store: Any) -> None:
    seed_report(store)
    only = coach("usage", "--since", "2026-11-22", "--until", "2026-11-22", "--json").json()
    assert [r["key"] for r in only] == ["2026-11-22"]  # --until includes its whole day
    recent = coach("usage", "--since", "1d", "--json").json()
    assert recent == []  # the seeded calls are older than a day
    for bad in ("yesterday", "2026-13-01", "2026-11-31", "7x"):
        run = coach("usage", "--since", bad)
        assert run.exit_code == 2 and run.stderr.startswith("Error:") and "YYYY-MM-DD" in run.stderr
    assert coach("usage", "--by", "month").exit_code == 2


def test_the_first_and_last_days_a_date_can_name_are_bounds(coach: Any, store: Any) -> None:
    """0001-01-01 and 9999-12-31 work at either end (the day after 9999-12-31 does not exist)."""
    seed_report(store)
    every_day = ["2026-11-16", "2026-11-22", "2026-11-23"]
    for args in (
        ("--until", "9999-12-31"),
        ("--since", "0001-01-01", "--until", "9999-12-31"),
        ("--since", "0001-01-01"),
    ):
        run = coach("usage", *args, "--json")
        assert run.exit_code == 0, run.stderr
        assert [r["key"] for r in run.json()] == every_day
    for args in (
        ("--since", "9999-12-31"),
        ("--until", "0001-01-01"),
        ("--since", "9999-12-31", "--until", "9999-12-31"),
    ):
        assert coach("usage", *args, "--json").json() == []
    for args in (("--until", "10000-01-01"), ("--since", "0000-12-31"), ("--until", "99999d")):
        run = coach("usage", *args, "--json")
        assert run.exit_code == 2 and run.stderr.startswith("Error:"), run.stderr


def test_plain_table_has_totals_and_unknown_prices(coach: Any, store: Any) -> None:
    seed_report(store)
    run = coach("usage", "--by", "model")
    assert run.exit_code == 0, run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].split()[0] == "MODEL"
    llama = next(line for line in lines if "ollama/llama3" in line)
    assert llama.rstrip().endswith("–")  # an unknown price is unknown, never $0
    mini = next(line for line in lines if "openai/gpt-4o-mini" in line)
    assert mini.rstrip().endswith("$0.003800")
    total = next(line for line in lines if line.lstrip().startswith("total"))
    assert "4" in total.split() and "3,800" in total and total.rstrip().endswith("–")


@pytest.mark.parametrize("columns", [None, 100])
def test_numbers_are_right_aligned_on_a_terminal_too(
    coach: Any, store: Any, terminal: Any, columns: int | None
) -> None:
    """Every column but the first is right-aligned, so each line ends at the same place; on a
    terminal too, where the last column used to be word-wrapped (which dropped its padding)."""
    seed_report(store)
    if columns:
        terminal(columns)
    run = coach("usage", "--by", "model")
    assert run.exit_code == 0, run.stderr
    lines = plain(run.stdout).splitlines()
    assert len(lines) == 4 and lines[0].endswith("COST")  # two models and the total
    assert len({len(line) for line in lines}) == 1, lines


def test_no_usage_yet(coach: Any) -> None:
    assert coach("usage", "--json").json() == []
    run = coach("usage")
    assert run.exit_code == 0 and "No model calls recorded yet" in run.stdout


def test_usd_four_significant_digits() -> None:
    from coachcli.cli.usage import usd

    assert [usd(v) for v in (None, 0.0, 0.000123456, 0.0038, 1.23456, 1234.5678)] == [
        "–",
        "$0",
        "$0.0001235",
        "$0.003800",
        "$1.235",
        "$1,235",
    ]
    assert iso_week("2027-01-01") == "2026-W53"


# -- the budget -----------------------------------------------------------------------------------


def test_budget_share_and_one_chat_warning_a_day(
    coach: Any, model_env: ScriptedServer, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COACH_MONTHLY_BUDGET_USD", "1")
    seed_calls(
        store, "tester", [(utcnow() - timedelta(minutes=1), "chat", "openai/gpt-4o", None, 10, 10, 0.5)]
    )
    shown = coach("usage")
    assert "This month: $0.5000 of the $1 monthly budget (50%)" in shown.stdout
    model_env.queue(text("One"), text("Two"), text("Three"))
    assert "Budget:" not in coach("chat", "first").stderr  # 50%: no warning

    seed_calls(
        store, "tester", [(utcnow() - timedelta(minutes=1), "chat", "openai/gpt-4o", None, 10, 10, 0.35)]
    )
    warned = coach("chat", "second")
    assert warned.exit_code == 0
    assert "Budget: This month: $0.8500 of the $1 monthly budget (85%)" in warned.stderr
    assert "Budget:" not in coach("chat", "third").stderr  # once a day
    assert coach("usage", "--json").json()[0]["requests"] == 5  # 2 seeded, 3 chats; no budget in JSON


# -- the migration's backfill ---------------------------------------------------------------------


def test_upgrade_backfills_the_ledger_from_stored_history(tmp_path: Any, database: str | None) -> None:
    """A store at 0004 keeps its history: assistant messages of the coaching conversation become
    chat/checkin calls, dispatches with a model become dispatch/review calls; task-thread messages
    are not counted twice."""
    from schema_seeds import ALICE, rows_at
    from sqlalchemy import MetaData
    from sqlalchemy import text as sql

    from coachcli.store.engine import Store
    from coachcli.store.migrate import KNOWN_REVISIONS, upgrade

    if database is None:
        st = Store(f"sqlite:///{tmp_path / 'old.db'}")
    else:
        st = Store(database)
        with st.engine.begin() as conn:
            conn.execute(sql("DROP SCHEMA public CASCADE"))
            conn.execute(sql("CREATE SCHEMA public"))
    upgrade(st, target="0004_search_index")
    meta = MetaData()
    with st.engine.begin() as conn:
        meta.reflect(bind=conn)
        for name, rows in rows_at("0004_search_index", KNOWN_REVISIONS).items():
            for row in rows:
                conn.execute(
                    meta.tables[name]
                    .insert()
                    .values({k: v for k, v in row.items() if k in meta.tables[name].c})
                )
    upgrade(st)
    with st.engine.connect() as conn:
        got = conn.execute(
            sql(
                "SELECT user_id, kind, model, agent, input_tokens, output_tokens, cost_usd, dispatch_id "
                "FROM model_calls ORDER BY kind, model"
            )
        ).all()
    st.dispose()
    assert all(row[0] == ALICE for row in got)
    kinds = [(row[1], row[2], row[4], row[5], row[6]) for row in got]
    assert ("chat", "openai/gpt-4o-mini", 120, 14, 0.000123) in kinds
    assert any(row[1] in ("dispatch", "review") and row[7] is not None for row in got)


@pytest.mark.sqlite_only
def test_usage_imports_neither_litellm_nor_alembic_nor_the_table_models(coach: Any, store: Any) -> None:
    """`coach usage` calls no model, and reads with SQL alone (the table models cost it as much as
    its query)."""
    import json
    import subprocess
    import sys

    seed_calls(store, "tester", [(utcnow(), "chat", "openai/gpt-4o-mini", None, 10, 10, 0.1)])
    probe = (
        "import json, sys; sys.argv = ['coach', 'usage', '--by', 'model']\n"
        "from coachcli.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "names = ('litellm', 'alembic', 'coachcli.store.models')\n"
        "print(json.dumps(sorted(n for n in names if n in sys.modules)))"
    )
    done = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "COACH_USER": "tester"},
    )
    assert "openai/gpt-4o-mini" in done.stdout, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) == []
