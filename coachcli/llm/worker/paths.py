"""Where a worker's socket lives: a folder only this user can enter, one socket per user and <home>.

`$XDG_RUNTIME_DIR/coachcli` when the session has one, else `<home>/run`, else (when that path is
too long for a Unix socket address) `/tmp/coachcli-<uid>`. The socket's name carries a hash of
<home>, so two homes get two workers. A folder someone else owns, or a symlink, is refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import stat
import tempfile
from dataclasses import dataclass
from pathlib import Path

# sun_path holds 108 bytes on Linux and 104 on macOS (NUL included): stay under both.
MAX_SOCKET_PATH = 100


@dataclass(frozen=True)
class WorkerPaths:
    folder: Path
    socket: Path
    lock: Path


def home_key(home: Path) -> str:
    """A short, stable name for one <home> (its absolute, symlink-free path, hashed)."""
    resolved = os.path.realpath(os.path.expanduser(str(home)))
    return hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:12]


def worker_paths(home: Path, *, create: bool = True) -> WorkerPaths | None:
    """The socket and lock for <home>, in the first usable private folder; None if there is none.
    Without `create` (to look for a running worker) a missing folder is not made."""
    name = home_key(home)
    for folder in _candidates(home):
        sock = folder / f"{name}.sock"
        if len(os.fsencode(sock)) > MAX_SOCKET_PATH:
            continue
        if not create and not os.path.lexists(folder):
            return None  # the folder a worker would use does not exist: none runs
        if private_folder(folder):
            return WorkerPaths(folder=folder, socket=sock, lock=folder / f"{name}.lock")
    return None


def _candidates(home: Path) -> list[Path]:
    folders = []
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    if runtime and os.path.isabs(runtime):
        folders.append(Path(runtime) / "coachcli")
    folders.append(Path(os.path.abspath(os.path.expanduser(str(home)))) / "run")
    folders.append(Path(tempfile.gettempdir()) / f"coachcli-{os.getuid()}")
    return folders


def private_folder(folder: Path) -> bool:
    """Create `folder` 0700 if missing; accept it only if it is a real folder this user owns,
    closing it to others if it was open. Anything else (a symlink, another owner) is refused."""
    try:
        folder.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=0o700)
        info = os.lstat(folder)
        if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
            return False
        if stat.S_IMODE(info.st_mode) & 0o077:
            os.chmod(folder, 0o700)
        return True
    except OSError:
        return False
