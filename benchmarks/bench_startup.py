"""Start-up cases: cold `coach tasks list`, `coach --help`, the chat prompt, and peak memory."""

from __future__ import annotations

import statistics
import subprocess

import procs
from core import (
    COACH,
    FLOOR_CODE,
    FLOOR_NAME,
    HERE,
    PYTHON,
    Bench,
    Case,
    Figure,
    Outcome,
    Section,
    interleave,
)

PROMPT = "you> "


def startup(bench: Bench) -> Outcome:
    """Floor, `tasks list`, `--help` and the chat prompt, interleaved in the same rounds; also the
    floor timed against itself (the noise) and the stack minimum for the listing (no target)."""
    env = bench.env()
    db = bench.home() / "coach.db"
    runs = interleave(
        {
            "floor": lambda: procs.run([PYTHON, "-c", FLOOR_CODE], env),
            "floor2": lambda: procs.run([PYTHON, "-c", FLOOR_CODE + " "], env),
            "stack": lambda: procs.run([PYTHON, str(HERE / "stack_floor.py"), str(db)], env),
            "tasks": lambda: procs.run([COACH, "tasks", "list"], env),
            "help": lambda: procs.run([COACH, "--help"], env),
            "prompt": lambda: procs.prompt_time([COACH, "chat"], env, PROMPT),
        },
        bench.reps(21, 5),
        seed=6,
        label="startup",
    )
    wall = {k: [r.wall for r in v] for k, v in runs.items()}
    cpu = {k: statistics.median(r.cpu for r in v) for k, v in runs.items() if k != "prompt"}
    noise = statistics.median(a / b for a, b in zip(wall["floor2"], wall["floor"], strict=True))
    fastest = min(r.cpu for r in runs["tasks"]) / min(r.cpu for r in runs["floor"])
    stack_wall = statistics.median(wall["stack"])
    size = f"{bench.store_size:,}"
    tasks = Figure.paired(
        f"cold `coach tasks list` ({size} conversations, 200 task threads)",
        "s",
        wall["tasks"],
        wall["floor"],
        FLOOR_NAME,
        1.10,
    )
    figures = [
        tasks,
        Figure.paired("`coach --help`", "s", wall["help"], wall["floor"], FLOOR_NAME, 1.10),
        Figure.paired(
            "`coach chat` on a pty: until the prompt is shown",
            "s",
            wall["prompt"],
            wall["floor"],
            FLOOR_NAME,
            1.30,
        ),
    ]
    assert tasks.baseline is not None and tasks.ratio is not None
    context = [
        _cpu_row("`coach tasks list`", cpu["tasks"], cpu["floor"]),
        [
            "Noise control: the floor command timed again as a separate job in the same rounds / floor",
            "",
            f"{noise:.2f}×",
        ],
        ["`coach tasks list` / floor, fastest run of each (CPU)", "", f"{fastest:.2f}×"],
        [
            "The same listing the usual SQLModel way (benchmarks/stack_floor.py: SQLModel models, Typer, "
            "3 ORM queries) / floor",
            f"{stack_wall:.3f} s (CPU {cpu['stack']:.3f} s)",
            f"{stack_wall / tasks.baseline:.2f}× (coach: {tasks.ratio:.2f}×)",
        ],
        _cpu_row("`coach --help`", cpu["help"], cpu["floor"]),
    ]
    notes = []
    if tasks.passed is False:
        notes.append(
            f"- **`coach tasks list` {tasks.ratio:.2f}× (target {tasks.target:.2f}×).** In the same rounds "
            f"the floor timed against itself gave {noise:.2f}× and the fastest runs {fastest:.2f}×: read "
            f"the ratio with that noise in mind. What remains above the floor is what any Typer + "
            f"SQLAlchemy command pays: Typer's runtime option parsing (it builds Pydantic adapters), "
            f"SQLite's dialect, opening the file, one query, and coachcli's settings and schema-revision "
            f"check (see the import table below)."
        )
    imports = Section(
        "Import time beyond the floor (one `-X importtime` run each, self time)",
        _import_table(env, "coach tasks list", [COACH, "tasks", "list"])
        + _import_table(env, "coach --help", [COACH, "--help"]),
    )
    return Outcome(figures, context, [imports], notes)


