"""The speed budget of issue 6: every figure a ratio against its floor, measured side by side.

    .venv/bin/python benchmarks/run.py [--quick] [--reps N] [--output benchmarks/RESULTS.md]

Each figure and its baseline are measured in the same run, their repetitions interleaved in a
shuffled order (so a load spike from elsewhere hits both alike), and compared by their medians.
Stores are seeded once per run in a temporary folder; a scripted OpenAI-compatible server on
127.0.0.1 stands in for the model. Prints a table and writes benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import datetime as dt
import math
import os
import platform
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import procs  # noqa: E402
import render  # noqa: E402
import seed  # noqa: E402
import service  # noqa: E402

VENV_BIN = Path(sys.executable).parent
PYTHON = str(VENV_BIN / "python")
COACH = str(VENV_BIN / "coach")
FLOOR_CODE = "import sqlmodel, typer, rich.console"
PROMPT = "you> "


@dataclass
class Figure:
    name: str
    unit: str  # "s", "ms", "MiB"
    target: float
    measured: list[float]
    baseline: list[float]
    baseline_name: str
    note: str = ""
    extra_ok: bool = True  # a condition besides the ratio (e.g. the index is used)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def m(self) -> float:
        return statistics.median(self.measured)

    @property
    def b(self) -> float:
        return statistics.median(self.baseline)

    @property
    def ratio(self) -> float:
        """Median of the per-round ratios: each repetition is compared with the baseline run next to
        it, so a slow patch of the machine (other work on it) slows both sides of the same pair."""
        if len(self.measured) == len(self.baseline) and all(self.baseline):
            return statistics.median(m / b for m, b in zip(self.measured, self.baseline, strict=True))
        return self.m / self.b if self.b else math.inf

    @property
    def passed(self) -> bool:
        return self.ratio <= self.target and self.extra_ok


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "ms":
        return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.3f} s"
    if unit == "MiB":
        return f"{value / 1024:.1f} MiB"
    return f"{value:.4g}"


# -- environment ---------------------------------------------------------------------------------


def child_env(home: Path, url: str, pycache: Path) -> dict[str, str]:
    """The environment of every measured process. Bytecode is cached in a folder of this run
    (PYTHONPYCACHEPREFIX), whatever PYTHONDONTWRITEBYTECODE says: an installed CLI runs from
    cached bytecode, and without a cache coachcli's own modules would be compiled from source on
    every start while the libraries of the floor load from the .pyc files pip wrote."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("COACH_", "LITELLM_"))
        and k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PYTHONDONTWRITEBYTECODE")
    }
    env.update(
        PYTHONPYCACHEPREFIX=str(pycache),
        COACH_HOME=str(home),
        COACH_USER=seed.USER,
        COACH_MODEL="openai/bench",
        COACH_API_BASE=url,
        OPENAI_API_KEY="x",
        LITELLM_LOCAL_MODEL_COST_MAP="True",
        TERM="xterm-256color",
        COLUMNS="120",
        LINES="40",
    )
    return env


