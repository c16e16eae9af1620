"""Search speed: a query at 100,000 messages, cold `coach search`, appends with the index, backfill.

The store holds one user's coaching conversation of 100,000 messages (10,000 in quick mode) of
made-up chat: everyday filler, a few topic words each, and a long tail of rarer words, so that
questions match hundreds of messages, as real ones do. Its index is built by the triggers as the
rows go in.

Standalone: `.venv/bin/python benchmarks/run.py --only search --quick`.
"""

from __future__ import annotations

import random
import shutil
import sqlite3
import statistics
import time
from collections.abc import Callable
from contextlib import ExitStack
from functools import partial
from pathlib import Path
from typing import Any

import procs
import seed
from core import COACH, PYTHON, Bench, Case, Figure, Outcome, command_versus, interleave, progress


def _words(text: str) -> list[str]:
    return text.split()


TOPICS = _words(
    "knee physio run race marathon sleep diet water coffee work meeting deadline boss team family "
    "kids school garden dog walk bike swim yoga gym stretch back pain doctor plan goal habit "
    "journal book music guitar trip beach mountain budget savings rent move friend birthday"
)
FILLER = _words(
    "i you we it was is the a to and of that this so really just had have been with for on at "
    "today yesterday week good great bit more felt feel think going went did do about"
)
QUESTIONS = (
    "When did I start physio for my knee?",
    "What did my boss say about the deadline?",
    "How was the marathon training going in the spring?",
    "What did we plan for the garden?",
    "Did I talk about my budget and savings before?",
    "What yoga stretch helped my back pain?",
    "When was the trip to the mountain?",
    "What book was I reading with the kids?",
)


def _text(rng: random.Random, weights: list[float] | None = None) -> str:
    words = rng.choices(FILLER, k=rng.randint(6, 20)) + rng.choices(TOPICS, weights, k=rng.randint(1, 4))
    words += [f"w{int(rng.paretovariate(1.1)) % 20_000}" for _ in range(rng.randint(0, 3))]
    rng.shuffle(words)
    return " ".join(words)


def build(home: Path, messages: int, others: int = 0) -> tuple[Path, str]:
    """A store at head whose bench user's coaching conversation holds `messages` messages.

    `others` more users each hold as many messages, on the same words with their own mix of
    topics (a word common for one is rare for another), written interleaved with the bench
    user's in chunks, as in a store a team shares."""
    from coachcli.coaching.conversations import get_or_create_coaching
    from coachcli.coaching.users import get_or_create_user
    from coachcli.store.engine import Store
    from coachcli.store.migrate import ensure_schema

    home.mkdir(parents=True, exist_ok=True)
    db = home / "coach.db"
    store = Store(f"sqlite:///{db}")
    ensure_schema(store)
    with store.write() as session:
        conversations = [
            get_or_create_coaching(session, get_or_create_user(session, handle)).id
            for handle in [seed.USER, *(f"neighbour{n}" for n in range(others))]
        ]
    store.dispose()
    rng = random.Random(5)
    mixes = [None] + [[rng.random() ** 3 for _ in TOPICS] for _ in range(others)]
    chunk = 2_000
    for start in range(1, messages + 1, chunk):
        rows = [
            {
                "conversation_id": conversation,
                "position": p,
                "role": "user" if p % 2 else "assistant",
                "content": _text(rng, mix),
                "status": "complete",
                "created_at": seed._t(p),
            }
            for conversation, mix in zip(conversations, mixes, strict=True)
            for p in range(start, min(start + chunk, messages + 1))
        ]
        seed._bulk_insert(db, [("messages", rows)])
    seed._checkpoint(db)
    return db, conversations[0]


def build_postgres(url: str, messages: int) -> None:
    """The same bench user and messages as `build` (same seed), in a PostgreSQL store at `url`;
    the index (generated tsvector, GIN, search_terms) fills as the rows go in."""
    import psycopg

    from coachcli.coaching.conversations import get_or_create_coaching
    from coachcli.coaching.users import get_or_create_user
    from coachcli.store.engine import Store
    from coachcli.store.migrate import ensure_schema

    store = Store(url)
    ensure_schema(store)
    with store.write() as session:
        conversation = get_or_create_coaching(session, get_or_create_user(session, seed.USER)).id
    store.dispose()
    rng = random.Random(5)
    with psycopg.connect(url.replace("postgresql+psycopg://", "postgresql://")) as conn:
        for start in range(1, messages + 1, 2_000):
            rows = [
                (conversation, p, "user" if p % 2 else "assistant", _text(rng, None), "complete", seed._t(p))
                for p in range(start, min(start + 2_000, messages + 1))
            ]
            with conn.cursor() as cursor:
                cursor.executemany(
                    "INSERT INTO messages (conversation_id, position, role, content, status, created_at) "
                    "VALUES (%s, %s, %s, %s, %s, %s)",
                    rows,
                )
            conn.commit()
        conn.execute("ANALYZE")


