"""The benchmark framework: figure records, the interleaved-rounds loop, and what cases share.

A *case* (see README.md in this folder) is a function taking the run's `Bench` and returning an
`Outcome`: figures with targets, context rows without, and sections of Markdown for RESULTS.md.
Every figure is measured side by side with its baseline in the same run, by `interleave`.
"""

from __future__ import annotations

import math
import os
import random
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
VENV_BIN = Path(sys.executable).parent
PYTHON = str(VENV_BIN / "python")
COACH = str(VENV_BIN / "coach")
# What any Typer + SQLModel + Rich CLI imports before it does anything: the floor of start-up figures.
FLOOR_CODE = "import sqlmodel, typer, rich.console"
FLOOR_NAME = f'`python -c "{FLOOR_CODE}"`'
REPLY = "Good work today. Rest well."  # what the scripted model server answers

T = TypeVar("T")


# -- records ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Figure:
    """One line of the results table.

    `value` is in `unit`: "s" for durations (shown as ms below a second), "KiB" for memory (shown
    in MiB), anything else is printed as is. With a `baseline` the `target` bounds `ratio`
    (measured / baseline); without one it bounds `value` itself. `higher_is_better` flips the
    comparison (recall, throughput). No target: reported, never failed.
    """

    name: str
    value: float
    unit: str
    target: float | None = None
    baseline: float | None = None
    baseline_name: str = ""
    ratio: float | None = None
    higher_is_better: bool = False
    condition_ok: bool = True  # a condition besides the number (e.g. the plan uses the index)
    note: str = ""

    @classmethod
    def paired(
        cls,
        name: str,
        unit: str,
        measured: Sequence[float],
        baseline: Sequence[float],
        baseline_name: str,
        target: float | None,
        *,
        condition_ok: bool = True,
        note: str = "",
    ) -> Figure:
        """A ratio figure from interleaved repetitions: medians, and the median of the per-round
        ratios (each repetition against the baseline run next to it, so a slow patch of the machine
        slows both sides of the same pair)."""
        ratio = paired_ratio(measured, baseline)
        return cls(
            name=name,
            value=statistics.median(measured),
            unit=unit,
            target=target,
            baseline=statistics.median(baseline),
            baseline_name=baseline_name,
            ratio=ratio,
            condition_ok=condition_ok,
            note=note,
        )

    @property
    def compared(self) -> float:
        """The number the target applies to."""
        return self.ratio if self.ratio is not None else self.value

    @property
    def passed(self) -> bool | None:
        """None when there is no target."""
        if self.target is None:
            return None if self.condition_ok else False
        within = self.compared >= self.target if self.higher_is_better else self.compared <= self.target
        return within and self.condition_ok

    def target_text(self) -> str:
        if self.target is None:
            return ""
        sign = "≥" if self.higher_is_better else "≤"
        return (
            f"{sign} {self.target:.2f}×"
            if self.ratio is not None
            else f"{sign} {fmt(self.target, self.unit)}"
        )

    def row(self) -> list[str]:
        result = {True: "PASS", False: "FAIL", None: "(no target)"}[self.passed]
        return [
            self.name,
            fmt(self.value, self.unit),
            fmt(self.baseline, self.unit) if self.baseline is not None else "",
            f"{self.ratio:.2f}×" if self.ratio is not None else "",
            self.target_text(),
            result + (f" ({self.note})" if self.note else ""),
        ]


@dataclass(frozen=True)
class Section:
    """A titled block of Markdown lines for RESULTS.md (query plans, import tables, ...)."""

    title: str
    lines: list[str]


@dataclass
class Outcome:
    """What a case returns. `context` rows are [measurement, value, vs its baseline]; `notes` are
    Markdown bullets explaining a missed target from this run's numbers."""

    figures: list[Figure] = field(default_factory=list)
    context: list[list[str]] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class Case:
    """A named benchmark. `method` is the Markdown that RESULTS.md prints under "How each figure
    is measured" (one or more bullets)."""

    name: str
    run: Callable[[Bench], Outcome]
    method: str


# -- measuring -------------------------------------------------------------------------------------


def interleave(
    jobs: Mapping[str, Callable[[], T]],
    rounds: int,
    *,
    seed: int,
    warmup: bool = True,
    label: str = "",
) -> dict[str, list[T]]:
    """Run every job once per round, in a freshly shuffled order each round, and collect the results
    by job name. A load spike from elsewhere then hits every side alike. With `warmup`, each job
    runs once first, unrecorded (imports, .pyc files, page cache, statement caches)."""
    if warmup:
        for job in jobs.values():
            job()
    results: dict[str, list[T]] = {name: [] for name in jobs}
    rng = random.Random(seed)
    order = list(jobs)
    for i in range(rounds):
        rng.shuffle(order)
        for name in order:
            results[name].append(jobs[name]())
        if label:
            progress(f"{label} round {i + 1}/{rounds}")
    return results