def start_server(tmp: Path) -> tuple[subprocess.Popen[str], str]:
    server = subprocess.Popen(
        [
            PYTHON,
            str(ROOT / "tests" / "scripted_server.py"),
            "--port",
            "0",
            "--reply",
            "Good work today. Rest well.",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert server.stdout is not None
    url = server.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1"):
        server.kill()
        raise RuntimeError(f"the scripted server did not start (said {url!r})")
    return server, url


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = {}
    try:
        from importlib.metadata import version

        for pkg in ("litellm", "sqlmodel", "sqlalchemy", "typer", "rich", "pydantic"):
            versions[pkg] = version(pkg)
    except Exception:
        pass
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": platform.python_version() + f" ({platform.python_implementation()})",
        "os": f"{platform.system()} {platform.release()}",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "packages": ", ".join(f"{k} {v}" for k, v in versions.items()),
        "load": _load(),
    }


def _load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


# -- the figures -----------------------------------------------------------------------------------


def startup_figures(env: dict[str, str], rounds: int, db: Path) -> list[Figure]:
    """Floor, `tasks list`, `--help` and the chat prompt, interleaved in a shuffled order per round.

    Also the stack minimum for `tasks list` (benchmarks/stack_floor.py), as evidence: no target."""
    jobs = {
        "floor": lambda: procs.run([PYTHON, "-c", FLOOR_CODE], env),
        # The same floor command as a separate job: its ratio to the floor is the noise of the run.
        "floor2": lambda: procs.run([PYTHON, "-c", FLOOR_CODE + " "], env),
        "stack": lambda: procs.run([PYTHON, str(HERE / "stack_floor.py"), str(db)], env),
        "tasks": lambda: procs.run([COACH, "tasks", "list"], env),
        "help": lambda: procs.run([COACH, "--help"], env),
        "prompt": lambda: procs.prompt_time([COACH, "chat"], env, PROMPT),
    }
    for job in jobs.values():  # warm-up: .pyc files and the page cache, not measured
        job()
    runs: dict[str, list[procs.Run]] = {name: [] for name in jobs}
    rng = random.Random(6)
    order = list(jobs)
    for i in range(rounds):
        rng.shuffle(order)
        for name in order:
            runs[name].append(jobs[name]())
        _progress(f"startup round {i + 1}/{rounds}")
    wall = {k: [r.wall for r in v] for k, v in runs.items()}
    cpu = {k: [r.cpu for r in v] for k, v in runs.items()}
    floor = f'`python -c "{FLOOR_CODE}"`'
    return [
        Figure(
            "cold `coach tasks list` (10,000 conversations, 200 task threads)",
            "s",
            1.10,
            wall["tasks"],
            wall["floor"],
            floor,
            details={
                "cpu": (statistics.median(cpu["tasks"]), statistics.median(cpu["floor"])),
                "stack": (statistics.median(wall["stack"]), statistics.median(cpu["stack"])),
                "noise": statistics.median(a / b for a, b in zip(wall["floor2"], wall["floor"], strict=True)),
                "fastest": min(cpu["tasks"]) / min(cpu["floor"]),
            },
        ),
        Figure(
            "`coach --help`",
            "s",
            1.10,
            wall["help"],
            wall["floor"],
            floor,
            details={"cpu": (statistics.median(cpu["help"]), statistics.median(cpu["floor"]))},
        ),
        Figure(
            "`coach chat` on a pty: until the prompt is shown",
            "s",
            1.30,
            wall["prompt"],
            wall["floor"],
            floor,
        ),
    ]


def memory_figure(env: dict[str, str], rounds: int) -> Figure:
    """Peak RSS of `coach tasks list` against the floor, each launched from a minimal interpreter."""
    jobs = {
        "floor": [PYTHON, "-c", FLOOR_CODE],
        "tasks": [COACH, "tasks", "list"],
    }
    rss: dict[str, list[float]] = {name: [] for name in jobs}
    rng = random.Random(9)
    order = list(jobs)
    for _ in range(rounds):
        rng.shuffle(order)
        for name in order:
            rss[name].append(float(procs.peak_rss(PYTHON, jobs[name], env)))
    return Figure(
        "peak memory (max RSS) of `coach tasks list`",
        "MiB",
        1.20,
        rss["tasks"],
        rss["floor"],
        f'`python -c "{FLOOR_CODE}"`',
    )


def oneshot_figure(env: dict[str, str], rounds: int) -> Figure:
    jobs = {
        "coach": lambda: procs.run([COACH, "chat", "hi"], env),
        "bare": lambda: procs.run([PYTHON, str(HERE / "bare_litellm.py"), "hi"], env),
        "stack": lambda: procs.run([PYTHON, str(HERE / "bare_litellm.py"), "--with-cli-stack", "hi"], env),
    }
    for job in jobs.values():
        job()
    runs: dict[str, list[procs.Run]] = {name: [] for name in jobs}
    rng = random.Random(7)
    order = list(jobs)
    for i in range(rounds):
        rng.shuffle(order)
        for name in order:
            runs[name].append(jobs[name]())
        _progress(f"one-shot chat round {i + 1}/{rounds}")
    return Figure(
        'one-shot `coach chat "hi"` (scripted local server)',
        "s",
        1.10,
        [r.wall for r in runs["coach"]],
        [r.wall for r in runs["bare"]],
        "bare script, same litellm call (benchmarks/bare_litellm.py)",
        details={
            "cpu": (
                statistics.median(r.cpu for r in runs["coach"]),
                statistics.median(r.cpu for r in runs["bare"]),
            ),
            "stack": statistics.median(r.wall for r in runs["stack"]),
        },
    )


def append_figure(tmp: Path, reps: int) -> Figure:
    db, ids = seed.build_message_store(tmp / "messages", {"long": 9_999, "short": 9})
    times = service.append_times(db, ids, reps)
    return Figure(
        "append message 10,000 of a conversation (append_message + commit)",
        "ms",
        1.5,
        times["long"],
        times["short"],
        "appending message 10",
    )


def list_figure(tmp: Path, reps: int) -> Figure:
    dbs = {
        "1k": seed.build_store(tmp / "list-1k", 1_000),
        "100k": seed.build_store(tmp / "list-100k", 100_000),
    }
    times, info = service.list_times(dbs, seed.USER, reps)
    plan = info["100k"]["plan"]
    uses_index = any("ix_conversations_parent_created" in line for line in plan)
    return Figure(
        "list_task_threads at 100,000 conversations (200 threads listed)",
        "ms",
        2.0,
        times["100k"],
        times["1k"],
        "at 1,000 conversations",
        extra_ok=uses_index,
        note="" if uses_index else "the plan does not use ix_conversations_parent_created",
        details={
            "plan": plan,
            "sql": info["100k"]["sql"],
            "rows": (info["100k"]["rows"], info["1k"]["rows"]),
            "one": (statistics.median(times["100k/one"]), statistics.median(times["1k/one"])),
            "one_plan": info["100k"]["one"],
        },
    )


def render_figures(reps: int) -> tuple[Figure, dict[str, float]]:
    chunks = render.reply_chunks()
    render.markdown_cpu(chunks)  # warm-up: imports, parser and lexer caches
    render.plain_cpu(chunks)
    render.single_render_cpu(chunks)
    plain: list[float] = []
    stream: list[float] = []
    single: list[float] = []
    blocks: list[float] = []
    rng = random.Random(8)
    jobs = [
        (plain, lambda: render.plain_cpu(chunks)),
        (stream, lambda: render.markdown_cpu(chunks)),
        (single, lambda: render.single_render_cpu(chunks)),
        (blocks, lambda: render.markdown_cpu(chunks, rate=math.inf)),  # the clock never moves: no live tail
    ]
    for _ in range(reps):
        rng.shuffle(jobs)
        for sink, job in jobs:
            sink.append(job())
    figure = Figure(
        f"CPU: streamed Markdown reply, {render.CHUNKS:,} chunks, on a terminal (MarkdownStream)",
        "ms",
        2.0,
        stream,
        plain,
        "writing the chunks plainly (write + flush each)",
        details={"chars": len("".join(chunks))},
    )
    return figure, {"single": statistics.median(single), "blocks": statistics.median(blocks)}


# -- diagnostics -----------------------------------------------------------------------------------


def import_overhead(env: dict[str, str], argv: list[str], top: int = 12) -> list[tuple[str, float]]:
    """Modules imported by `argv` but not by the floor, by self time (one -X importtime run each)."""

    def modules(cmd: list[str]) -> dict[str, int]:
        out = subprocess.run(
            [PYTHON, "-X", "importtime", *cmd],
            env=env,
            capture_output=True,
            text=True,
            stdin=subprocess.DEVNULL,
        )
        found: dict[str, int] = {}
        for line in out.stderr.splitlines():
            if not line.startswith("import time:") or "self [us]" in line:
                continue
            parts = line[len("import time:") :].split("|")
            found[parts[2].strip()] = int(parts[0])
        return found

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
    mine = modules(argv)
    extra = {k: v for k, v in mine.items() if k not in floor}
    total = sum(extra.values()) / 1e6
    rows = sorted(extra.items(), key=lambda kv: -kv[1])[:top]
    return [("(all modules beyond the floor)", total)] + [(k, v / 1e6) for k, v in rows]


# -- output ----------------------------------------------------------------------------------------


def table(figures: list[Figure]) -> list[list[str]]:
    rows = [["figure", "measured", "baseline", "ratio", "target", "result"]]
    for f in figures:
        rows.append(
            [
                f.name,
                fmt(f.m, f.unit),
                fmt(f.b, f.unit),
                f"{f.ratio:.2f}×",
                f"≤ {f.target:.2f}×",
                ("PASS" if f.passed else "FAIL") + (f" ({f.note})" if f.note else ""),
            ]
        )
    return rows


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def markdown_table(rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(" --- " for _ in rows[0]) + "|"]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows[1:]]
    return "\n".join(lines)


