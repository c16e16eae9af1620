"""A throwaway PostgreSQL server on 127.0.0.1 for the test suite (never as root)."""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def find_bin(name: str) -> str | None:
    found = shutil.which(name)
    if found:
        return found
    candidates = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True)
    return candidates[0] if candidates else None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class PgServer:
    """initdb + pg_ctl in a temp folder; as the `postgres` user when we are root."""

    def __init__(self) -> None:
        self.initdb = find_bin("initdb")
        self.pg_ctl = find_bin("pg_ctl")
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="coach-pg-"))
        self.data = self.dir / "data"
        self.run_as: list[str] = []
        if os.geteuid() == 0:
            try:
                pwd.getpwnam("postgres")
            except KeyError as exc:
                raise RuntimeError(
                    "running as root and there is no 'postgres' user to run the server"
                ) from exc
            self.run_as = ["runuser", "-u", "postgres", "--"]
            shutil.chown(self.dir, "postgres")
        os.chmod(self.dir, 0o700)

    @property
    def available(self) -> str | None:
        """None when a server can be started, else the reason it cannot."""
        if not self.initdb or not self.pg_ctl:
            return "initdb/pg_ctl not found (install the postgresql server package)"
        return None

    def _run(self, *args: str) -> None:
        subprocess.run([*self.run_as, *args], check=True, capture_output=True, text=True)

    def start(self) -> str:
        assert self.initdb and self.pg_ctl
        self._run(self.initdb, "-D", str(self.data), "-A", "trust", "-U", "coach", "--no-sync", "-E", "UTF8")
        options = f"-h 127.0.0.1 -p {self.port} -k {self.dir} -c fsync=off -c max_connections=200"
        self._run(
            self.pg_ctl, "-D", str(self.data), "-o", options, "-l", str(self.dir / "log"), "-w", "start"
        )
        return f"postgresql+psycopg://coach@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        if self.pg_ctl and self.data.exists():
            with contextlib.suppress(subprocess.CalledProcessError):
                self._run(self.pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop")
        time.sleep(0.1)
        shutil.rmtree(self.dir, ignore_errors=True)