def _cpu_row(label: str, mine: float, floor: float) -> list[str]:
    return [f"CPU (user+sys) of {label} / floor", f"{mine:.3f} s / {floor:.3f} s", f"{mine / floor:.2f}×"]


def _import_table(env: dict[str, str], label: str, argv: list[str], top: int = 12) -> list[str]:
    """Modules imported by `argv` but not by the floor, by self time (one -X importtime run)."""
    out = subprocess.run(
        [PYTHON, "-X", "importtime", *argv], env=env, capture_output=True, text=True, stdin=subprocess.DEVNULL
    )
    mine: dict[str, int] = {}
    for line in out.stderr.splitlines():
        if line.startswith("import time:") and "self [us]" not in line:
            parts = line[len("import time:") :].split("|")
            mine[parts[2].strip()] = int(parts[0])
    # The floor's modules as sys.modules lists them: -X importtime leaves out some that a package
    # imports lazily (pydantic's), which would then look like extra imports of the command.
    listing = subprocess.run(
        [PYTHON, "-c", FLOOR_CODE + "; import sys; print('\\n'.join(sys.modules))"],
        env=env,
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
    )
    floor = set(listing.stdout.split())
    extra = {k: v for k, v in mine.items() if k not in floor}
    rows = [("(all modules beyond the floor)", sum(extra.values()))]
    rows += sorted(extra.items(), key=lambda kv: -kv[1])[:top]
    lines = [f"`{label}`:", "", "| module | self time |", "| --- | --- |"]
    return lines + [f"| {name} | {us / 1000:.1f} ms |" for name, us in rows] + [""]


def memory(bench: Bench) -> Outcome:
    """Peak RSS of `coach tasks list` against the floor, each launched from a minimal interpreter."""
    env = bench.env()
    rss = interleave(
        {
            "floor": lambda: float(procs.peak_rss(PYTHON, [PYTHON, "-c", FLOOR_CODE], env)),
            "tasks": lambda: float(procs.peak_rss(PYTHON, [COACH, "tasks", "list"], env)),
        },
        bench.reps(7, 3),
        seed=9,
        warmup=False,
        label="peak memory",
    )
    figure = Figure.paired(
        "peak memory (max RSS) of `coach tasks list`", "KiB", rss["tasks"], rss["floor"], FLOOR_NAME, 1.20
    )
    return Outcome([figure])


CASES = [
    Case(
        "startup",
        startup,
        """\
- **Floor**: `python -c "import sqlmodel, typer, rich.console"` with the project's interpreter.
- **Context jobs**, interleaved with the figures they explain: the floor command again as a
  separate job (the noise of the run); `benchmarks/stack_floor.py`, the same listing done the
  usual SQLModel way (ORM models, three queries).
- **Cold `coach tasks list`**: a new process per run (warm OS page cache, as after any earlier
  command), store with 10,000 conversations: user `bench` with a coaching conversation and 200
  task threads (each with its dispatch), the rest belonging to ~98 other users. stdout is a pipe.
- **`coach --help`**: a new process per run, stdout a pipe.
- **Chat prompt**: `coach chat` spawned on a pseudo-terminal (pexpect); time from spawn until
  `you> ` is read from the terminal, then Ctrl-D.""",
    ),
    Case(
        "memory",
        memory,
        """\
- **Peak memory**: `ru_maxrss` of the command, from `os.wait4` in a minimal launcher
  (`python -S -I`) that forks it: forked straight from the benchmark process, a child would
  inherit the benchmark's own high-water mark (Linux keeps it across exec).""",
    ),
]