def write_results(
    path: Path,
    info: dict[str, str],
    figures: list[Figure],
    context: list[list[str]],
    plan: list[str],
    one_plan: list[str],
    imports: dict[str, list[tuple[str, float]]],
    args: argparse.Namespace,
    elapsed: float,
    notes: list[str],
) -> None:
    rows = table(figures)
    passed = sum(f.passed for f in figures)
    out = [
        "# Benchmarks: the speed budget (issue 6)",
        "",
        f"Written by `benchmarks/run.py{' --quick' if args.quick else ''}` on {info['date']} "
        f"in {elapsed:.0f} s. {passed} of {len(figures)} figures meet their target.",
        "",
        "## Machine",
        "",
        f"- CPU: {info['cpu']}, {info['cores']} cores",
        f"- Python: {info['python']}, {info['os']}",
        f"- Packages: {info['packages']}",
        f"- Load average (1, 5, 15 min) at the start: {info['load']}; at the end: {info['load_end']}",
        "",
        "## Figures",
        "",
        "Medians of interleaved repetitions; ratio = median of the per-repetition ratios (each run "
        "against the baseline run of the same round) "
        f"({args.rounds} startup rounds, {args.chat_rounds} one-shot chat rounds, {args.service_reps} "
        f"service calls, {args.render_reps} render runs).",
        "",
        markdown_table(rows),
        "",
        "## Figures over target, and why (from this run's numbers)",
        "",
        *(notes or ["None."]),
        "",
        "## Context (same run; no target)",
        "",
        markdown_table(context),
        "",
        "## Query plans at 100,000 conversations",
        "",
        "`list_task_threads` (the figure):",
        "",
        "```",
        *plan,
        "```",
        "",
        "`list_task_threads_of` (what `coach tasks list` runs; all of a user's task threads hang "
        "under their one coaching conversation, so (user_id, type) finds the same rows):",
        "",
        "```",
        *one_plan,
        "```",
        "",
        "## Import time beyond the floor (one `-X importtime` run each, self time)",
        "",
    ]
    for label, items in imports.items():
        out += [f"`{label}`:", "", "| module | self time |", "| --- | --- |"]
        out += [f"| {name} | {secs * 1000:.1f} ms |" for name, secs in items]
        out.append("")
    out += ["## How each figure is measured", "", METHOD, ""]
    path.write_text("\n".join(out), encoding="utf-8")


