"""Settings, resolved once per command: flag > COACH_* variable > <home>/config.toml > default.

Every setting is one `Key` declaration below (name, variable, parser, default, help); nothing else
in coachcli reads a COACH_* variable. A bad value is refused with exit 2 by an error naming where
it came from (`--timeout`, `COACH_TIMEOUT`, or `config.toml key timeout`). This module is imported
by every command: the standard library only, and tomllib/tomli_w load inside config_file when a
file is read or written.
"""

from __future__ import annotations

import math
import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Generic, NamedTuple, TypeVar

from coachcli.errors import UsageError
from coachcli.redact import redact

if TYPE_CHECKING:  # config_file loads only when there is a config.toml to read or write
    from coachcli.config_file import ConfigFile

__all__ = [
    "CONFIG_FILE",
    "DB_FILE",
    "DEFAULT_MODEL",
    "DEFAULT_RETRIES",
    "DEFAULT_RETRY_DELAY",
    "DEFAULT_TIMEOUT",
    "KEYS",
    "Key",
    "Settings",
    "debug_enabled",
    "default_home",
    "file_key",
    "format_duration",
    "parse_duration",
    "plain",
    "resolve",
    "set_value",
    "unset_value",
    "validate_handle",
]

T = TypeVar("T")

DEFAULT_MODEL = "openai/gpt-4o-mini"
DEFAULT_TIMEOUT = 60.0
DEFAULT_RETRIES = 2
DEFAULT_RETRY_DELAY = 1.0
DB_FILE = "coach.db"
CONFIG_FILE = "config.toml"

# Patterns are compiled on first use (re caches them): this module is imported by every command.
_CONTROL = r"[\x00-\x1f\x7f-\x9f\u2028\u2029]"
_HANDLE = r"[A-Za-z0-9][A-Za-z0-9._@-]{0,63}"
_DURATION = r"(?:\d+(?:\.\d+)?[smhdw])+"
_DURATION_PART = r"(\d+(?:\.\d+)?)([smhdw])"
_UNIT_SECONDS = {"w": 604800, "d": 86400, "h": 3600, "m": 60, "s": 1}
_MAX_DURATION = timedelta(days=3660)


# -- values ---------------------------------------------------------------------------------------


def parse_duration(text: str) -> timedelta:
    """`30s`, `15m`, `12h`, `1d`, `2w` (or combined: `1h30m`, `1.5h`) as a timedelta (zero allowed).

    Raises UsageError (exit 2) saying what a duration looks like, so commands can pass user
    text straight in.
    """
    cleaned = "".join(str(text).split()).lower()
    if not re.fullmatch(_DURATION, cleaned):
        raise UsageError(
            f"{_shown(text)} is not a duration: use a number and a unit (s, m, h, d or w), "
            "e.g. 30s, 15m, 12h, 1d, 2w."
        )
    seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in re.findall(_DURATION_PART, cleaned))
    if seconds > _MAX_DURATION.total_seconds():
        raise UsageError(f"{_shown(text)} is too long a duration: at most 10 years.")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The shortest exact form parse_duration reads back: 1d, 90m, 36h, 45s (or 2.5s)."""
    seconds = value.total_seconds()
    for unit, size in _UNIT_SECONDS.items():
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{seconds:g}s"


def validate_handle(handle: str) -> str:
    """A handle is 1-64 characters: letters, digits, `.`, `_`, `-`, `@`, starting alphanumeric."""
    cleaned = handle.strip(" ")
    if not re.fullmatch(_HANDLE, cleaned):
        raise UsageError(
            f"invalid user handle {_shown(handle)}: use 1-64 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit."
        )
    return cleaned


def plain(value: object) -> object:
    """A setting's value as shown and stored: durations as text, 60.0 as 60, URLs redacted."""
    if isinstance(value, timedelta):
        return format_duration(value)
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        return redact(value)
    return value


