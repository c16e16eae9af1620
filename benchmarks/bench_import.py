"""`coach import` of a large export (about 100 MB) and `coach export` of the result: peak memory and time.

The file is one long coaching conversation (the bulk of any real history), a hundred task threads,
facts and notes, written the way `coach export` writes it. Each command runs in a fresh process
launched from a small interpreter, so its peak RSS is its own (see procs.peak_rss).

Standalone: `.venv/bin/python benchmarks/bench_import.py [--mb 100] [--keep]` prints the figures.
"""

from __future__ import annotations

import json
import random
import resource
import shutil
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from core import COACH, PYTHON, Bench, Case, Figure, Outcome, progress
from procs import peak_rss

TARGET_RSS_KIB = 300 * 1024
WORDS = [
    "knee",
    "physio",
    "run",
    "walk",
    "sleep",
    "plan",
    "goal",
    "week",
    "monday",
    "morning",
    "tired",
    "better",
    "pain",
    "stretch",
    "coach",
    "habit",
    "water",
    "food",
    "work",
    "stress",
    "family",
    "weekend",
    "progress",
    "slow",
    "steady",
    "strong",
    "race",
    "rest",
]


def write_export(path: Path, megabytes: float, *, seed: int = 7) -> int:
    """A realistic export of about `megabytes`, written as a stream; returns the message count."""
    rng = random.Random(seed)
    start = datetime(2024, 1, 1, 8, tzinfo=UTC)
    target = int(megabytes * 1024 * 1024)
    messages = 0
    with path.open("w", encoding="utf-8") as out:
        head = {
            "format": "coachcli-export",
            "version": 1,
            "exported_at": start.isoformat(),
            "user": {"handle": "x"},
        }
        out.write(json.dumps(head)[:-1])
        facts = [
            {"text": f"Fact number {i} about {rng.choice(WORDS)}", "source": "manual"} for i in range(200)
        ]
        out.write(',\n "facts": [' + ",\n  ".join(json.dumps(f) for f in facts) + "]")
        out.write(
            ',\n "conversations": [\n  {"type": "coaching", "title": null, "mode": "auto", "messages": ['
        )
        when = start
        first = True
        while out.tell() < target * 0.97:
            role = "user" if messages % 2 == 0 else "assistant"
            words = rng.randint(20, 110) if role == "assistant" else rng.randint(5, 40)
            record = {
                "id": messages + 1,
                "role": role,
                "content": " ".join(rng.choice(WORDS) for _ in range(words)).capitalize() + ".",
                "created_at": when.isoformat(),
                "status": "complete",
                "tool_calls": None,
                "tool_call_id": None,
                "model": "openai/gpt-4o-mini" if role == "assistant" else None,
            }
            out.write(("\n   " if first else ",\n   ") + json.dumps(record))
            first = False
            messages += 1
            when += timedelta(seconds=rng.randint(20, 4000))
        out.write('\n   ],\n   "memories": [{"kind": "note", "content": "Prefers short answers"}]}')
        for n in range(100):
            thread = {
                "type": "task",
                "title": f"Planner: task {n}",
                "mode": "task",
                "created_at": (start + timedelta(days=n)).isoformat(),
                "messages": [
                    {
                        "role": "user",
                        "content": f"Task: task {n}",
                        "created_at": (start + timedelta(days=n)).isoformat(),
                    },
                    {"role": "assistant", "content": "# Plan\n" + "- step\n" * 200},
                ],
            }
            out.write(",\n  " + json.dumps(thread))
            messages += 2
        out.write("\n ]\n}\n")
    return messages


def _measure(bench: Bench, home: Path, argv: list[str]) -> tuple[float, float, int]:
    """Wall time, CPU time (user + system, from the children's rusage) and peak RSS of one command."""
    env = bench.env(home)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    rss = peak_rss(PYTHON, [COACH, *argv], env)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, rss


def import_export(bench: Bench) -> Outcome:
    megabytes = 10.0 if bench.quick else 100.0
    folder = bench.tmp / "import"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    source = folder / "export.json"
    progress(f"import: writing a {megabytes:.0f} MB export")
    count = write_export(source, megabytes)
    size_mb = source.stat().st_size / 1024 / 1024
    home = folder / "home"
    progress(f"import: coach import ({count:,} messages)")
    first = _measure(bench, home, ["-u", "imported", "import", str(source), "--json"])
    progress("import: the same file again (everything already there)")
    again = _measure(bench, home, ["-u", "imported", "import", str(source), "--json"])
    progress("import: coach export -o of the imported store")
    out = folder / "again.json"
    exported = _measure(bench, home, ["-u", "imported", "export", "-o", str(out)])
    label = f"{size_mb:.0f} MB, {count:,} messages"
    written = f"{out.stat().st_size / 1024 / 1024:.0f} MB written"
    figures = [
        Figure(f"`coach import` peak RSS ({label})", first[2], "KiB", target=TARGET_RSS_KIB),
        Figure(f"`coach import` wall time ({label})", first[0], "s"),
        Figure(f"`coach import` CPU time ({label})", first[1], "s"),
        Figure("`coach import` of the same file again: peak RSS", again[2], "KiB", target=TARGET_RSS_KIB),
        Figure("`coach import` of the same file again (adds nothing): wall time", again[0], "s"),
        Figure("`coach import` of the same file again (adds nothing): CPU time", again[1], "s"),
        Figure(f"`coach export -o` peak RSS ({written})", exported[2], "KiB"),
        Figure("`coach export -o` wall time", exported[0], "s"),
        Figure("`coach export -o` CPU time", exported[1], "s"),
    ]
    return Outcome(figures)


CASES = [
    Case(
        "import",
        import_export,
        "- **Import/export**: a ~100 MB export (one long coaching conversation, 100 task threads, "
        "facts) imported by `coach import` into a fresh store, imported again (nothing added), then "
        "exported with `coach export -o`; each a fresh process, peak RSS its own (launched from a "
        "small interpreter). Import streams the file twice with ijson (check, then write in "
        "batches of 1,000 messages in one transaction).",
    )
]


def main() -> int:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="10 MB instead of 100 MB")
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder")
    args = parser.parse_args()
    bench = Bench(quick=args.quick, keep=args.keep)
    try:
        outcome = import_export(bench)
    finally:
        bench.close()
    for figure in outcome.figures:
        value = f"{figure.value / 1024:.1f} MiB" if figure.unit == "KiB" else f"{figure.value:.2f} s"
        print(f"{figure.name}: {value}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