METHOD = """\
- **Floor**: `python -c "import sqlmodel, typer, rich.console"` with the project's interpreter.
- **Context jobs**, interleaved with the figures they explain: the floor command again as a
  separate job (the noise of the run); `benchmarks/stack_floor.py`, the same listing done the
  usual SQLModel way (ORM models, three queries); `benchmarks/bare_litellm.py --with-cli-stack`,
  the bare litellm call after importing the floor's modules.
- **Cold `coach tasks list`**: a new process per run (warm OS page cache, as after any earlier
  command), store with 10,000 conversations: user `bench` with a coaching conversation and 200
  task threads (each with its dispatch), the rest belonging to ~98 other users. stdout is a pipe.
- **`coach --help`**: a new process per run, stdout a pipe.
- **Chat prompt**: `coach chat` spawned on a pseudo-terminal (pexpect); time from spawn until
  `you> ` is read from the terminal, then Ctrl-D.
- **One-shot chat**: `coach chat "hi"` (stdout a pipe) against `tests/scripted_server.py` on
  127.0.0.1, vs `benchmarks/bare_litellm.py` making the same streamed `litellm.completion` call;
  both with `LITELLM_LOCAL_MODEL_COST_MAP=True` and the same environment.
- **Peak memory**: `ru_maxrss` of the command, from `os.wait4` in a minimal launcher
  (`python -S -I`) that forks it: forked straight from the benchmark process, a child would
  inherit the benchmark's own high-water mark (Linux keeps it across exec).
- **Append**: `append_message` + `commit` in a fresh session, on a conversation holding 9,999
  messages vs one holding 9; the new row is deleted after each timed append (untimed).
- **List**: `list_task_threads` for the bench user's coaching conversation (200 threads), in a
  fresh read session, in a store of 100,000 conversations vs one of 1,000 (other users' rows
  interleaved in time). The plan above is SQLite's `EXPLAIN QUERY PLAN` of the exact statement.
  No `ANALYZE` is run: users' stores have no statistics either.
- **Markdown CPU**: `time.process_time()` of `MarkdownStream(console)` fed 4,000 token-sized chunks
  of a long Markdown reply (headings, emphasis, lists, a table, fenced code) then `close()`, on a
  `Console(force_terminal=True, width=100, height=40)` writing to a text stream on `/dev/null`.
  Chunks arrive on a simulated clock at 80 chunks/s, so time-based throttling behaves as in a live
  session without sleeping. Baseline: the same chunks written and flushed one by one to the same
  kind of stream (what `coach chat` does off a terminal, and what most LLM CLIs do on one).
"""


