"""<home>/config.toml: read it (saying exactly what is wrong and on which line), repair it, write it.

Values are serialised by tomli-w, never by hand, and the file is replaced atomically (a temp file
in the same folder, fsync, rename) with mode 0600. A file broken by hand can still be repaired:
`without_key` drops one key's lines textually, so `coach config unset KEY` works even when the
file is not valid TOML. tomllib and tomli_w load only when there is a file to read or write.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coachcli.errors import CoachError, UsageError

HEADER = "# coachcli settings: written by `coach config set`; `coach config show` explains each.\n"

# `key =`, `"key" =` or `'key' =` at the start of a line; a `[table]` header ends the top level.
_ASSIGNMENT = re.compile(r"""^\s*(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[A-Za-z0-9_\-]+))\s*=""")
_TABLE = re.compile(r"^\s*\[")
_AT_LINE = re.compile(r"\s*\(at line (\d+), column \d+\)")


class ConfigFileError(UsageError):
    """config.toml cannot be read as TOML: the message names the file, the line and the fix."""

    def __init__(self, message: str, *, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class ConfigFile:
    """What config.toml holds: its values, the line of each top-level key, or why it is unreadable."""

    path: Path
    values: dict[str, Any] = field(default_factory=dict)
    lines: dict[str, int] = field(default_factory=dict)
    error: ConfigFileError | None = None
    text: str = ""  # the decoded text (undecodable bytes kept as surrogates), for repairs


def read(path: Path) -> ConfigFile:
    """The file's contents; a missing file is empty, an unreadable one carries `error`."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return ConfigFile(path)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise UsageError(f"cannot read {path}: {reason}: fix its permissions or remove it.") from None
    return parse(path, raw.decode("utf-8", "surrogateescape"))


def parse(path: Path, text: str) -> ConfigFile:
    lines = key_lines(text)
    error = _syntax_error(path, text)
    if error is not None:
        return ConfigFile(path, {}, lines, error, text)
    import tomllib

    return ConfigFile(path, tomllib.loads(text.removeprefix("\ufeff")), lines, None, text)


def key_lines(text: str) -> dict[str, int]:
    """Top-level key -> its 1-based line number (the first assignment before any [table])."""
    found: dict[str, int] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if _TABLE.match(line):
            break
        match = _ASSIGNMENT.match(line)
        if match:
            key = match.group("dq") or match.group("sq") or match.group("bare") or ""
            found.setdefault(key, number)
    return found


def _syntax_error(path: Path, text: str) -> ConfigFileError | None:
    lines = text.splitlines()
    for number, line in enumerate(lines, start=1):
        if any("\udc80" <= ch <= "\udcff" for ch in line):
            return ConfigFileError(
                f"{path} line {number} is not UTF-8 text: {_fix(lines, number)}", line=number
            )
    import tomllib

    try:
        tomllib.loads(text.removeprefix("\ufeff"))
    except tomllib.TOMLDecodeError as exc:
        message = str(exc)
        at = _AT_LINE.search(message)
        line_no = int(at.group(1)) if at else None
        reason = _AT_LINE.sub("", message).rstrip(".")
        where = f"{path} line {line_no}" if line_no else str(path)
        fix = _fix(lines, line_no) if line_no else "fix or delete the file."
        return ConfigFileError(f"{where} is not valid TOML ({reason}): {fix}", line=line_no)
    return None


def _fix(lines: list[str], number: int) -> str:
    """What to run: unset the key whose value spans the broken line, else edit the file."""
    key = _key_owning(lines, number)
    if key is None:
        return "fix or delete that line."
    return f"run `coach config unset {key}` to remove that setting, or fix the line by hand."


def _key_owning(lines: list[str], number: int) -> str | None:
    for index in range(min(number, len(lines)) - 1, -1, -1):
        line = lines[index]
        match = _ASSIGNMENT.match(line)
        if match:
            return match.group("dq") or match.group("sq") or match.group("bare")
        if _TABLE.match(line) or not line.strip() or line.lstrip().startswith("#"):
            return None
    return None


def without_key(text: str, key: str) -> str:
    """`text` minus the top-level assignment of `key` and its continuation lines (textual repair)."""
    out: list[str] = []
    dropping = False
    top_level = True
    for line in text.splitlines(keepends=True):
        if _TABLE.match(line):
            top_level = False
        match = _ASSIGNMENT.match(line)
        if match or _TABLE.match(line) or not line.strip() or line.lstrip().startswith("#"):
            name = (match.group("dq") or match.group("sq") or match.group("bare")) if match else None
            dropping = top_level and name == key
        if not dropping:
            out.append(line)
    return "".join(out)


def update(path: Path, key: str, value: Any | None) -> bool:
    """Set `key` to `value` (None removes it) and rewrite the file; True when `key` was there.

    A file that is not valid TOML is repaired by dropping `key`'s lines first; when the rest is
    still broken nothing is written and the error says which line to fix. The read-modify-write
    holds a lock on the folder, so two `config set` at once both land (neither loses the other's key).
    """
    with _locked(path):
        return _update(path, key, value)


@contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive flock on the file's folder for a read-modify-write (none where flock is missing)."""
    folder = Path(os.path.realpath(path)).parent
    try:
        import fcntl

        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(folder, os.O_RDONLY)
    except (ImportError, OSError):
        yield  # no lock to take: write() reports a folder it cannot use
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _update(path: Path, key: str, value: Any | None) -> bool:
    current = read(path)
    present = key in current.values
    if current.error is not None:
        present = key in current.lines
        current = parse(path, without_key(current.text, key))
        if current.error is not None:
            raise current.error
    elif value is None and not present:
        return False
    values = dict(current.values)
    if value is None:
        values.pop(key, None)
    else:
        values[key] = value
    write(path, values)
    return present


def write(path: Path, values: dict[str, Any]) -> None:
    """Replace the file atomically with `values` in TOML, mode 0600 (a symlink's target is kept)."""
    import tomli_w

    data = (HEADER + tomli_w.dumps(values)).encode("utf-8")
    target = Path(os.path.realpath(path))
    try:
        target.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        _replace(target, data)
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise CoachError(f"cannot write {path}: {reason}: nothing was changed.") from None


def _replace(target: Path, data: bytes) -> None:
    tmp = target.with_name(f".{target.name}.{os.getpid()}.tmp")
    tmp.unlink(missing_ok=True)  # left by a killed process with this pid
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            os.fchmod(handle.fileno(), 0o600)
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:  # make the rename itself durable
        folder = os.open(target.parent, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(folder)
    except OSError:
        pass
    finally:
        os.close(folder)