def search_latencies(dbs: dict[str, str], rounds: int) -> dict[str, list[float]]:
    """Seconds per in-process search (default limit 10) in each store (by URL): every question
    `rounds` times, the stores' passes interleaved (a load spike from elsewhere hits them alike)."""
    from coachcli.coaching.search import search
    from coachcli.coaching.users import find_user
    from coachcli.store.engine import Store

    def one_pass(session: Any, user: Any) -> list[float]:
        times = []
        for question in QUESTIONS:
            start = time.perf_counter()
            search(session, user, question)
            times.append(time.perf_counter() - start)
        return times

    with ExitStack() as stack:
        jobs: dict[str, Callable[[], list[float]]] = {}
        for name, url in dbs.items():
            store = Store(url)
            stack.callback(store.dispose)
            session = stack.enter_context(store.read_session())
            jobs[name] = partial(one_pass, session, find_user(session, seed.USER))
        passes = interleave(jobs, rounds, seed=8)  # the warm-up pass fills connections and caches
    return {name: [t for times in runs for t in times] for name, runs in passes.items()}


def append_pair(bench: Bench, messages: int) -> Figure:
    """append_message + commit on a store with the index vs the same store without its triggers."""
    from sqlalchemy import delete
    from sqlmodel import col

    from coachcli.coaching.messages import append_message
    from coachcli.store.engine import Store
    from coachcli.store.models import Message

    indexed_db, conversation = build(bench.tmp / "append-indexed", messages)
    plain_home = bench.tmp / "append-plain"
    plain_home.mkdir()
    plain_db = plain_home / "coach.db"
    shutil.copy(indexed_db, plain_db)
    raw = sqlite3.connect(plain_db)
    for trigger in ("search_messages_ai", "search_messages_au", "search_messages_ad"):
        raw.execute(f"DROP TRIGGER {trigger}")
    raw.commit()
    raw.close()
    stores = {"indexed": Store(f"sqlite:///{indexed_db}"), "plain": Store(f"sqlite:///{plain_db}")}

    def once(store: Any) -> float:
        with store.session() as session:
            start = time.perf_counter()
            row = append_message(session, conversation, "user", "How did the long run go this week?")
            session.commit()
            elapsed = time.perf_counter() - start
            session.execute(delete(Message).where(col(Message.id) == row.id))
            session.commit()
        return elapsed

    try:
        jobs: dict[str, Callable[[], float]] = {name: partial(once, s) for name, s in stores.items()}
        times = interleave(jobs, bench.reps(300, 40), seed=4)
    finally:
        for store in stores.values():
            store.dispose()
    return Figure.paired(
        f"append_message at {messages:,} messages, with the search index",
        "s",
        times["indexed"],
        times["plain"],
        "the same without the index's triggers",
        1.3,
    )


def backfill(bench: Bench, messages: int) -> list[Figure]:
    """A store made at 0003 (no index) holding `messages` messages; time `coach db upgrade`."""
    from alembic import command
    from alembic.config import Config

    from coachcli.store.engine import Store
    from coachcli.store.migrate import MIGRATIONS_DIR

    home = bench.tmp / "backfill"
    home.mkdir()
    db = home / "coach.db"
    store = Store(f"sqlite:///{db}")
    with store.engine.connect() as conn, conn.begin():
        config = Config()
        config.set_main_option("script_location", str(MIGRATIONS_DIR))
        config.attributes["connection"] = conn
        command.upgrade(config, "0003_goals_progress")
    store.dispose()
    user = {"id": "00000000-0000-4000-8000-000000000001", "handle": seed.USER, "created_at": seed._t(0)}
    conversation = seed._conv(
        "00000000-0000-4000-8000-000000000002", user["id"], "coaching", None, "auto", None, 0
    )
    seed._bulk_insert(db, [("users", [user]), ("conversations", [conversation])])
    rng = random.Random(6)
    rows = [
        {
            "conversation_id": conversation["id"],
            "position": p,
            "role": "user" if p % 2 else "assistant",
            "content": _text(rng),
            "status": "complete",
            "created_at": seed._t(p),
        }
        for p in range(1, messages + 1)
    ]
    seed._bulk_insert(db, [("messages", rows)])
    seed._checkpoint(db)
    again = bench.tmp / "backfill-rss"
    again.mkdir()
    shutil.copy(db, again / "coach.db")
    run = procs.run([COACH, "db", "upgrade"], bench.env(home=home))
    if run.returncode != 0:
        raise RuntimeError("coach db upgrade failed")
    # Peak memory from a second copy, launched from a small interpreter (see procs.peak_rss).
    peak = procs.peak_rss(PYTHON, [COACH, "db", "upgrade"], bench.env(home=again))
    return [
        Figure(f"backfill of {messages:,} messages (`coach db upgrade` from 0003)", run.wall, "s"),
        Figure("peak memory of that upgrade (whole process)", peak, "KiB"),
    ]


