"""Recall of `coach search` on a real long conversation (LoCoMo conv-26), against plain FTS5 BM25.

The conversation (../shared/data/locomo-conv-26.json, CC BY-NC 4.0, never copied into the repo)
is converted to the coachcli-export format in a temporary folder (speaker_a = the user,
speaker_b = the coach, each session's date as its messages' time; a shared photo's caption is
part of its turn, for both methods) and imported with `coach import`. Every question of
categories 1-4 with evidence is then searched, and recall@k is the share of questions with an
evidence turn among the first k hits.

The bulk of the questions go through the search service in-process (150 `coach` processes
would take minutes on two cores); a handful also run through the real `coach search --json
--limit 10`, which must return the same hits. The baseline is measured in the same run: a plain
FTS5 table (porter unicode61) over single turns, the question's words minus stop words OR-ed,
ranked by FTS5's bm25().

Measured twice: the conversation alone in a fresh store, and in a store that also holds several
other users' synthetic histories of similar size (their words overlap with everyday talk), where
an index's statistics over all users would skew the ranking.

Standalone: `.venv/bin/python benchmarks/recall.py [--data PATH]` prints the figures.
"""

from __future__ import annotations

import json
import os
import random
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from core import COACH, Bench, Case, Figure, Outcome, Section, progress  # noqa: E402

DATA = HERE.parent.parent / "shared" / "data" / "locomo-conv-26.json"
KS = (1, 5, 10)
TARGET_AT_10 = 0.80
CLI_CHECKS = 5  # questions also run through the real `coach search`
OTHER_USERS = 6
USER = "caroline"


@dataclass(frozen=True)
class Question:
    text: str
    evidence: frozenset[str]
    category: int


@dataclass(frozen=True)
class Turn:
    dia_id: str
    role: str
    content: str
    created_at: datetime


def load(path: Path) -> tuple[list[Turn], list[Question]]:
    """The conversation's turns in order, and the questions that count (categories 1-4, evidence)."""
    data = json.loads(path.read_text())
    conversation = data["conversation"]
    speaker_a = conversation["speaker_a"]
    turns: list[Turn] = []
    number = 1
    while f"session_{number}" in conversation:
        start = _session_time(conversation[f"session_{number}_date_time"])
        for i, turn in enumerate(conversation[f"session_{number}"]):
            content = turn["text"]
            if turn.get("blip_caption"):
                content += f" [shared a photo: {turn['blip_caption']}]"
            role = "user" if turn["speaker"] == speaker_a else "assistant"
            turns.append(Turn(turn["dia_id"], role, content, start + timedelta(seconds=30 * i)))
        number += 1
    questions = [
        Question(q["question"], frozenset(q["evidence"]), int(q["category"]))
        for q in data["qa"]
        if q["category"] in (1, 2, 3, 4) and q.get("evidence")
    ]
    return turns, questions


def _session_time(text: str) -> datetime:
    """'1:56 pm on 8 May, 2023' → an aware UTC datetime."""
    return datetime.strptime(text.replace(",", ""), "%I:%M %p on %d %B %Y").replace(tzinfo=UTC)


def export_document(handle: str, turns: Sequence[Turn]) -> dict[str, Any]:
    """The coachcli-export JSON (DESIGN.md) of one coaching conversation."""
    return {
        "format": "coachcli-export",
        "version": 1,
        "user": {"handle": handle},
        "conversations": [
            {
                "type": "coaching",
                "messages": [
                    {"role": t.role, "content": t.content, "created_at": t.created_at.isoformat()}
                    for t in turns
                ],
            }
        ],
    }


# Synthetic neighbours: everyday chat about family, hobbies, work and health, in random mixes.
def _words(text: str) -> list[str]:
    return text.split()


TOPIC_WORDS = _words(
    "kids family school work painting pottery camping hiking running swimming music guitar concert "
    "book reading library dog cat beach park garden cooking recipe dinner friends party birthday "
    "support group counseling career job interview adoption mentor community volunteer charity race "
    "photo picture art class workshop museum trip vacation mountains lake sunset sunrise flowers "
    "journey identity transgender parade pride conference speech school teacher project course exam"
)
FILLER = _words(
    "I really think that was a great time and we should do it again soon. "
    "It has been busy lately but I am trying to keep up with everything. "
    "Thanks so much for asking, that means a lot to me. "
    "How about you, what have you been up to this week?"
)