def _shown(raw: object, limit: int = 80) -> str:
    """A value quoted for an error: control characters escaped, secrets masked, length capped."""
    text = repr(redact(raw)) if isinstance(raw, str) else repr(raw)
    return text if len(text) <= limit else text[: limit - 1] + "…"


# -- parsers: each takes text (flag, variable) or a TOML value, and raises ValueError(reason) ------


def _text(raw: object, *, spaces: bool = True, limit: int = 500) -> str:
    """Text without control characters; surrounding spaces are dropped, a trailing newline is not
    (it is refused, like any line break: `$'gpt\n'` is a mistake, not a model name)."""
    if not isinstance(raw, str):
        raise ValueError("must be text")
    text = raw.strip(" ")
    if not text:
        raise ValueError("cannot be empty")
    if re.search(_CONTROL, text):
        raise ValueError("cannot contain line breaks or control characters")
    if not spaces and any(ch.isspace() for ch in text):
        raise ValueError("cannot contain spaces")
    if len(text) > limit:
        raise ValueError(f"is longer than {limit} characters")
    return text


def _model(raw: object) -> str:
    return _text(raw, spaces=False, limit=200)


def _url(raw: object) -> str:
    from urllib.parse import urlsplit

    text = _text(raw, spaces=False, limit=2000)
    try:
        parts = urlsplit(text)
        port_ok = parts.port is None or parts.port > 0
    except ValueError:
        raise ValueError("must be an http:// or https:// URL") from None
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname or not port_ok:
        raise ValueError("must be an http:// or https:// URL with a host, e.g. http://localhost:11434/v1")
    return text


def _handle(raw: object) -> str:
    if not isinstance(raw, str):
        raise ValueError("must be text")
    try:
        return validate_handle(raw)
    except UsageError:
        raise ValueError(
            "must be 1-64 letters, digits, '.', '_', '-' or '@', starting with a letter or digit"
        ) from None


def _path(raw: object) -> Path:
    return Path(_text(raw, limit=4096)).expanduser()


def _database_url(raw: object) -> str:
    return _text(raw, limit=4096)  # a SQLite path may hold spaces


def _number(raw: object, *, whole: bool) -> float:
    """A number from TOML or text; booleans and nan/inf are refused."""
    kind = "a whole number" if whole else "a number"
    if isinstance(raw, bool):
        raise ValueError(f"must be {kind}")
    if isinstance(raw, str):
        text = raw.strip().replace("_", "")
        try:
            number = float(int(text)) if whole else float(text)
        except ValueError:
            raise ValueError(f"must be {kind}") from None
    elif isinstance(raw, int | float):
        number = float(raw)
    else:
        raise ValueError(f"must be {kind}")
    if not math.isfinite(number):
        raise ValueError(f"must be {kind} (not nan or infinity)")
    if whole and not number.is_integer():
        raise ValueError(f"must be {kind}")
    return number


def _bounded(low: float, high: float, *, whole: bool = False, above: bool = False) -> Callable[[object], Any]:
    def parse(raw: object) -> float | int:
        number = _number(raw, whole=whole)
        if (number <= low if above else number < low) or number > high:
            floor = f"more than {low:g}" if above else f"at least {low:g}"
            raise ValueError(f"must be {floor} and at most {high:g}")
        return int(number) if whole else number

    return parse


def _flag(raw: object) -> bool:
    if isinstance(raw, bool):
        return raw
    text = str(raw).strip().lower()
    if text in ("1", "true", "yes", "on"):
        return True
    if text in ("0", "false", "no", "off"):
        return False
    raise ValueError("must be 1 or 0 (true/false, yes/no, on/off)")


def _choice(*options: str) -> Callable[[object], str]:
    def parse(raw: object) -> str:
        text = raw.strip().lower() if isinstance(raw, str) else ""
        if text not in options:
            raise ValueError(f"must be one of: {', '.join(options)}")
        return text

    return parse


def _duration(raw: object) -> timedelta:
    if not isinstance(raw, str):
        raise ValueError('must be a duration in quotes, e.g. "15m"')
    try:
        value = parse_duration(raw)
    except UsageError:
        raise ValueError("must be a duration: a number and a unit (s, m, h, d, w), e.g. 15m or 1d") from None
    if value <= timedelta(0):
        raise ValueError("must be longer than zero")
    return value


