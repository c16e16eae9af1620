"""Load: 8 processes x 50 turns, chat and dispatch mixed, on the current engine (SQLite or PostgreSQL).

Why: unit tests run one process at a time, so lost appends, duplicated positions, "database is
locked" and deadlocks only show up when real processes write the same store at once. Each driver
calls the services through the same functions as the CLI (`run_turn`, `writing` + `dispatch_now`)
and reports what it did; the test then counts what the store holds and compares.

The drivers are forked from one warmed-up process: importing litellm costs ~8 s of CPU, and eight
imports on a small CI machine would take longer than the load itself.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from scripted_server import ScriptedServer, text
from sqlmodel import col, select

from coachcli.store.engine import Store
from coachcli.store.models import Conversation, Dispatch, Message, User

PROCESSES = 8
TURNS = 50
DISPATCH_EVERY = 5  # every 5th turn of a driver is a dispatch: 10 dispatches and 40 chats each
SEPARATE_USERS = 4  # drivers 0-3 have a user each; drivers 4-7 share one user
SHARED_USER = "load-team"
REPLY = "Noted, keep going."

DRIVER = r"""
"One load run: import and warm up once, fork one worker per spec, each runs its turns and reports."
import json, os, sys, time
from pathlib import Path

turns, every, out_dir = int(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
specs = [spec.split(":", 1) for spec in sys.argv[4:]]  # "index:handle"

from coachcli.cli.common import client_factory, writing
from coachcli.cli.state import AppState
from coachcli.cli.turn import run_turn
from coachcli.coaching.dispatch.run import dispatch_now
from coachcli.coaching.turn_events import QuietEvents
from coachcli.llm.loader import load

# litellm costs ~8 s of CPU to import: do it once here, then fork. Nothing may open a database
# connection or an HTTP client before the fork (each worker makes its own); no threads run yet.
load()
client_factory(AppState().settings())(None).count_tokens([{"role": "user", "content": "warm up"}])


def work(index, handle):
    app = AppState(user=handle)
    client_for = client_factory(app.settings())
    chats, dispatches, errors = [], [], []
    started = time.time()
    for i in range(turns):
        try:
            if i % every == every - 1:
                task = f"load task {index}-{i}"
                with writing(app) as (session, user):
                    outcome = dispatch_now(session, user, task, client_for, agent="planner")
                dispatches.append(
                    {"id": outcome.dispatch_id, "status": outcome.status, "thread": outcome.task_thread_id}
                )
            else:
                message = f"load message {index}-{i}"
                result = run_turn(app, message, QuietEvents())
                chats.append(
                    {"text": message, "conversation_id": result.conversation_id, "reply": result.reply}
                )
        except Exception as exc:  # recorded, not raised: the test asserts there are none
            errors.append(f"turn {i}: {type(exc).__name__}: {exc}")
    finished = time.time()
    app.close()
    report = {"handle": handle, "pid": os.getpid(), "chats": chats, "dispatches": dispatches,
              "errors": errors, "started": started, "finished": finished}
    (out_dir / f"report-{index}.json").write_text(json.dumps(report))


children = []
for index, handle in specs:
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            work(int(index), handle)
            code = 0
        finally:
            os._exit(code)
    children.append(pid)
failed = [pid for pid in children if os.waitpid(pid, 0)[1] != 0]
sys.exit(f"workers {failed} failed" if failed else 0)
"""


def _handle(index: int) -> str:
    return f"load-{index}" if index < SEPARATE_USERS else SHARED_USER


def _run_drivers(tmp_path: Path, server: ScriptedServer) -> list[dict]:
    """Run the load in a subprocess that forks one worker process per driver; return their reports."""
    script = tmp_path / "driver.py"
    script.write_text(DRIVER)
    env = dict(os.environ)
    env.update(
        COACH_API_BASE=server.url,
        COACH_MODEL="openai/scripted-model",
        OPENAI_API_KEY="sk-test-scripted-key-123456",
        COACH_TIMEOUT="60",
    )
    specs = [f"{i}:{_handle(i)}" for i in range(PROCESSES)]
    args = [sys.executable, str(script), str(TURNS), str(DISPATCH_EVERY), str(tmp_path), *specs]
    # A session of its own, so a timeout can stop the forked workers too, not only their parent.
    proc = subprocess.Popen(
        args, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True
    )
    try:
        _out, err = proc.communicate(timeout=240)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        _out, err = proc.communicate()
        pytest.fail(f"the load did not finish in time: {err[-2000:]}")
    assert proc.returncode == 0, f"load driver failed: {err[-3000:]}"
    reports = [json.loads((tmp_path / f"report-{i}.json").read_text()) for i in range(PROCESSES)]
    assert len({r["pid"] for r in reports}) == PROCESSES, "each driver must be its own process"
    return reports


@pytest.mark.slow
def test_many_processes_chat_and_dispatch_without_losing_anything(
    store: Store, tmp_path: Path, database: str | None
) -> None:
    """8 processes x 50 turns: every message and dispatch is stored exactly once, none fails."""
    assert store.is_sqlite == (database is None), "the store is not on the engine under test"
    with ScriptedServer(text(REPLY)) as server:
        reports = _run_drivers(tmp_path, server)

    errors = [f"{r['handle']}: {e}" for r in reports for e in r["errors"]]
    assert errors == [], "\n".join(errors[:20])
    assert all(r["chats"] and r["dispatches"] for r in reports)
    assert all(c["reply"] == REPLY for r in reports for c in r["chats"])

    by_user: dict[str, list[dict]] = {}
    for r in reports:
        by_user.setdefault(r["handle"], []).append(r)

    with store.read_session() as session:
        for handle, user_reports in by_user.items():
            user = session.exec(select(User).where(User.handle == handle)).one()
            coaching = list(
                session.exec(
                    select(Conversation).where(
                        Conversation.user_id == user.id, Conversation.type == "coaching"
                    )
                )
            )
            assert len(coaching) == 1, f"{handle} has {len(coaching)} coaching conversations"
            coaching_id = coaching[0].id
            reported_ids = {c["conversation_id"] for r in user_reports for c in r["chats"]}
            assert reported_ids == {coaching_id}

            messages = list(
                session.exec(
                    select(Message)
                    .where(Message.conversation_id == coaching_id)
                    .order_by(col(Message.position))
                )
            )
            sent = Counter(c["text"] for r in user_reports for c in r["chats"])
            stored_user = Counter(m.content for m in messages if m.role == "user")
            assert stored_user == sent, f"{handle}: user messages lost or duplicated"
            assistant = [m for m in messages if m.role == "assistant"]
            assert len(assistant) == sum(sent.values()), f"{handle}: assistant replies lost or duplicated"
            assert all(m.status == "complete" and m.content == REPLY for m in assistant)
            assert [m.position for m in messages] == list(range(1, len(messages) + 1))
            assert len(messages) == 2 * sum(sent.values())

            reported = {d["id"]: d for r in user_reports for d in r["dispatches"]}
            stored = {d.id: d for d in session.exec(select(Dispatch).where(Dispatch.user_id == user.id))}
            assert set(stored) == set(reported), f"{handle}: dispatches lost or invented"
            assert {d.status for d in stored.values()} == {"succeeded"}
            threads = {
                t.id: t
                for t in session.exec(
                    select(Conversation).where(Conversation.user_id == user.id, Conversation.type == "task")
                )
            }
            assert len(threads) == len(stored), f"{handle}: task threads != succeeded dispatches"
            assert {d.task_thread_id for d in stored.values()} == set(threads)
            assert {t.parent_id for t in threads.values()} == {coaching_id}
            for thread_id in threads:
                roles = list(
                    session.exec(
                        select(Message.role)
                        .where(Message.conversation_id == thread_id)
                        .order_by(col(Message.position))
                    )
                )
                assert roles == ["user", "assistant"]

    turns = sum(len(r["chats"]) + len(r["dispatches"]) for r in reports)
    assert turns == PROCESSES * TURNS
    seconds = max(r["finished"] for r in reports) - min(r["started"] for r in reports)
    rate = turns / seconds
    engine = store.dialect
    result = {
        "engine": engine,
        "processes": PROCESSES,
        "turns": turns,
        "chats": sum(len(r["chats"]) for r in reports),
        "dispatches": sum(len(r["dispatches"]) for r in reports),
        "seconds": round(seconds, 2),
        "turns_per_second": round(rate, 2),
    }
    out = tmp_path / f"load-throughput-{engine}.json"
    out.write_text(json.dumps(result, indent=2))
    print(
        f"\nload on {engine}: {turns} turns by {PROCESSES} processes in {seconds:.1f}s = {rate:.1f} turns/s"
    )
    print(f"throughput written to {out}")  # reported, not asserted: speed is for benchmarks