def synthetic_turns(rng: random.Random, count: int, start: datetime) -> list[Turn]:
    """A long made-up history: sentences mixing filler with a user-specific bias of topic words."""
    weights = [rng.random() ** 3 for _ in TOPIC_WORDS]  # each user talks about some topics a lot
    turns = []
    for i in range(count):
        topics = rng.choices(TOPIC_WORDS, weights, k=rng.randint(1, 4))
        filler = rng.sample(FILLER, rng.randint(6, 14))
        words = filler + topics
        rng.shuffle(words)
        role = "user" if i % 2 == 0 else "assistant"
        moment = start + timedelta(minutes=7 * i)
        turns.append(Turn(f"S{i}", role, " ".join(words).capitalize() + ".", moment))
    return turns


# A second conversation, made up here, as a check that the method is not fitted to LoCoMo: the
# coach asks about something, the person answers in a few words, and later asks about it. The
# answer is the short reply, which holds none of the question's words.
EVENTS = _words(
    "dentist:appointment piano:recital job:interview half:marathon team:offsite tax:return "
    "car:service flu:shot book:club pottery:class yoga:retreat wedding:anniversary visa:renewal "
    "eye:exam swim:lesson garden:fence bike:repair cooking:workshop climbing:trip guitar:exam "
    "passport:photo roof:repair school:play chess:tournament choir:concert kitchen:renovation "
    "knee:surgery blood:test driving:test piano:tuning"
)
REPLIES = (
    "Next Tuesday!",
    "Yes, on the 14th.",
    "Friday morning, I think.",
    "Done, last week.",
    "Tomorrow at nine.",
    "In two weeks.",
)


def short_reply_conversation(rng: random.Random, start: datetime) -> tuple[list[Turn], list[Question]]:
    """Everyday chatter with, for each event, the coach's question and a short reply; each event's
    words also come up once elsewhere, in passing (so the words alone do not point at the answer)."""
    events = [e.replace(":", " ") for e in EVENTS]
    lines: list[tuple[str, str, str | None]] = []  # (role, text, event whose answer this is)
    for event in events:
        for _ in range(rng.randint(2, 5)):
            chatter = rng.sample(FILLER, rng.randint(8, 14)) + rng.sample(TOPIC_WORDS, 2)
            rng.shuffle(chatter)
            lines.append(
                ("user" if len(lines) % 2 == 0 else "assistant", " ".join(chatter).capitalize() + ".", None)
            )
        aside = rng.choice(events)
        lines.append(("user", f"My friend mentioned her {aside} too, funny how these things go.", None))
        lines.append(("assistant", f"How are things going with the {event}? When is it?", None))
        lines.append(("user", rng.choice(REPLIES), event))
    turns, questions = [], []
    for i, (role, content, event) in enumerate(lines):
        turns.append(Turn(f"X{i}", role, content, start + timedelta(minutes=5 * i)))
        if event:
            questions.append(Question(f"When was my {event}?", frozenset({f"X{i}"}), 0))
    return turns, questions


