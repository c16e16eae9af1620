"""Settings: one resolver for flags, COACH_* variables, config.toml and defaults.

Why: a bad setting must never break coach for good or be blamed on something else. Every value
is checked where settings resolve and refused with exit 2 naming its source; config.toml is
written by tomli-w atomically with mode 0600, round-trips any text, and a file broken by hand
can always be shown and repaired with `coach config`. Secrets in URLs are never echoed.
"""

from __future__ import annotations

import os
import stat
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from conftest import MODEL
from scripted_server import ScriptedServer, error

from coachcli import config
from coachcli.errors import UsageError


def error_line(stderr: str) -> str:
    """The one `Error:` line of a failed command (and no traceback)."""
    lines = [line for line in stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


def file_of(home: Path) -> Path:
    return home / "config.toml"


def shown(coach: Any) -> dict[str, dict[str, Any]]:
    run = coach("config", "show", "--json")
    assert run.exit_code == 0, run.stderr
    document: dict[str, dict[str, Any]] = run.json()
    return document


def still_works(coach: Any) -> None:
    """Commands that read settings run normally."""
    for args in (("facts", "list"), ("tasks", "list", "--json"), ("config", "show"), ("db", "path")):
        run = coach(*args)
        assert run.exit_code == 0, (args, run.stderr)


# -- config set: refused values write nothing -----------------------------------------------------

BAD_VALUES: dict[str, list[str]] = {
    "model": ["a\nb", "a\rb", "gpt\x1b[31m", "two words", "   ", "gpt-4o\n", "\tgpt"],
    "api_base": ["http://host/v1\nx", "ftp://host/v1", "localhost:11434", "http://", "http://host:99999/v1"],
    "user": ["bad handle!", "nutri\n", "-dash-first"],
    "context_tokens": ["lots", "10", "1e400"],
    "timeout": ["-5", "0", "nan", "inf"],
    "retries": ["abc", "-1", "1.5"],
    "retry_delay": ["-1", "nan"],
    "worker": ["maybe"],
    "worker_idle": ["soon", "0s", "15"],
    "checkin_every": ["-1d", "1 fortnight"],
    "monthly_budget_usd": ["0", "-3", "nan"],
}


@pytest.mark.parametrize("key", list(BAD_VALUES))
def test_config_set_refuses_a_bad_value_and_writes_nothing(coach: Any, home: Path, key: str) -> None:
    """A value that makes no sense for its key: exit 2 naming the key, the file byte for byte as before."""
    assert coach("config", "set", "model", "openai/kept").exit_code == 0
    before = file_of(home).read_bytes()
    for value in BAD_VALUES[key]:
        run = coach("config", "set", key, "--", value)
        assert run.exit_code == 2, value
        line = error_line(run.stderr)
        assert key in line and "nothing was written" in line, value
        assert "\x1b" not in run.stderr
        assert file_of(home).read_bytes() == before, value
    assert sorted(p.name for p in home.iterdir() if "config" in p.name) == ["config.toml"]


def test_newline_in_a_model_name_is_refused_before_a_file_exists(coach: Any, home: Path) -> None:
    """The done-when case of issue 9: `config set model "$(printf 'a\\nb')"` exits 2, writes nothing."""
    run = coach("config", "set", "model", "a\nb")
    assert run.exit_code == 2
    assert "model" in error_line(run.stderr)
    assert not file_of(home).exists()
    still_works(coach)


@pytest.mark.parametrize("key", ["debug", "home", "database_url", "nonsense", "modle"])
def test_config_set_refuses_keys_that_are_not_file_settings(coach: Any, home: Path, key: str) -> None:
    run = coach("config", "set", key, "1")
    assert run.exit_code == 2
    line = error_line(run.stderr)
    assert key in line
    assert not file_of(home).exists()


# -- config set: values round-trip ----------------------------------------------------------------

ROUND_TRIPS = [
    ("api_base", 'http://höst/"x"\\y'),
    ("api_base", "https://example.org/v1?tag='quoted'&path=C:\\dir"),
    ("model", 'openai/"quoted"\\back\\slash'),
    ("model", "openai/модель-日本語"),
    ("user", "ana.o@home"),
    ("context_tokens", "32000"),
    ("timeout", "2.5"),
    ("retries", "0"),
    ("retry_delay", "0"),
    ("worker", "off"),
    ("worker_idle", "30s"),
    ("checkin_every", "2w"),
    ("monthly_budget_usd", "12.5"),
]


@pytest.mark.parametrize(("key", "value"), ROUND_TRIPS, ids=[k for k, _ in ROUND_TRIPS])
def test_values_round_trip_through_config_show(
    coach: Any, home: Path, monkeypatch: pytest.MonkeyPatch, key: str, value: str
) -> None:
    """Quotes, backslashes and non-ASCII text come back exactly; every command still works after."""
    monkeypatch.delenv(config.BY_NAME[key].env, raising=False)  # so the file's value is the one shown
    run = coach("config", "set", key, value)
    assert run.exit_code == 0, run.stderr
    entry = shown(coach)[key]
    assert entry["source"] == "config.toml"
    assert str(entry["value"]) == value
    still_works(coach)


def test_config_show_prints_values_literally(coach: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A model name that looks like Rich markup is printed as typed (it once broke `config show`)."""
    monkeypatch.delenv("COACH_WORKER", raising=False)
    assert coach("config", "set", "model", "openai/[/x][bold]m").exit_code == 0
    run = coach("config", "show")
    assert run.exit_code == 0, run.stderr
    lines = {line.split()[0]: line for line in run.stdout.splitlines()[1:]}
    assert "openai/[/x][bold]m" in lines["model"] and "(config.toml)" in lines["model"]
    assert "auto" in lines["worker"] and "(default)" in lines["worker"]
    assert "false" in lines["debug"]


def test_config_file_is_written_by_tomli_w_with_mode_0600(coach: Any, home: Path) -> None:
    """The file parses as TOML with the exact values, is private, and leaves no temp file behind."""
    import tomllib

    assert coach("config", "set", "api_base", 'http://höst/"x"\\y').exit_code == 0
    assert coach("config", "set", "context_tokens", "32000").exit_code == 0
    assert coach("config", "set", "checkin_every", "1h30m").exit_code == 0
    data = tomllib.loads(file_of(home).read_text(encoding="utf-8"))
    assert data == {"api_base": 'http://höst/"x"\\y', "context_tokens": 32000, "checkin_every": "90m"}
    assert stat.S_IMODE(file_of(home).stat().st_mode) == 0o600
    assert [p.name for p in home.iterdir() if p.name.startswith(".")] == []


def test_a_symlinked_config_file_stays_a_symlink(coach: Any, home: Path, tmp_path: Path) -> None:
    """Dotfile managers link config.toml elsewhere: the link's target is rewritten, not the link."""
    home.mkdir(parents=True, exist_ok=True)
    target = tmp_path / "dotfiles" / "coach.toml"
    target.parent.mkdir()
    target.write_text('model = "openai/a"\n', encoding="utf-8")
    file_of(home).symlink_to(target)
    assert coach("config", "set", "model", "openai/b").exit_code == 0
    assert file_of(home).is_symlink()
    assert 'model = "openai/b"' in target.read_text(encoding="utf-8")


def test_unset_removes_a_value_and_says_when_there_was_none(coach: Any, home: Path) -> None:
    assert coach("config", "set", "retries", "5").exit_code == 0
    assert shown(coach)["retries"] == {"value": 5, "source": "config.toml"}
    run = coach("config", "unset", "retries")
    assert run.exit_code == 0 and "unset" in run.stdout
    assert shown(coach)["retries"] == {"value": 2, "source": "default"}
    again = coach("config", "unset", "retries")
    assert again.exit_code == 0 and "was not set" in again.stdout
    assert coach("config", "unset", "nonsense").exit_code == 2


# -- precedence and sources ------------------------------------------------------------------------


def test_show_lists_every_key_with_its_source(coach: Any) -> None:
    document = shown(coach)
    assert list(document) == [key.name for key in config.KEYS]
    for entry in document.values():
        assert set(entry) == {"value", "source"}
    assert document["timeout"] == {"value": 10, "source": "env COACH_TIMEOUT"}  # set by conftest
    assert document["retries"] == {"value": 2, "source": "default"}
    assert document["worker_idle"] == {"value": "15m", "source": "default"}
    assert document["checkin_every"] == {"value": "1d", "source": "default"}
    assert document["monthly_budget_usd"] == {"value": None, "source": "default"}


def test_precedence_flag_then_env_then_file_then_default(coach: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("COACH_USER")
    assert coach("config", "set", "user", "from-file").exit_code == 0
    monkeypatch.setenv("COACH_USER", "from-env")
    run = coach("--user", "from-flag", "config", "show", "--json")
    assert run.json()["user"] == {"value": "from-flag", "source": "flag --user"}
    assert shown(coach)["user"] == {"value": "from-env", "source": "env COACH_USER"}
    monkeypatch.delenv("COACH_USER")
    assert shown(coach)["user"] == {"value": "from-file", "source": "config.toml"}
    assert coach("config", "unset", "user").exit_code == 0
    assert shown(coach)["user"]["source"] == "login name"


def test_set_says_when_a_variable_still_wins(coach: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_MODEL", "openai/env-model")
    run = coach("config", "set", "model", "openai/file-model")
    assert run.exit_code == 0
    assert "COACH_MODEL" in run.stderr


def test_resolve_types_every_setting(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Commands get typed values: durations as timedelta, numbers as numbers."""
    monkeypatch.setenv("COACH_WORKER_IDLE", "30s")
    monkeypatch.setenv("COACH_CHECKIN_EVERY", "12h")
    monkeypatch.setenv("COACH_RETRIES", "0")
    monkeypatch.setenv("COACH_MONTHLY_BUDGET_USD", "20")
    monkeypatch.setenv("COACH_DEBUG", "yes")
    monkeypatch.delenv("COACH_WORKER", raising=False)
    settings = config.resolve(model="openai/flagged")
    assert settings.worker_idle == timedelta(seconds=30)
    assert settings.checkin_every == timedelta(hours=12)
    assert settings.retries == 0 and isinstance(settings.retries, int)
    assert settings.monthly_budget_usd == 20.0
    assert settings.timeout == 10.0 and settings.retry_delay == 0.01
    assert settings.debug is True
    assert settings.worker == "auto"
    assert (settings.model, settings.sources["model"]) == ("openai/flagged", "flag --model")


# -- COACH_* variables are validated where settings resolve --------------------------------------

BAD_ENV = [
    ("COACH_RETRY_DELAY", "-1"),
    ("COACH_RETRY_DELAY", "nan"),
    ("COACH_TIMEOUT", "-5"),
    ("COACH_TIMEOUT", "inf"),
    ("COACH_RETRIES", "abc"),
    ("COACH_WORKER", "maybe"),
    ("COACH_CHECKIN_EVERY", "soon"),
    ("COACH_WORKER_IDLE", "-15m"),
    ("COACH_CONTEXT_TOKENS", "lots"),
    ("COACH_MONTHLY_BUDGET_USD", "-1"),
    ("COACH_DEBUG", "maybe"),
    ("COACH_USER", "bad handle!"),
    ("COACH_USER", "planner\n"),
    ("COACH_MODEL", "a\nb"),
    ("COACH_API_BASE", "not a url"),
]


@pytest.mark.parametrize(("name", "value"), BAD_ENV, ids=[f"{n}={v!r}" for n, v in BAD_ENV])
def test_bad_environment_values_exit_2_naming_the_variable(
    coach: Any, monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)
    run = coach("facts", "list")
    assert run.exit_code == 2
    assert name in error_line(run.stderr)
    # `config show` still runs, and reports the bad variable as the key's error
    entry = shown(coach)[name.removeprefix("COACH_").lower()]
    assert entry["value"] is None and name in entry["error"]


def test_bad_flag_values_name_the_flag(coach: Any, model_env: ScriptedServer) -> None:
    run = coach("--user", "bad handle!", "facts", "list")
    assert run.exit_code == 2
    assert "--user" in error_line(run.stderr)
    run = coach("chat", "hello", "--model", "a\nb")
    assert run.exit_code == 2
    assert "--model" in error_line(run.stderr)
    run = coach("chat", "hello", "--api-base", "ftp://x")
    assert run.exit_code == 2
    assert "--api-base" in error_line(run.stderr)
    assert model_env.requests == []


def test_all_problems_are_counted_and_the_first_is_named(coach: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COACH_TIMEOUT", "-5")
    monkeypatch.setenv("COACH_RETRIES", "abc")
    line = error_line(coach("facts", "list").stderr)
    assert "COACH_TIMEOUT" in line and "1 more" in line


# -- a config.toml broken by hand ------------------------------------------------------------------

BROKEN_FILES: list[tuple[str, bytes, str, str]] = [
    # (id, file contents, words the error must hold, key whose unset repairs it)
    ("newline-in-string", b'model = "a\nb"\ntimeout = 30\n', "line 1", "model"),
    ("not-utf8", b'timeout = 30\nmodel = "caf\xe9"\n', "line 2", "model"),
    ("not-toml", b"timeout = 30\nuser = tester two\n", "line 2", "user"),
    ("wrong-type", b'context_tokens = "lots"\n', "context_tokens", "context_tokens"),
    ("bad-handle", b'user = "bad handle!"\n', "user", "user"),
    ("unknown-key", b'modle = "openai/x"\n', "modle", "modle"),
    ("table", b'[model]\nname = "x"\n', "model", "model"),
    ("negative", b"retry_delay = -1\n", "retry_delay", "retry_delay"),
    ("nan", b"timeout = nan\n", "timeout", "timeout"),
    ("bool-as-number", b"retries = true\n", "retries", "retries"),
]


@pytest.mark.parametrize(
    ("contents", "words", "key"), [b[1:] for b in BROKEN_FILES], ids=[b[0] for b in BROKEN_FILES]
)
def test_a_broken_config_file_is_named_and_can_be_repaired(
    coach: Any, home: Path, contents: bytes, words: str, key: str
) -> None:
    """Every command fails with one line naming the file; `config show` still runs and
    `config unset KEY` repairs it, after which everything works again."""
    home.mkdir(parents=True, exist_ok=True)
    file_of(home).write_bytes(contents)
    run = coach("facts", "list")
    assert run.exit_code == 2
    line = error_line(run.stderr)
    assert str(file_of(home)) in line and words in line
    assert f"coach config unset {key}" in line or f"coach config set {key}" in line
    show = coach("config", "show", "--json")
    assert show.exit_code == 0 and show.json()["checkin_every"]["value"] == "1d"
    assert "Warning:" in show.stderr
    fixed = coach("config", "unset", key)
    assert fixed.exit_code == 0, fixed.stderr
    still_works(coach)


def test_set_repairs_the_broken_key_it_sets(coach: Any, home: Path) -> None:
    """The file an older coach wrote (a raw newline in a string) is fixed by setting that key anew."""
    home.mkdir(parents=True, exist_ok=True)
    file_of(home).write_bytes(b'# mine\nmodel = "a\nb"\ntimeout = 30\n')
    run = coach("config", "set", "model", MODEL)
    assert run.exit_code == 0, run.stderr
    assert shown(coach)["model"] == {"value": MODEL, "source": "config.toml"}
    assert shown(coach)["timeout"]["value"] == 10  # COACH_TIMEOUT wins; the file's 30 is kept
    import tomllib

    assert tomllib.loads(file_of(home).read_text(encoding="utf-8")) == {"model": MODEL, "timeout": 30}


def test_set_of_another_key_on_a_broken_file_writes_nothing_and_says_what_to_do(
    coach: Any, home: Path
) -> None:
    home.mkdir(parents=True, exist_ok=True)
    file_of(home).write_bytes(b'model = "a\nb"\n')
    run = coach("config", "set", "timeout", "5")
    assert run.exit_code == 2
    assert "coach config unset model" in error_line(run.stderr)
    assert file_of(home).read_bytes() == b'model = "a\nb"\n'


def test_wrong_type_in_file_is_shown_as_that_keys_error(coach: Any, home: Path) -> None:
    home.mkdir(parents=True, exist_ok=True)
    file_of(home).write_text('context_tokens = "lots"\n', encoding="utf-8")
    entry = shown(coach)["context_tokens"]
    assert entry["value"] is None and entry["source"] == "config.toml"
    assert "config.toml key context_tokens" in entry["error"] and "line 1" in entry["error"]


def test_a_shadowed_bad_file_value_is_still_reported(
    coach: Any, home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COACH_USER wins over the file, but a bad `user` in the file is not left lying in wait."""
    home.mkdir(parents=True, exist_ok=True)
    file_of(home).write_text('user = "bad handle!"\n', encoding="utf-8")
    line = error_line(coach("facts", "list").stderr)
    assert "config.toml key user" in line


# -- durations -------------------------------------------------------------------------------------


DURATIONS = {
    "30s": timedelta(seconds=30),
    "15m": timedelta(minutes=15),
    "12h": timedelta(hours=12),
    "1d": timedelta(days=1),
    "7d": timedelta(days=7),
    "2w": timedelta(weeks=2),
    "1h30m": timedelta(minutes=90),
    " 1.5H ": timedelta(minutes=90),
    "0s": timedelta(0),
}
NOT_DURATIONS = ["", "soon", "15", "m", "-5m", "5 minutes", "1y", "1e3s", "99999999w", "1d\n2"]


def test_parse_duration_reads_the_documented_forms_and_nothing_else() -> None:
    for text, expected in DURATIONS.items():
        assert config.parse_duration(text) == expected, text
        assert config.parse_duration(config.format_duration(expected)) == expected, text
    for text in NOT_DURATIONS:
        with pytest.raises(UsageError) as caught:
            config.parse_duration(text)
        assert "\n" not in str(caught.value), text


def test_format_duration_picks_the_largest_exact_unit() -> None:
    assert config.format_duration(timedelta(days=14)) == "2w"
    assert config.format_duration(timedelta(hours=36)) == "36h"
    assert config.format_duration(timedelta(minutes=90)) == "90m"
    assert config.format_duration(timedelta(seconds=2.5)) == "2.5s"


# -- credentials in URLs ---------------------------------------------------------------------------

PASSWORD = "hunter2-very-secret"


def test_url_credentials_never_reach_stderr_or_the_store(
    coach: Any, model_env: ScriptedServer, store: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A 401 with `--api-base http://bob:PASSWORD@host/v1`: not in the error, not in the stored
    dispatch error, not in `dispatches list --json`, not in `config show`."""
    model_env.default = error(401, f"Unauthorized for http://bob:{PASSWORD}@127.0.0.1/v1")
    api_base = model_env.url.replace("http://", f"http://bob:{PASSWORD}@")
    run = coach("dispatch", "Plan my week", "--agent", "planner", "--api-base", api_base, "--json")
    assert run.exit_code == 1
    assert model_env.requests, "the request was never sent"
    assert PASSWORD not in run.stderr and PASSWORD not in run.stdout
    assert "bob:***@" in run.stderr
    assert run.json()["status"] == "failed" and run.json()["error"]
    listed = coach("dispatches", "list", "--json")
    assert PASSWORD not in listed.stdout
    assert PASSWORD not in _stored_dispatch_errors(store)
    monkeypatch.setenv("COACH_API_BASE", api_base)
    assert PASSWORD not in coach("config", "show").stdout
    assert PASSWORD not in coach("config", "show", "--json").stdout


def _stored_dispatch_errors(store: Any) -> str:
    from sqlalchemy import text

    with store.read_session() as session:
        errors = [row[0] or "" for row in session.execute(text("SELECT error FROM dispatches"))]
    assert errors, "no dispatch was stored"
    return "\n".join(errors)


def test_database_url_password_is_masked_by_db_path(coach: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`db path` shows a server URL without its password (through the shared redact())."""
    from coachcli.redact import redact

    url = f"postgresql+psycopg://coach:{PASSWORD}@db.example.org/coach"
    assert redact(url) == "postgresql+psycopg://coach:***@db.example.org/coach"
    settings = config.resolve(db=url)
    assert settings.sources["database_url"] == "flag --db"
    assert PASSWORD not in str(config.plain(settings.database_url))


SECRETS_IN_TEXT = [
    f"http://bob:{PASSWORD}@host/v1",
    f"https://user:{PASSWORD}@host:8443/x?y=1",
    f"url 'http://bob:{PASSWORD}@h/v1/chat' failed",
    f"http://h/v1?api_key={PASSWORD}&x=1",
    f"GET /v1?token={PASSWORD}",
    f"Authorization: Bearer {PASSWORD}",
    f"x-api-key: {PASSWORD}",
    "key sk-proj-Zq8sEcReTkEy77xhunter2 rejected",
    "sk-ant-api03-hunter2hunter2hunter2",
    "AIzaSyhunter2hunter2hunter2hunter2hunt",
]


def test_redact_masks_every_secret_shape() -> None:
    from coachcli.redact import redact

    for text in SECRETS_IN_TEXT:
        masked = redact(text)
        assert "hunter2" not in masked and "***" in masked, text


def test_redact_masks_secret_environment_values(monkeypatch: pytest.MonkeyPatch) -> None:
    from coachcli.redact import redact

    monkeypatch.setenv("MY_PROXY_TOKEN", "zz-not-a-known-shape-42")
    assert redact("echoed zz-not-a-known-shape-42 back") == "echoed *** back"
    assert (
        redact('http://höst/"x"\\y and sqlite:////tmp/a.db') == 'http://höst/"x"\\y and sqlite:////tmp/a.db'
    )


def test_internal_errors_are_redacted_too(coach: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """CoachGroup masks secrets in whatever it prints, even an unexpected exception's text."""

    def boom(value: object) -> object:
        raise RuntimeError(f"failed talking to http://bob:{PASSWORD}@host/v1")

    monkeypatch.setattr("coachcli.cli.config_cmd.config.plain", boom)
    run = coach("config", "show", "--json")
    assert run.exit_code == 1
    assert PASSWORD not in run.stderr and "bob:***@" in error_line(run.stderr)


def test_start_up_reads_no_toml_library_without_a_file(tmp_path: Path) -> None:
    """config is imported by every command: no tomllib/tomli_w unless a file is read or written."""
    import subprocess
    import sys

    code = (
        "import sys; from coachcli import config; config.resolve(); "
        "print(sorted(m for m in ('tomllib', 'tomli_w') if m in sys.modules))"
    )
    env = {**os.environ, "COACH_HOME": str(tmp_path / "empty")}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True)
    assert out.stdout.strip() == "[]"