def explain(tasks: Figure, oneshot: Figure, md: Figure, extra: dict[str, float]) -> list[str]:
    """One paragraph per missed target: what the stack alone costs, measured in this run."""
    notes: list[str] = []
    if not tasks.passed:
        notes.append(
            f"- **`coach tasks list` {tasks.ratio:.2f}× (target {tasks.target:.2f}×).** In the same rounds "
            f"the floor timed against itself gave {tasks.details['noise']:.2f}× and the fastest runs "
            f"{tasks.details['fastest']:.2f}×: read the ratio with that noise in mind. What remains "
            f"above the floor is what any Typer + SQLAlchemy command pays: Typer's runtime option "
            f"parsing (it builds Pydantic adapters), SQLite's dialect, opening the file, one query, "
            f"and coachcli's settings and schema-revision check (see the import table below)."
        )
    if not oneshot.passed:
        stack = oneshot.details["stack"] / oneshot.b
        rest = (
            "coach itself comes out below that: litellm's import runs with the cyclic collector "
            "paused, which wins back part of what the stack costs"
            if oneshot.ratio <= stack
            else "the rest is the turn itself: user, conversation and two messages saved (each "
            "committed), the system prompt built from facts, notes, threads and agents, tools sent, "
            "the streamed reply assembled and priced"
        )
        notes.append(
            f"- **One-shot chat {oneshot.ratio:.2f}× (target {oneshot.target:.2f}×).** The bare script "
            f"that only imports sqlmodel, typer and rich.console before the same call measured "
            f"{stack:.2f}× the bare script in the same rounds: a CLI on this stack pays that before "
            f"its first query; {rest}."
        )
    if not md.passed:
        single = extra["single"]
        notes.append(
            f"- **Markdown CPU {md.ratio:.0f}× (target {md.target:.0f}×).** Out of reach for any Rich "
            f"Markdown display: rendering the finished reply once, with no streaming at all, costs "
            f"{single / md.b:.0f}× writing the chunks plainly ({fmt(single, 'ms')} vs {fmt(md.b, 'ms')}; "
            f"parsing with markdown-it and laying out with Rich, syntax highlighting included). "
            f"MarkdownStream prints each finished block once ({extra['blocks'] / single:.2f}× the single "
            f"render with no live tail) and re-renders only the unfinished tail, at most 8 times a second "
            f"and never more than 5% of the stream's time; at 80 chunks/s that tail is what remains "
            f"({md.m / single:.1f}× the single render in all)."
        )
    return notes