# -- the declarations ------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)  # eq=False: a declaration is equal only to itself (and cheaper)
class Key(Generic[T]):
    """One setting: its name in config.toml, its COACH_* variable, how to read it, its default."""

    name: str
    env: str
    parse: Callable[[object], T]
    default: T | None
    help: str
    flag: str | None = None  # the command-line option that sets it, where one exists
    in_file: bool = True  # may be written to config.toml
    default_text: str | None = None  # for a default computed at run time (docs and help)


MODEL: Key[str] = Key(
    name="model", env="COACH_MODEL", parse=_model, default=DEFAULT_MODEL, flag="--model",
    help="litellm model name, e.g. anthropic/claude-sonnet-4-5",
)  # fmt: skip
API_BASE: Key[str] = Key(
    name="api_base", env="COACH_API_BASE", parse=_url, default=None, flag="--api-base",
    help="endpoint of a local or OpenAI-compatible server",
)  # fmt: skip
USER: Key[str] = Key(
    name="user", env="COACH_USER", parse=_handle, default=None, flag="--user", default_text="login name",
    help="whose coaching this is (a handle)",
)  # fmt: skip
CONTEXT_TOKENS: Key[int] = Key(
    name="context_tokens", env="COACH_CONTEXT_TOKENS", parse=_bounded(256, 10_000_000, whole=True),
    default=None, default_text="the model's", help="override the model's input window (tokens)",
)  # fmt: skip
TIMEOUT: Key[float] = Key(
    name="timeout", env="COACH_TIMEOUT", parse=_bounded(0, 86400, above=True), default=DEFAULT_TIMEOUT,
    help="seconds to wait for each model call",
)  # fmt: skip
RETRIES: Key[int] = Key(
    name="retries", env="COACH_RETRIES", parse=_bounded(0, 20, whole=True), default=DEFAULT_RETRIES,
    help="extra attempts after a rate limit, a 5xx or a timeout",
)  # fmt: skip
RETRY_DELAY: Key[float] = Key(
    name="retry_delay", env="COACH_RETRY_DELAY", parse=_bounded(0, 600), default=DEFAULT_RETRY_DELAY,
    help="seconds before the first retry (doubling after each)",
)  # fmt: skip
WORKER: Key[str] = Key(
    name="worker", env="COACH_WORKER", parse=_choice("auto", "off"), default="auto",
    help="background model worker: auto (started when needed) or off",
)  # fmt: skip
WORKER_IDLE: Key[timedelta] = Key(
    name="worker_idle", env="COACH_WORKER_IDLE", parse=_duration, default=timedelta(minutes=15),
    help="the worker exits after this long unused",
)  # fmt: skip
CHECKIN_EVERY: Key[timedelta] = Key(
    name="checkin_every", env="COACH_CHECKIN_EVERY", parse=_duration, default=timedelta(days=1),
    help="how often a check-in is due",
)  # fmt: skip
MONTHLY_BUDGET_USD: Key[float] = Key(
    name="monthly_budget_usd", env="COACH_MONTHLY_BUDGET_USD", parse=_bounded(0, 1e9, above=True),
    default=None, default_text="none", help="warn when a month's model cost passes this (USD)",
)  # fmt: skip
DEBUG: Key[bool] = Key(
    name="debug", env="COACH_DEBUG", parse=_flag, default=False, in_file=False,
    help="show the traceback of an error (1/0)",
)  # fmt: skip
HOME: Key[Path] = Key(
    name="home", env="COACH_HOME", parse=_path, default=None, flag="--home", in_file=False,
    default_text="the platform's user data folder", help="folder of the database and config.toml",
)  # fmt: skip
DATABASE_URL: Key[str] = Key(
    name="database_url", env="COACH_DATABASE_URL", parse=_database_url, default=None, flag="--db",
    in_file=False, default_text="sqlite:///<home>/coach.db", help="any SQLAlchemy database URL",
)  # fmt: skip