OTHERS = 4  # users beside the bench user in the shared store, each with as many messages


def _postgres_server(stack: ExitStack) -> tuple[str | None, str]:
    """(URL, "") of a throwaway local PostgreSQL server (the test suite's), stopped with `stack`;
    or (None, why there is none): then the PostgreSQL figure is skipped."""
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
    from pg_server import PgServer

    try:
        server = PgServer()
    except RuntimeError as exc:
        return None, str(exc)
    if server.available:
        return None, server.available
    url = server.start()
    stack.callback(server.stop)
    return str(url), ""


def search_case(bench: Bench) -> Outcome:
    size = bench.reps(100_000, 10_000)
    progress(f"building a store of {size:,} messages (the index fills as they go in)")
    started = time.perf_counter()
    db, _ = build(bench.tmp / "search", size)
    built = time.perf_counter() - started
    progress(f"building a shared store: {size:,} messages of the bench user and {OTHERS} others alike")
    shared_db, _ = build(bench.tmp / "search-shared", size, OTHERS)
    urls = {"alone": f"sqlite:///{db}", "shared": f"sqlite:///{shared_db}"}
    with ExitStack() as stack:
        postgres, why_not = _postgres_server(stack)
        if postgres is None:
            skipped = f"- PostgreSQL search: skipped ({why_not})."
        else:
            progress(f"building the same {size:,} messages in a PostgreSQL store")
            build_postgres(postgres, size)
            urls["postgresql"] = postgres
            skipped = ""
        latencies = search_latencies(urls, bench.reps(10, 2))
    times, shared = latencies["alone"], latencies["shared"]
    p50 = statistics.median(times)
    figures = [
        Figure(f"search at {size:,} messages, in process (p50 of {len(times)})", p50, "s", target=0.020),
        Figure(
            f"the same in a store shared with {OTHERS} other users of {size:,} messages each",
            statistics.median(shared),
            "s",
            target=0.020,
        ),
        command_versus(
            bench,
            "cold `coach search` (a question)",
            [COACH, "search", QUESTIONS[0]],
            1.2,
            env=bench.env(home=db.parent),
        ),
    ]
    progress("append_message with and without the index")
    figures.append(append_pair(bench, bench.reps(10_000, 2_000)))
    progress("backfill: upgrading a copy from 0003")
    figures += backfill(bench, size)
    if "postgresql" in latencies:
        figures.insert(
            2,
            Figure(
                f"the same on PostgreSQL (a local server, {size:,} messages)",
                statistics.median(latencies["postgresql"]),
                "s",
            ),
        )
    notes = [skipped] if skipped else []
    notes += [
        f"- Search store: {size:,} messages inserted with the index's triggers in {built:.1f} s; "
        f"p90 of the in-process searches {statistics.quantiles(times, n=10)[-1] * 1000:.1f} ms alone, "
        f"{statistics.quantiles(shared, n=10)[-1] * 1000:.1f} ms in the shared store."
    ]
    return Outcome(figures, notes=notes)


CASES = [
    Case(
        "search",
        search_case,
        "- **Search**: in-process `search()` (p50 over 8 questions) on one user's 100,000 messages, "
        "alone, in a store where 4 other users hold 100,000 messages each, and on a local PostgreSQL "
        "server holding the same messages (the three interleaved); "
        "cold `coach search` vs cold `coach tasks list` on that store; `append_message` + commit "
        "with the index's triggers vs without them (interleaved); `coach db upgrade` from 0003 "
        "indexing all 100,000 messages (wall time, peak RSS).",
    )
]