def _progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (about a third of the time)")
    parser.add_argument("--rounds", type=int, help="startup rounds (default 21, quick 7)")
    parser.add_argument("--chat-rounds", type=int, help="one-shot chat rounds (default 6, quick 3)")
    parser.add_argument(
        "--service-reps", type=int, help="appends / listings per side (default 300, quick 80)"
    )
    parser.add_argument("--render-reps", type=int, help="render runs per side (default 5, quick 3)")
    parser.add_argument("--output", type=Path, default=HERE / "RESULTS.md")
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure misses its target")
    args = parser.parse_args(argv)
    args.rounds = args.rounds or (7 if args.quick else 21)
    args.chat_rounds = args.chat_rounds or (3 if args.quick else 6)
    args.service_reps = args.service_reps or (80 if args.quick else 300)
    args.render_reps = args.render_reps or (3 if args.quick else 5)

    started = time.perf_counter()
    info = machine()
    print(
        f"coachcli benchmarks on {info['cpu']} ({info['cores']} cores), Python {info['python']}", flush=True
    )
    print(f"load average at start: {info['load']}", flush=True)
    tmp = Path(tempfile.mkdtemp(prefix="coach-bench-"))
    server = None
    try:
        _progress("seeding a store of 10,000 conversations")
        home = tmp / "home"
        seed.build_store(home, 10_000)
        server, url = start_server(tmp)
        env = child_env(home, url, tmp / "pycache")
        figures = startup_figures(env, args.rounds, home / "coach.db")
        _progress("peak memory")
        figures.append(memory_figure(env, max(3, args.rounds // 3)))
        figures.append(oneshot_figure(env, args.chat_rounds))
        _progress("appending messages")
        figures.append(append_figure(tmp, args.service_reps))
        _progress("seeding stores of 1,000 and 100,000 conversations; listing task threads")
        figures.append(list_figure(tmp, args.service_reps))
        _progress("rendering Markdown")
        md, extra = render_figures(args.render_reps)
        figures.append(md)
        _progress("import-time diagnostics")
        imports = {
            "coach tasks list": import_overhead(env, [COACH, "tasks", "list"]),
            "coach --help": import_overhead(env, [COACH, "--help"]),
        }
    finally:
        if server is not None:
            server.terminate()
            server.wait(timeout=10)
        if not args.keep:
            shutil.rmtree(tmp, ignore_errors=True)
    info["load_end"] = _load()
    elapsed = time.perf_counter() - started

    tasks, helpf, prompt, memory, oneshot, append, listf, mdf = figures
    figures = [tasks, helpf, prompt, oneshot, append, listf, mdf, memory]  # the order
    context = [
        ["measurement", "value", "vs its baseline"],
        [
            "CPU (user+sys) of `coach tasks list` / floor",
            f"{tasks.details['cpu'][0]:.3f} s / {tasks.details['cpu'][1]:.3f} s",
            f"{tasks.details['cpu'][0] / tasks.details['cpu'][1]:.2f}×",
        ],
        [
            "Noise control: the floor command timed again as a separate job in the same rounds / floor",
            "",
            f"{tasks.details['noise']:.2f}×",
        ],
        [
            "`coach tasks list` / floor, fastest run of each (CPU)",
            "",
            f"{tasks.details['fastest']:.2f}×",
        ],
        [
            "The same listing the usual SQLModel way (benchmarks/stack_floor.py: SQLModel models, Typer, "
            "3 ORM queries) / floor",
            f"{tasks.details['stack'][0]:.3f} s (CPU {tasks.details['stack'][1]:.3f} s)",
            f"{tasks.details['stack'][0] / tasks.b:.2f}× (coach: {tasks.ratio:.2f}×)",
        ],
        [
            "CPU (user+sys) of `coach --help` / floor",
            f"{helpf.details['cpu'][0]:.3f} s / {helpf.details['cpu'][1]:.3f} s",
            f"{helpf.details['cpu'][0] / helpf.details['cpu'][1]:.2f}×",
        ],
        [
            'CPU (user+sys) of `coach chat "hi"` / bare litellm script',
            f"{oneshot.details['cpu'][0]:.3f} s / {oneshot.details['cpu'][1]:.3f} s",
            f"{oneshot.details['cpu'][0] / oneshot.details['cpu'][1]:.2f}×",
        ],
        [
            "Bare litellm script that first imports the CLI stack (sqlmodel, typer, rich) / bare script",
            f"{oneshot.details['stack']:.3f} s",
            f"{oneshot.details['stack'] / oneshot.b:.2f}× (coach: {oneshot.ratio:.2f}×)",
        ],
        [
            "MarkdownStream with no live tail (finished blocks only), CPU",
            fmt(extra["blocks"], "ms"),
            f"{extra['blocks'] / mdf.b:.1f}× plain",
        ],
        [
            "Lower bound for any Rich Markdown display: the finished reply rendered once, no streaming",
            fmt(extra["single"], "ms"),
            f"{extra['single'] / mdf.b:.1f}× plain; MarkdownStream is {mdf.m / extra['single']:.2f}× this",
        ],
        [
            "list_task_threads_of (the single query `coach tasks list` runs) at 100,000 / at 1,000 "
            "conversations",
            f"{fmt(listf.details['one'][0], 'ms')} / {fmt(listf.details['one'][1], 'ms')}",
            f"{listf.details['one'][0] / listf.details['one'][1]:.2f}×",
        ],
        [
            "Task threads listed (100k store / 1k store)",
            f"{listf.details['rows'][0]} / {listf.details['rows'][1]}",
            "",
        ],
    ]
    rows = table(figures)
    print()
    print_table(rows)
    print()
    print_table(context)
    print()
    print("EXPLAIN QUERY PLAN (list_task_threads, 100,000 conversations):")
    for line in listf.details["plan"]:
        print(f"  {line}")
    notes = explain(tasks, oneshot, mdf, extra)
    if notes:
        print()
        print("\n".join(notes))
    write_results(
        args.output,
        info,
        figures,
        context,
        listf.details["plan"],
        listf.details["one_plan"],
        imports,
        args,
        elapsed,
        notes,
    )
    print(f"\nwrote {args.output} ({elapsed:.0f} s)")
    return 1 if args.strict and not all(f.passed for f in figures) else 0


if __name__ == "__main__":
    sys.exit(main())
