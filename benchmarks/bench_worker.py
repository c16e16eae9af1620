"""The model worker (issue 13): model commands against cold `coach tasks list` and simonw/llm, the
first call (which starts the worker) against today's in-process one-shot, and memory.

simonw/llm runs from a venv of its own (`pip install llm`, made once under ~/.cache/coachcli-bench),
pointed at the same scripted server by an `extra-openai-models.yaml` in a temporary LLM_USER_PATH.
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

import procs
from core import COACH, PYTHON, Bench, Case, Figure, Outcome, interleave, progress

LLM_VENV = Path.home() / ".cache" / "coachcli-bench" / "llm-venv"
DISPATCH = [COACH, "dispatch", "Plan a gentle week of running", "--agent", "planner"]
# What a one-shot chat loads besides what `coach tasks list` loads: the coaching turn's modules.
TURN_IMPORTS = "import coachcli.cli.app, coachcli.cli.chat, coachcli.cli.turn, coachcli.coaching.chat"


def llm_command(bench: Bench, env: dict[str, str]) -> tuple[list[str], dict[str, str]]:
    """`llm -m bench hi` against the scripted server, and its environment (installed on first use)."""
    llm = LLM_VENV / "bin" / "llm"
    if not llm.exists():
        progress(f"installing simonw/llm into {LLM_VENV}")
        subprocess.run([sys.executable, "-m", "venv", str(LLM_VENV)], check=True)
        subprocess.run([str(LLM_VENV / "bin" / "pip"), "install", "-q", "llm"], check=True)
    user_path = bench.tmp / "llm-user"
    user_path.mkdir(exist_ok=True)
    (user_path / "extra-openai-models.yaml").write_text(
        f'- model_id: bench\n  model_name: bench\n  api_base: "{bench.server_url()}"\n',
        encoding="utf-8",
    )
    return [str(llm), "-m", "bench", "hi"], {**env, "LLM_USER_PATH": str(user_path)}


def worker_pid(env: dict[str, str]) -> int | None:
    status = subprocess.run(
        [COACH, "worker", "status", "--json"], env=env, capture_output=True, text=True, check=True
    )
    return json.loads(status.stdout)["pid"]


def stop_worker(env: dict[str, str]) -> None:
    """`coach worker stop`, then wait until the process is gone (so the next start is cold)."""
    pid = worker_pid(env)
    subprocess.run([COACH, "worker", "stop"], env=env, capture_output=True, check=True)
    deadline = time.monotonic() + 60
    while pid and Path(f"/proc/{pid}").exists() and time.monotonic() < deadline:
        stat = Path(f"/proc/{pid}/stat").read_text(errors="replace")
        if stat.rsplit(")", 1)[-1].split()[0] == "Z":
            break
        time.sleep(0.05)


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


def worker(bench: Bench) -> Outcome:
    home = bench.tmp / "worker-home"
    env = {**bench.env(home), "COACH_WORKER": "auto"}
    off = {**env, "COACH_WORKER": "off"}
    chat = [COACH, "chat", "hi"]
    llm, llm_env = llm_command(bench, env)
    outcome = Outcome()
    try:
        procs.run(chat, env)  # creates the store and starts the worker
        jobs = {
            "chat": lambda: procs.run(chat, env),
            "dispatch": lambda: procs.run(DISPATCH, env),
            "checkin": lambda: procs.run([COACH, "checkin"], env),
            "tasks": lambda: procs.run([COACH, "tasks", "list"], env),
            "llm": lambda: procs.run(llm, llm_env),
            "imports": lambda: procs.run([PYTHON, "-c", TURN_IMPORTS], env),
        }
        try:
            jobs["checkin"]()
        except RuntimeError as exc:  # a command still being built must not cost the other figures
            del jobs["checkin"]
            outcome.notes.append(f"- **`coach checkin` not measured:** {str(exc).splitlines()[0][:200]}")
        runs = interleave(jobs, bench.reps(15, 3), seed=13, label="warm worker")
        wall = {name: [r.wall for r in results] for name, results in runs.items()}
        tasks = (wall["tasks"], "cold `coach tasks list`")
        llm_base = (wall["llm"], 'simonw/llm `llm -m <same server> "hi"`')
        chat_name = 'one-shot `coach chat "hi"`, warm worker'
        outcome.figures += [
            Figure.paired(chat_name, "s", wall["chat"], *tasks, 1.3),
            Figure.paired(chat_name, "s", wall["chat"], *llm_base, 1.5),
            Figure.paired(
                "`coach dispatch --agent planner`, warm worker", "s", wall["dispatch"], *tasks, 1.3
            ),
        ]
        if "checkin" in wall:
            outcome.figures.append(
                Figure.paired("`coach checkin`, warm worker", "s", wall["checkin"], *tasks, 1.3)
            )
        cpu = {name: statistics.median(r.cpu for r in results) for name, results in runs.items()}
        imports = statistics.median(wall["imports"]) / statistics.median(wall["tasks"])
        outcome.context += [
            [
                'CPU (user+sys) of `coach chat "hi"` (warm worker) / `coach tasks list` / `llm`',
                f"{cpu['chat']:.3f} s / {cpu['tasks']:.3f} s / {cpu['llm']:.3f} s",
                f"{cpu['chat'] / cpu['tasks']:.2f}× / {cpu['chat'] / cpu['llm']:.2f}×",
            ],
            [
                f"`python -c '{TURN_IMPORTS}'` (a chat's imports: no store, no model) / tasks list",
                f"{statistics.median(wall['imports']):.3f} s",
                f"{imports:.2f}×",
            ],
        ]
        missed = [f for f in outcome.figures if f.passed is False and f.baseline_name == tasks[1]]
        if missed:
            outcome.notes.append(
                "- **Warm-worker commands vs `coach tasks list` ("
                + ", ".join(f"{f.ratio:.2f}×" for f in missed)
                + ", target 1.30×).** None of them imports litellm (the worker makes the call), so "
                "what remains is the command's own work: importing only the modules of a coaching "
                f"turn, with no store and no model call, took {imports:.2f}× a whole `coach tasks "
                f"list` in the same rounds, and a turn then saves the message and the reply (two "
                f"commits) and fits the window (token counts asked of the worker). CPU: "
                f"{cpu['chat'] / cpu['tasks']:.2f}× for chat."
            )

        pid = worker_pid(env)
        if pid:
            outcome.figures.append(Figure("model worker, idle memory (RSS)", rss_kib(pid), "KiB"))
        peak_warm = procs.peak_rss(PYTHON, chat, env)
        peak_off = procs.peak_rss(PYTHON, chat, off)
        peak = Figure(
            '`coach chat "hi"` peak memory, warm worker',
            peak_warm,
            "KiB",
            baseline=peak_off,
            baseline_name="the same, in-process (COACH_WORKER=off)",
            ratio=peak_warm / peak_off,
        )
        outcome.figures.append(peak)

        def cold() -> procs.Run:
            stop_worker(env)
            return procs.run(chat, env)

        first = interleave(
            {"cold": cold, "off": lambda: procs.run(chat, off)},
            bench.reps(5, 1),
            seed=17,
            warmup=False,
            label="first call",
        )
        outcome.figures.append(
            Figure.paired(
                'first `coach chat "hi"` (starts the worker)',
                "s",
                [r.wall for r in first["cold"]],
                [r.wall for r in first["off"]],
                'in-process one-shot `coach chat "hi"` (COACH_WORKER=off)',
                1.1,
            )
        )
    finally:
        stop_worker(env)
    return outcome


CASES = [
    Case(
        "worker",
        worker,
        """\
- **Model worker** (issue 13): `coach chat "hi"`, `coach dispatch --agent planner` and
  `coach checkin` with a warm worker, each a new process, interleaved with cold `coach tasks list`
  and with simonw/llm's `llm -m bench "hi"` (its own venv; `extra-openai-models.yaml` in a
  temporary `LLM_USER_PATH` pointing at the same scripted server). Memory: the idle worker's
  VmRSS, and the command's peak RSS against the in-process run. First call: `coach worker stop`
  (waited for), then `coach chat "hi"`, which starts the worker and waits for its litellm import,
  against `COACH_WORKER=off coach chat "hi"`, interleaved.""",
    ),
]
