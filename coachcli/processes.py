"""Is a process alive, and when did it start: what a dispatch runner or the model worker is
checked by. Linux reads /proc; elsewhere the start time is unknown (None)."""

from __future__ import annotations

import os


def _stat_fields(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (which may hold spaces or ')')."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
            return handle.read().rsplit(")", 1)[-1].split()
    except OSError:
        return None


def pid_alive(pid: int) -> bool:
    """Is process `pid` running (a zombie counts as gone)?"""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    fields = _stat_fields(pid)
    return not fields or fields[0] != "Z"


def process_start(pid: int) -> str | None:
    """The kernel's start time of a process: tells a live process from a reused pid (Linux)."""
    fields = _stat_fields(pid)
    return fields[19] if fields and len(fields) > 19 else None
