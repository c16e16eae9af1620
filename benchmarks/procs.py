"""Run child processes and measure them: wall time, CPU time and peak memory of that one child."""

from __future__ import annotations

import os
import subprocess
import time
from dataclasses import dataclass


@dataclass
class Run:
    wall: float  # seconds, spawn to exit (or to the prompt, for pty runs)
    cpu: float  # user + system seconds of the child
    maxrss_kb: int  # peak resident set of the child (Linux: KiB); see peak_rss()
    returncode: int


# Forks the command from a small process and reports its ru_maxrss. A child forked straight from
# this (large) benchmark process inherits our high-water mark: Linux carries the parent's peak RSS
# into the child's ru_maxrss across exec, so every command would seem to use ~100 MiB.
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execve(sys.argv[1], sys.argv[1:], os.environ)
_, status, usage = os.wait4(pid, 0)
sys.stderr.write(f"\\nMAXRSS_KB {usage.ru_maxrss}\\n")
sys.exit(os.waitstatus_to_exitcode(status))
"""


def peak_rss(python: str, argv: list[str], env: dict[str, str]) -> int:
    """Peak resident memory (KiB) of `argv`, launched from a minimal interpreter (python -S -I)."""
    proc = subprocess.run(
        [python, "-S", "-I", "-c", _LAUNCHER, *argv],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode}: {proc.stderr[-2000:]}")
    lines = [line for line in proc.stderr.splitlines() if line.startswith("MAXRSS_KB ")]
    return int(lines[-1].split()[1])


def run(argv: list[str], env: dict[str, str], *, stdin: int | None = subprocess.DEVNULL) -> Run:
    """Spawn, wait with wait4 (rusage of exactly this child), and time it."""
    start = time.perf_counter()
    proc = subprocess.Popen(argv, env=env, stdin=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read()  # the child cannot block on a full pipe; nothing is written normally
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    proc.returncode = code  # already reaped: keep Popen from waiting again
    proc.stderr.close()
    if code != 0:
        raise RuntimeError(f"{' '.join(argv)} exited {code}: {err.decode(errors='replace')[-2000:]}")
    return Run(wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss, code)


def prompt_time(argv: list[str], env: dict[str, str], prompt: str, *, timeout: float = 60.0) -> Run:
    """Spawn on a pseudo-terminal; wall time until `prompt` appears on it. Then Ctrl-D and reap."""
    import pexpect

    start = time.perf_counter()
    child = pexpect.spawn(argv[0], argv[1:], env=env, encoding="utf-8", timeout=timeout, dimensions=(40, 120))
    try:
        child.expect_exact(prompt)
        wall = time.perf_counter() - start
        child.sendeof()
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    if child.exitstatus not in (0, None):
        raise RuntimeError(f"{' '.join(argv)} exited {child.exitstatus}: {child.before!r}")
    return Run(wall, float("nan"), 0, child.exitstatus or 0)
