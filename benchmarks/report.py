"""Print the results table and write benchmarks/RESULTS.md."""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import platform
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from core import Case, Outcome

HEADER = ["figure", "measured", "baseline", "ratio", "target", "result"]
CONTEXT_HEADER = ["measurement", "value", "vs its baseline"]


def machine() -> dict[str, str]:
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    versions = []
    for pkg in ("litellm", "sqlmodel", "sqlalchemy", "typer", "rich", "pydantic"):
        with contextlib.suppress(PackageNotFoundError):
            versions.append(f"{pkg} {version(pkg)}")
    return {
        "cpu": cpu,
        "cores": str(os.cpu_count()),
        "python": f"{platform.python_version()} ({platform.python_implementation()})",
        "os": f"{platform.system()} {platform.release()}",
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "packages": ", ".join(versions),
        "load": load(),
    }


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def print_table(rows: list[list[str]]) -> None:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for n, row in enumerate(rows):
        print("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row)))
        if n == 0:
            print("  ".join("-" * w for w in widths))


def markdown_table(rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(rows[0]) + " |", "|" + "|".join(" --- " for _ in rows[0]) + "|"]
    return lines + ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows[1:]]


def show(merged: Outcome) -> None:
    print()
    print_table([HEADER, *(f.row() for f in merged.figures)])
    if merged.context:
        print()
        print_table([CONTEXT_HEADER, *merged.context])
    if merged.notes:
        print()
        print("\n".join(merged.notes))


def write(
    path: Path, info: dict[str, str], cases: list[Case], merged: Outcome, command: str, elapsed: float
) -> None:
    figures = merged.figures
    passed = sum(f.passed is True for f in figures)
    targeted = sum(f.target is not None for f in figures)
    out = [
        "# Benchmarks: the speed budget",
        "",
        f"Written by `{command}` on {info['date']} in {elapsed:.0f} s. "
        f"{passed} of {targeted} figures with a target meet it.",
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
        "against the baseline run of the same round).",
        "",
        *markdown_table([HEADER, *(f.row() for f in figures)]),
        "",
        "## Figures over target, and why (from this run's numbers)",
        "",
        *(merged.notes or ["None."]),
        "",
    ]
    if merged.context:
        out += [
            "## Context (same run; no target)",
            "",
            *markdown_table([CONTEXT_HEADER, *merged.context]),
            "",
        ]
    for section in merged.sections:
        out += [f"## {section.title}", "", *section.lines, ""]
    out += ["## How each figure is measured", "", *(case.method for case in cases), ""]
    path.write_text("\n".join(out), encoding="utf-8")
