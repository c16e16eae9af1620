"""Settings resolved once per command: flag > COACH_* env > <home>/config.toml > default."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from coachcli.errors import UsageError

DEFAULT_MODEL = "openai/gpt-4o-mini"
CONFIG_FILE = "config.toml"
DB_FILE = "coach.db"

# key -> (environment variable, type, description); `coach config` refuses anything else.
CONFIG_KEYS: dict[str, tuple[str, type, str]] = {
    "model": ("COACH_MODEL", str, "litellm model name, e.g. anthropic/claude-sonnet-4-5"),
    "api_base": ("COACH_API_BASE", str, "endpoint for a local or OpenAI-compatible server"),
    "user": ("COACH_USER", str, "default user handle"),
    "context_tokens": ("COACH_CONTEXT_TOKENS", int, "override the model's input window"),
}

_HANDLE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$")


def validate_handle(handle: str) -> str:
    """A handle is 1-64 characters: letters, digits, `.`, `_`, `-`, `@`, starting alphanumeric."""
    handle = handle.strip()
    if not _HANDLE.match(handle):
        raise UsageError(
            f"invalid user handle {handle!r}: use 1-64 letters, digits, '.', '_', '-' or '@', "
            "starting with a letter or digit."
        )
    return handle


def default_home() -> Path:
    """The platform's user data folder (imported lazily: platformdirs is cheap but not free)."""
    from platformdirs import user_data_dir

    return Path(user_data_dir("coachcli", appauthor=False))


def read_config_file(home: Path) -> dict[str, Any]:
    path = home / CONFIG_FILE
    if not path.exists():
        return {}
    import tomllib  # only when there is a file to read

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise UsageError(f"cannot read {path}: {exc}. Fix or delete the file.") from exc
    return data


def coerce(key: str, value: Any) -> Any:
    """Convert a raw config value to its declared type, or refuse it with exit code 2."""
    if key not in CONFIG_KEYS:
        known = ", ".join(CONFIG_KEYS)
        raise UsageError(f"unknown setting {key!r}: known settings are {known}.")
    kind = CONFIG_KEYS[key][1]
    if kind is int:
        try:
            number = int(value)
        except (TypeError, ValueError):
            raise UsageError(f"{key} must be a whole number, got {value!r}.") from None
        if number < 256:
            raise UsageError(f"{key} must be at least 256, got {number}.")
        return number
    text = str(value).strip()
    if not text:
        raise UsageError(f"{key} cannot be empty.")
    if key == "user":
        text = validate_handle(text)
    return text


@dataclass
class Settings:
    """Everything a command needs to know about where it runs and which model it talks to."""

    home: Path
    database_url: str
    user: str
    model: str
    api_base: str | None
    context_tokens: int | None
    debug: bool = False
    sources: dict[str, str] = field(default_factory=dict)

    @property
    def config_path(self) -> Path:
        return self.home / CONFIG_FILE


def _pick(key: str, flag: Any, file_values: dict[str, Any], default: Any) -> tuple[Any, str]:
    env_name = CONFIG_KEYS[key][0]
    if flag is not None and flag != "":
        return coerce(key, flag), "flag"
    env_value = os.environ.get(env_name)
    if env_value:
        return coerce(key, env_value), f"env {env_name}"
    if key in file_values:
        return coerce(key, file_values[key]), "config.toml"
    return default, "default"


def os_login() -> str:
    import getpass  # only when no handle was given

    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return "me"


def resolve(
    *,
    home: str | None = None,
    db: str | None = None,
    user: str | None = None,
    model: str | None = None,
    api_base: str | None = None,
) -> Settings:
    """Resolve settings from flags, environment, config file and defaults, in that order."""
    home_text = home or os.environ.get("COACH_HOME")
    home_path = Path(home_text).expanduser() if home_text else default_home()
    file_values = read_config_file(home_path)
    sources: dict[str, str] = {}
    values: dict[str, Any] = {}
    defaults = {"model": DEFAULT_MODEL, "api_base": None, "user": None, "context_tokens": None}
    flags = {"model": model, "api_base": api_base, "user": user, "context_tokens": None}
    for key in CONFIG_KEYS:
        values[key], sources[key] = _pick(key, flags[key], file_values, defaults[key])
    if values["user"] is None:
        values["user"] = validate_handle(_sanitise_login(os_login()))
        sources["user"] = "login name"
    database_url = db or os.environ.get("COACH_DATABASE_URL") or ""
    if not database_url:
        database_url = f"sqlite:///{home_path / DB_FILE}"
    return Settings(
        home=home_path,
        database_url=database_url,
        user=values["user"],
        model=values["model"],
        api_base=values["api_base"],
        context_tokens=values["context_tokens"],
        debug=os.environ.get("COACH_DEBUG") == "1",
        sources=sources,
    )


def _sanitise_login(name: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._@-]", "-", name).strip("-._@")
    return cleaned[:64] or "me"


def write_config_value(home: Path, key: str, value: Any | None) -> None:
    """Set (or with None, remove) one key in <home>/config.toml, keeping the others."""
    current = read_config_file(home)
    if value is None:
        current.pop(key, None)
    else:
        current[key] = coerce(key, value)
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    lines = ["# coachcli settings: `coach config set KEY VALUE` writes this file."]
    for name, item in current.items():
        if isinstance(item, int) and not isinstance(item, bool):
            lines.append(f"{name} = {item}")
        else:
            escaped = str(item).replace("\\", "\\\\").replace('"', '\\"')
            lines.append(f'{name} = "{escaped}"')
    path = home / CONFIG_FILE
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    os.chmod(tmp, 0o600)
    os.replace(tmp, path)