KEYS: tuple[Key[Any], ...] = (
    MODEL, API_BASE, USER, CONTEXT_TOKENS, TIMEOUT, RETRIES, RETRY_DELAY, WORKER, WORKER_IDLE,
    CHECKIN_EVERY, MONTHLY_BUDGET_USD, DEBUG, HOME, DATABASE_URL,
)  # fmt: skip
BY_NAME: dict[str, Key[Any]] = {key.name: key for key in KEYS}


@dataclass(frozen=True, eq=False)
class Settings:
    """Everything a command needs to know about where it runs and how it talks to a model."""

    home: Path
    database_url: str
    user: str
    model: str
    api_base: str | None
    context_tokens: int | None
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    retry_delay: float = DEFAULT_RETRY_DELAY
    debug: bool = False
    worker: str = "auto"
    worker_idle: timedelta = timedelta(minutes=15)
    checkin_every: timedelta = timedelta(days=1)
    monthly_budget_usd: float | None = None
    sources: Mapping[str, str] = field(default_factory=dict)  # key -> "flag --x", "env COACH_X", ...
    problems: Mapping[str, str] = field(default_factory=dict)  # key -> error (non-strict resolve only)

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_FILE


# -- resolving -------------------------------------------------------------------------------------


class _Given(NamedTuple):
    """One value given for a key at one layer, and how an error names it."""

    raw: object
    source: str  # as `config show` reports it: "flag --model", "env COACH_MODEL", "config.toml"
    origin: str  # as an error names it: "--model", "COACH_MODEL", "config.toml key model (…)"
    fix: str = ""


class _Resolution:
    """Collects each key's value and source. Every value given is checked, also one that a
    higher layer overrides, so a bad entry never lies in wait; problems are collected, then
    raised together (strict) or reported in Settings.problems."""

    def __init__(self, flags: Mapping[str, object]) -> None:
        self.flags = flags
        self.sources: dict[str, str] = {}
        self.problems: dict[str, str] = {}
        self.file: ConfigFile | None = None

    def value(self, key: Key[Any]) -> Any:
        layers = self._given(key)
        self.sources[key.name] = layers[0].source if layers else "default"
        result = key.default
        for index, given in enumerate(layers):
            try:
                parsed = key.parse(given.raw)
            except ValueError as exc:
                self.problems.setdefault(
                    key.name, f"{given.origin} {exc} (got {_shown(given.raw)}){given.fix}."
                )
                continue
            if index == 0:
                result = parsed
        return result

    def problem(self, name: str, message: str) -> None:
        self.problems.setdefault(name, message)

    def raise_first(self) -> None:
        if not self.problems:
            return
        first, *rest = self.problems.values()
        more = f" (and {len(rest)} more: `coach config show` lists them)" if rest else ""
        raise UsageError(first.rstrip(".") + more + ".")

    def _given(self, key: Key[Any]) -> list[_Given]:
        """The values given for `key`, highest precedence first."""
        layers: list[_Given] = []
        flag = self.flags.get(key.name)
        if flag is not None and key.flag:
            layers.append(_Given(flag, f"flag {key.flag}", key.flag))
        env = os.environ.get(key.env)
        if env:
            layers.append(_Given(env, f"env {key.env}", key.env))
        if key.in_file and self.file is not None and key.name in self.file.values:
            origin = file_key(self.file, key.name)
            layers.append(_Given(self.file.values[key.name], "config.toml", origin, _file_fix(key.name)))
        return layers


def file_key(file: ConfigFile, name: str) -> str:
    """`config.toml key NAME (PATH, line N)`: how errors name a value from the file."""
    line = file.lines.get(name)
    return f"config.toml key {name} ({file.path}{f', line {line}' if line else ''})"


def _file_fix(name: str) -> str:
    return f": run `coach config set {name} VALUE` or `coach config unset {name}`"


