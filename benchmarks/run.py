"""coachcli benchmarks: every figure a ratio against a baseline measured side by side in the same run.

    .venv/bin/python benchmarks/run.py                          # all cases -> benchmarks/RESULTS.md
    .venv/bin/python benchmarks/run.py --only startup --quick   # one case, fast, prints only
    BENCH_QUICK=1 .venv/bin/python benchmarks/run.py --only list

Cases live in the modules listed in MODULES (each exposes `CASES`); see benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import report  # noqa: E402
from core import Bench, Case, Outcome, progress  # noqa: E402

# One line per module; each module exposes `CASES: list[core.Case]`. Order = order in the table.
MODULES = (
    "bench_startup",
    "bench_chat",
    "bench_store",
    "bench_render",
    "bench_import",
    "bench_goals",
    "bench_usage",
    "bench_worker",
    "bench_search",
    "recall",
)


def all_cases() -> list[Case]:
    return [case for name in MODULES for case in importlib.import_module(name).CASES]


def main(argv: list[str] | None = None) -> int:
    cases = all_cases()
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--only", action="append", choices=[c.name for c in cases], help="run this case (repeatable)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        default=os.environ.get("BENCH_QUICK") == "1",
        help="fewer rounds and smaller stores (also BENCH_QUICK=1); writes no file unless --output",
    )
    parser.add_argument(
        "--output", type=Path, help="results file (default benchmarks/RESULTS.md on a full run)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary stores")
    parser.add_argument("--strict", action="store_true", help="exit 1 when a figure misses its target")
    args = parser.parse_args(argv)
    chosen = [c for c in cases if not args.only or c.name in args.only]
    output = args.output or (None if args.quick or args.only else HERE / "RESULTS.md")

    started = time.perf_counter()
    info = report.machine()
    print(
        f"coachcli benchmarks on {info['cpu']} ({info['cores']} cores), Python {info['python']}", flush=True
    )
    print(f"load average at start: {info['load']}", flush=True)
    merged = Outcome()
    failed: list[str] = []
    bench = Bench(quick=args.quick, keep=args.keep)
    try:
        for case in chosen:
            progress(f"case {case.name}")
            try:
                outcome = case.run(bench)
            except Exception as exc:  # one broken case must not cost the others' figures
                traceback.print_exc()
                failed.append(case.name)
                outcome = Outcome(
                    notes=[f"- **Case `{case.name}` did not run:** {type(exc).__name__}: {exc}"]
                )
            merged.figures += outcome.figures
            merged.context += outcome.context
            merged.sections += outcome.sections
            merged.notes += outcome.notes
    finally:
        bench.close()
    info["load_end"] = report.load()
    elapsed = time.perf_counter() - started

    report.show(merged)
    if output is not None:
        command = "benchmarks/run.py" + (" " + " ".join(argv if argv is not None else sys.argv[1:])).rstrip()
        report.write(output, info, chosen, merged, command, elapsed)
        print(f"\nwrote {output} ({elapsed:.0f} s)")
    if failed:
        print(f"cases that did not run: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 1 if args.strict and any(f.passed is False for f in merged.figures) else 0


if __name__ == "__main__":
    sys.exit(main())
