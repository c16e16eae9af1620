"""`coach worker status|stop`: the background process that keeps litellm loaded (issue 13)."""

from __future__ import annotations

import typer

from coachcli.cli.common import JsonOpt
from coachcli.cli.output import emit_json, iso, out
from coachcli.cli.state import state

worker_app = typer.Typer(
    help="The model worker: a background process that keeps litellm loaded for model commands."
)


@worker_app.command("status")
def status_cmd(ctx: typer.Context, json_out: JsonOpt = False) -> None:
    """Whether a worker runs for this home, since when, and how much it has served."""
    from coachcli.llm.worker.spawn import describe

    info = describe(state(ctx).settings().home)
    if json_out:
        emit_json(
            {
                "running": info.running,
                "pid": info.pid,
                "started_at": iso(info.started_at),
                "requests_served": info.requests_served,
                "idle_seconds": info.idle_seconds,
                "version": info.version,
            }
        )
        return
    if not info.running:
        out().print("not running", markup=False)
        return
    out().print(
        f"running: pid {info.pid}, coachcli {info.version}, started {iso(info.started_at)}, "
        f"{info.requests_served} requests served, idle {info.idle_seconds or 0:.0f}s",
        markup=False,
    )


@worker_app.command("stop")
def stop_cmd(ctx: typer.Context) -> None:
    """Stop the worker now (calls in flight finish first); the next model command starts one."""
    from coachcli.llm.worker.spawn import stop_for

    pid = stop_for(state(ctx).settings().home)
    out().print(f"stopped the worker (pid {pid})" if pid else "no worker was running", markup=False)


def register(app: typer.Typer) -> None:
    app.add_typer(worker_app, name="worker")