def coach_import(env: dict[str, str], document: dict[str, Any], folder: Path) -> None:
    path = folder / f"{document['user']['handle']}.json"
    path.write_text(json.dumps(document))
    run = subprocess.run(
        [COACH, "-u", document["user"]["handle"], "import", str(path), "--json"],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    if run.returncode != 0:
        raise RuntimeError(f"coach import failed: {run.stderr.strip()}")
    path.unlink()


def message_turns(env: dict[str, str], turns: Sequence[Turn]) -> dict[int, str]:
    """Message id → dia_id: the imported coaching messages are in the turns' order."""
    from coachcli.coaching.conversations import find_coaching
    from coachcli.coaching.messages import list_messages
    from coachcli.coaching.users import find_user
    from coachcli.store.engine import Store

    store = Store(f"sqlite:///{Path(env['COACH_HOME']) / 'coach.db'}")
    try:
        with store.read_session() as session:
            user = find_user(session, USER)
            assert user is not None
            coaching = find_coaching(session, user)
            assert coaching is not None
            messages = list_messages(session, coaching.id)
    finally:
        store.dispose()
    if [m.content for m in messages] != [t.content for t in turns]:
        raise RuntimeError("the imported conversation differs from the converted one")
    return {int(m.id or 0): t.dia_id for m, t in zip(messages, turns, strict=True)}


def recall(ranked: Sequence[Sequence[str]], questions: Sequence[Question]) -> dict[int, float]:
    return {
        k: sum(bool(set(r[:k]) & q.evidence) for r, q in zip(ranked, questions, strict=True)) / len(questions)
        for k in KS
    }


def coachcli_rankings(
    env: dict[str, str], questions: Sequence[Question], ids: dict[int, str]
) -> tuple[list[list[str]], list[float]]:
    """dia_ids of the top 10 `coach search` hits per question (in-process), and each latency."""
    from coachcli.coaching.search import search
    from coachcli.coaching.users import find_user
    from coachcli.store.engine import Store

    store = Store(f"sqlite:///{Path(env['COACH_HOME']) / 'coach.db'}")
    ranked, latencies = [], []
    try:
        with store.read_session() as session:
            user = find_user(session, USER)
            for question in questions:
                started = time.perf_counter()
                hits = search(session, user, question.text, limit=10)
                latencies.append(time.perf_counter() - started)
                ranked.append([ids.get(int(h.id), "") for h in hits if h.type == "message"])
    finally:
        store.dispose()
    return ranked, latencies


def cli_agrees(
    env: dict[str, str],
    questions: Sequence[Question],
    in_process: Sequence[Sequence[str]],
    ids: dict[int, str],
) -> int:
    """Run a few questions through the real `coach search --json --limit 10`: same hits?"""
    agreed = 0
    for question, expected in list(zip(questions, in_process, strict=True))[:CLI_CHECKS]:
        run = subprocess.run(
            [COACH, "-u", USER, "search", question.text, "--json", "--limit", "10"],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        hits = json.loads(run.stdout) if run.returncode == 0 else None
        got = [ids.get(h["id"], "") for h in hits or [] if h["type"] == "message"]
        agreed += got == list(expected)
    return agreed


STOP = re.compile(r"[^\W_]+")


def baseline_rankings(
    turns_by_user: dict[str, Sequence[Turn]], questions: Sequence[Question]
) -> list[list[str]]:
    """Plain FTS5 BM25 over single turns in one table of every user's turns, filtered to the user."""
    from coachcli.coaching.search_text import STOP_WORDS

    db = sqlite3.connect(":memory:")
    db.execute("CREATE VIRTUAL TABLE t USING fts5(body, tokenize='porter unicode61 remove_diacritics 2')")
    dia: dict[int, str] = {}
    mine: set[int] = set()
    rowid = 0
    for handle, turns in turns_by_user.items():
        for turn in turns:
            rowid += 1
            db.execute("INSERT INTO t(rowid, body) VALUES (?, ?)", (rowid, turn.content))
            if handle == USER:
                dia[rowid] = turn.dia_id
                mine.add(rowid)
    ranked = []
    for question in questions:
        words = [w for w in STOP.findall(question.text.lower()) if w not in STOP_WORDS]
        query = " OR ".join(f'"{w}"' for w in words)
        rows = db.execute("SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t)", (query,)).fetchall()
        ranked.append([dia[r] for (r,) in rows if r in mine][:10])
    return ranked


@dataclass
class Run:
    label: str
    coachcli: dict[int, float]
    baseline: dict[int, float]
    latency_ms: float
    cli_agreed: int
    questions: int
    checked: bool = True  # LoCoMo, held to the target (the made-up conversation is a check only)


def measure(
    turns: list[Turn], questions: list[Question], *, others: int, folder: Path, label: str = ""
) -> Run:
    """One store: the conversation (and `others` synthetic users), imported, then every question."""
    home = folder / f"home-{others}-{label or 'locomo'}"
    home.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_")}
    env.update(COACH_HOME=str(home), COACH_USER=USER)
    rng = random.Random(26)
    turns_by_user: dict[str, Sequence[Turn]] = {}
    for n in range(others):
        handle = f"neighbour{n}"
        start = datetime(2023, 1, 1, tzinfo=UTC) + timedelta(days=n)
        turns_by_user[handle] = synthetic_turns(rng, len(turns), start)
        coach_import(env, export_document(handle, turns_by_user[handle]), folder)
    turns_by_user[USER] = turns
    coach_import(env, export_document(USER, turns), folder)
    ids = message_turns(env, turns)
    ranked, latencies = coachcli_rankings(env, questions, ids)
    agreed = cli_agrees(env, questions, ranked, ids)
    label = label or ("fresh store" if not others else f"shared store (+{others} users)")
    return Run(
        label,
        recall(ranked, questions),
        recall(baseline_rankings(turns_by_user, questions), questions),
        statistics.median(latencies) * 1000,
        agreed,
        len(questions),
    )


def run_all(data: Path, folder: Path, report: Callable[[str], None] = progress) -> list[Run]:
    turns, questions = load(data)
    report(f"recall: {len(turns)} turns, {len(questions)} questions; fresh store")
    runs = [measure(turns, questions, others=0, folder=folder)]
    report(f"recall: shared store with {OTHER_USERS} other users")
    runs.append(measure(turns, questions, others=OTHER_USERS, folder=folder))
    report("recall: a made-up conversation whose answers are short replies")
    synthetic, asked = short_reply_conversation(random.Random(11), datetime(2024, 3, 1, tzinfo=UTC))
    runs.append(measure(synthetic, asked, others=0, folder=folder, label="short replies (made up)"))
    runs[-1].checked = False
    return runs


def figures(runs: Sequence[Run]) -> Outcome:
    outcome = Outcome()
    lines = [
        "| store | method | recall@1 | recall@5 | recall@10 | median search |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for run in runs:
        outcome.figures.append(
            Figure(
                f"recall@10, `coach search` ({run.label})",
                run.coachcli[10],
                "",
                target=TARGET_AT_10 if run.checked else None,
                baseline=run.baseline[10],
                baseline_name="plain FTS5 BM25, single turns",
                higher_is_better=True,
                condition_ok=run.cli_agreed == min(CLI_CHECKS, run.questions),
                note=f"{run.cli_agreed}/{CLI_CHECKS} CLI checks agree",
            )
        )
        outcome.figures.append(Figure(f"median search latency ({run.label})", run.latency_ms / 1000, "s"))
        for name, values, latency in (
            ("`coach search`", run.coachcli, f"{run.latency_ms:.1f} ms"),
            ("plain FTS5 BM25", run.baseline, ""),
        ):
            cells = " | ".join(f"{values[k]:.2f}" for k in KS)
            lines.append(f"| {run.label} | {name} | {cells} | {latency} |")
    lines.append("")
    lines.append(
        f"{runs[0].questions} questions (LoCoMo conv-26, categories 1-4 with evidence). `coach search` "
        "hits were taken in-process through the search service; the first "
        f"{CLI_CHECKS} questions also ran through the real `coach search --json --limit 10`. "
        "`short replies (made up)`: a conversation the benchmark makes up (everyday chatter; the coach "
        "asks about an event, the person answers in a few words, and each event is also mentioned "
        "once in passing elsewhere), asked `When was my <event>?` for each: the answer is the short "
        "reply, which holds none of the question's words. A check that finding a turn through its "
        "neighbours is not fitted to LoCoMo, not a target."
    )
    outcome.sections.append(Section("Recall on LoCoMo conv-26", lines))
    return outcome


def case(bench: Bench) -> Outcome:
    if not DATA.exists():
        return Outcome(notes=[f"- **Recall**: skipped, {DATA} is not there."])
    return figures(run_all(DATA, bench.tmp / "recall"))


CASES = [
    Case(
        "recall",
        case,
        "- **Recall**: LoCoMo conv-26 imported with `coach import`; recall@1/5/10 of `coach search` "
        "for its 150 questions vs plain FTS5 BM25 over single turns, alone and among 6 other users.",
    )
]


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description="recall of coach search on LoCoMo conv-26")
    parser.add_argument("--data", type=Path, default=DATA)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="coach-recall-") as folder:
        for run in run_all(args.data, Path(folder), report=lambda m: print(m, file=sys.stderr)):
            print(
                f"{run.label}: coach search "
                + " ".join(f"R@{k}={run.coachcli[k]:.3f}" for k in KS)
                + " | baseline "
                + " ".join(f"R@{k}={run.baseline[k]:.3f}" for k in KS)
                + f" | median {run.latency_ms:.1f} ms | CLI agreed {run.cli_agreed}/{CLI_CHECKS}"
            )


if __name__ == "__main__":
    main()