def paired_ratio(measured: Sequence[float], baseline: Sequence[float]) -> float:
    if len(measured) == len(baseline) and all(baseline):
        return statistics.median(m / b for m, b in zip(measured, baseline, strict=True))
    b = statistics.median(baseline)
    return statistics.median(measured) / b if b else math.inf


def fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value * 1000:.2f} ms" if value < 1 else f"{value:.3f} s"
    if unit == "KiB":
        return f"{value / 1024:.1f} MiB"
    return f"{value:.4g}{' ' + unit if unit else ''}"


def progress(message: str) -> None:
    print(f"  … {message}", file=sys.stderr, flush=True)


# -- what cases share ------------------------------------------------------------------------------


class Bench:
    """The run's shared state, built lazily so a case run alone pays only for what it uses: a
    temporary folder, the standard store (user `bench`, 10,000 conversations, 200 task threads;
    fewer in quick mode), the scripted model server, and the environment of measured commands."""

    def __init__(self, *, quick: bool, keep: bool = False) -> None:
        self.quick = quick
        self.keep = keep
        self.tmp = Path(tempfile.mkdtemp(prefix="coach-bench-"))
        self._home: Path | None = None
        self._server: subprocess.Popen[str] | None = None
        self._url: str | None = None

    def reps(self, full: int, quick: int) -> int:
        """Repetitions (or sizes) for this mode."""
        return quick if self.quick else full

    @property
    def store_size(self) -> int:
        return self.reps(10_000, 2_000)

    def home(self) -> Path:
        """COACH_HOME of the standard store (coach.db inside), seeded on first use."""
        if self._home is None:
            import seed

            progress(f"seeding a store of {self.store_size:,} conversations")
            self._home = self.tmp / "home"
            seed.build_store(self._home, self.store_size)
        return self._home

    def server_url(self) -> str:
        """Base URL of a scripted OpenAI-compatible server on 127.0.0.1 (tests/scripted_server.py)."""
        if self._url is None:
            server = subprocess.Popen(
                [PYTHON, str(ROOT / "tests" / "scripted_server.py"), "--port", "0", "--reply", REPLY],
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            assert server.stdout is not None
            url = server.stdout.readline().strip()
            if not url.startswith("http://127.0.0.1"):
                server.kill()
                raise RuntimeError(f"the scripted server did not start (said {url!r})")
            self._server, self._url = server, url
        return self._url

    def env(self, home: Path | None = None) -> dict[str, str]:
        """The environment of every measured process, on `home` (default: the standard store).

        Bytecode is cached in a folder of this run (PYTHONPYCACHEPREFIX), whatever
        PYTHONDONTWRITEBYTECODE says: an installed CLI runs from cached bytecode, and without a
        cache coachcli's own modules would be compiled on every start while the floor's libraries
        load from the .pyc files pip wrote."""
        import seed

        env = {
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("COACH_", "LITELLM_"))
            and k not in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "PYTHONDONTWRITEBYTECODE")
        }
        env.update(
            PYTHONPYCACHEPREFIX=str(self.tmp / "pycache"),
            COACH_HOME=str(home or self.home()),
            COACH_USER=seed.USER,
            COACH_MODEL="openai/bench",
            COACH_API_BASE=self.server_url(),
            OPENAI_API_KEY="x",
            LITELLM_LOCAL_MODEL_COST_MAP="True",
            TERM="xterm-256color",
            COLUMNS="120",
            LINES="40",
        )
        return env

    def close(self) -> None:
        if self._server is not None:
            self._server.terminate()
            self._server.wait(timeout=10)
        if not self.keep:
            import shutil

            shutil.rmtree(self.tmp, ignore_errors=True)


def command_versus(
    bench: Bench,
    name: str,
    argv: list[str],
    target: float,
    *,
    baseline: list[str] | None = None,
    baseline_name: str = "cold `coach tasks list`",
    env: dict[str, str] | None = None,
    seed: int = 11,
) -> Figure:
    """Cold wall time of `argv` against a baseline command (default `coach tasks list`), a new
    process each, interleaved in the same rounds. The usual shape of "≤ 1.15× cold tasks list"."""
    import procs

    env = env or bench.env()
    base = baseline or [COACH, "tasks", "list"]
    runs = interleave(
        {"cmd": lambda: procs.run(argv, env), "base": lambda: procs.run(base, env)},
        bench.reps(21, 5),
        seed=seed,
        label=name,
    )
    return Figure.paired(
        name,
        "s",
        [r.wall for r in runs["cmd"]],
        [r.wall for r in runs["base"]],
        baseline_name,
        target,
    )
