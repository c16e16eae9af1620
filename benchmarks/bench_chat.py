"""One-shot `coach chat "hi"` against a bare script making the same litellm call."""

from __future__ import annotations

import statistics

import procs
from core import COACH, HERE, PYTHON, Bench, Case, Figure, Outcome, interleave


def oneshot(bench: Bench) -> Outcome:
    env = {**bench.env(), "COACH_WORKER": "off"}  # the in-process path; bench_worker measures the warm one
    bare = [PYTHON, str(HERE / "bare_litellm.py")]
    runs = interleave(
        {
            "coach": lambda: procs.run([COACH, "chat", "hi"], env),
            "bare": lambda: procs.run([*bare, "hi"], env),
            "stack": lambda: procs.run([*bare, "--with-cli-stack", "hi"], env),
        },
        bench.reps(6, 2),
        seed=7,
        label="one-shot chat",
    )
    figure = Figure.paired(
        'one-shot `coach chat "hi"` (scripted local server)',
        "s",
        [r.wall for r in runs["coach"]],
        [r.wall for r in runs["bare"]],
        "bare script, same litellm call (benchmarks/bare_litellm.py)",
        1.10,
    )
    assert figure.baseline is not None and figure.ratio is not None
    cpu = {k: statistics.median(r.cpu for r in v) for k, v in runs.items()}
    stack = statistics.median(r.wall for r in runs["stack"]) / figure.baseline
    context = [
        [
            'CPU (user+sys) of `coach chat "hi"` / bare litellm script',
            f"{cpu['coach']:.3f} s / {cpu['bare']:.3f} s",
            f"{cpu['coach'] / cpu['bare']:.2f}×",
        ],
        [
            "Bare litellm script that first imports the CLI stack (sqlmodel, typer, rich) / bare script",
            f"{stack * figure.baseline:.3f} s",
            f"{stack:.2f}× (coach: {figure.ratio:.2f}×)",
        ],
    ]
    notes = []
    if figure.passed is False:
        rest = (
            "coach itself comes out below that: litellm's import runs with the cyclic collector "
            "paused, which wins back part of what the stack costs"
            if figure.ratio <= stack
            else "the rest is the turn itself: user, conversation and two messages saved (each "
            "committed), the system prompt built from facts, notes, threads and agents, tools sent, "
            "the streamed reply assembled and priced"
        )
        notes.append(
            f"- **One-shot chat {figure.ratio:.2f}× (target {figure.target:.2f}×).** The bare script "
            f"that only imports sqlmodel, typer and rich.console before the same call measured "
            f"{stack:.2f}× the bare script in the same rounds: a CLI on this stack pays that before "
            f"its first query; {rest}."
        )
    return Outcome([figure], context, notes=notes)


CASES = [
    Case(
        "chat",
        oneshot,
        """\
- **One-shot chat**: `COACH_WORKER=off coach chat "hi"` (the in-process call, which imports
  litellm itself; the warm-worker path is the `worker` case), stdout a pipe, against
  `tests/scripted_server.py` on 127.0.0.1, vs `benchmarks/bare_litellm.py` making the same
  streamed `litellm.completion` call; both with `LITELLM_LOCAL_MODEL_COST_MAP=True` and the same
  environment. Context job: `benchmarks/bare_litellm.py --with-cli-stack`, the bare call after
  importing the floor's modules.""",
    ),
]