def resolve(
    *,
    home: str | None = None,
    db: str | None = None,
    user: str | None = None,
    model: str | None = None,
    api_base: str | None = None,
    strict: bool = True,
) -> Settings:
    """Resolve every setting from flags, environment, config file and defaults, in that order.

    strict (every command but `config`): the first bad value raises UsageError (exit 2).
    Otherwise bad values fall back to their default and are listed in `Settings.problems`,
    so `coach config show/set/unset` still run on a broken file and can repair it.
    """
    flags = {"home": home, "database_url": db, "user": user, "model": model, "api_base": api_base}
    run = _Resolution(flags)
    home_path: Path = run.value(HOME) or default_home()
    run.file = _read_file(home_path / CONFIG_FILE, run)
    values = {key.name: run.value(key) for key in KEYS if key is not HOME}
    if values["user"] is None:
        values["user"] = validate_handle(_sanitise_login(os_login()))
        if run.sources["user"] == "default":
            run.sources["user"] = "login name"
    if values["database_url"] is None:
        values["database_url"] = f"sqlite:///{home_path / DB_FILE}"
    if strict:
        run.raise_first()
    return Settings(home=home_path, **values, sources=run.sources, problems=run.problems)


def _read_file(path: Path, run: _Resolution) -> ConfigFile | None:
    if not path.exists():
        return None
    from coachcli import config_file

    file = config_file.read(path)
    if file.error is not None:
        run.problem(CONFIG_FILE, str(file.error))
    for name in file.values:
        key = BY_NAME.get(name)
        if key is None or not key.in_file:
            known = ", ".join(k.name for k in KEYS if k.in_file)
            where = file_key(file, name).replace(" key ", " has an unknown key ", 1)
            run.problem(
                f"{CONFIG_FILE}:{name}",
                f"{where}: known keys are {known}; remove it with `coach config unset {name}`.",
            )
    return file


def debug_enabled() -> bool:
    """COACH_DEBUG, read before any command resolves settings (a bad value counts as off here and
    is reported when the command resolves its settings)."""
    try:
        return _flag(os.environ.get(DEBUG.env) or "0")
    except ValueError:
        return False


def default_home() -> Path:
    """The platform's user data folder (imported lazily: platformdirs is cheap but not free)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("coachcli", appauthor=False))


def os_login() -> str:
    import getpass  # only when no handle was given

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "me"


def _sanitise_login(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._@-]", "-", name).strip("-._@")
    return cleaned[:64] or "me"


# -- changing config.toml ----------------------------------------------------------------------------


def _file_setting(name: str) -> Key[Any]:
    key = BY_NAME.get(name)
    if key is None:
        known = ", ".join(k.name for k in KEYS if k.in_file)
        raise UsageError(f"unknown setting {_shown(name)}: known settings are {known}.")
    if not key.in_file:
        where = f"{key.flag} or {key.env}" if key.flag else key.env
        raise UsageError(f"{name} is not kept in config.toml: set it with {where}.")
    return key


def set_value(home: Path, name: str, text: str) -> object:
    """Validate `text` for setting `name` and write it to config.toml; returns the stored value.

    Nothing is written when the key or the value is refused (UsageError, exit 2).
    """
    key = _file_setting(name)
    try:
        value = key.parse(text)
    except ValueError as exc:
        raise UsageError(f"{name} {exc} (got {_shown(text)}): nothing was written.") from None
    stored = plain(value) if not isinstance(value, str) else value
    from coachcli import config_file

    config_file.update(home / CONFIG_FILE, name, stored)
    return stored


def unset_value(home: Path, name: str) -> bool:
    """Remove `name` from config.toml (also an unknown or broken entry); True when it was there."""
    from coachcli import config_file

    key = BY_NAME.get(name)
    if key is None or not key.in_file:
        file = config_file.read(home / CONFIG_FILE)
        if name not in file.values and name not in file.lines:
            _file_setting(name)  # refuses it: not a setting, and not in the file either
    return config_file.update(home / CONFIG_FILE, name, None)
