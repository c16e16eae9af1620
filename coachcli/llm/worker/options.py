"""How a command uses the worker: resolved settings (`worker`, `worker_idle`, `<home>`)."""

from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from coachcli.config import Settings


@dataclass(frozen=True)
class WorkerOptions:
    """`mode` is "auto" (start the worker on first use), "attach" (use one only if it runs) or "off"."""

    mode: str
    home: Path
    idle_seconds: float = 900.0
    debug: bool = False

    @classmethod
    def from_settings(cls, settings: Settings, *, mode: str | None = None) -> WorkerOptions:
        return cls(
            mode=mode or settings.worker,
            home=settings.home,
            idle_seconds=settings.worker_idle.total_seconds(),
            debug=settings.debug,
        )

    @property
    def enabled(self) -> bool:
        """On, and the platform can run it: Unix sockets with peer credentials (Linux); elsewhere
        commands call the model themselves."""
        return (
            self.mode in ("auto", "attach") and hasattr(socket, "AF_UNIX") and hasattr(socket, "SO_PEERCRED")
        )
