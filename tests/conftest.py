"""Shared fixtures: an isolated coach home per test, a scripted model server, and a CLI runner."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from scripted_server import ScriptedServer

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

MODEL = "openai/scripted-model"
PROVIDER_VARS = ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "GEMINI_API_KEY", "GOOGLE_API_KEY")


@pytest.fixture(autouse=True)
def isolated_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own COACH_HOME and no COACH_*/provider settings from the machine."""
    for name in list(os.environ):
        if name.startswith("COACH_") or name in PROVIDER_VARS:
            monkeypatch.delenv(name, raising=False)
    home = tmp_path / "home"
    monkeypatch.setenv("COACH_HOME", str(home))
    monkeypatch.setenv("COACH_USER", "tester")
    monkeypatch.setenv("COACH_RETRY_DELAY", "0.01")
    monkeypatch.setenv("COACH_TIMEOUT", "10")
    monkeypatch.setenv("COACH_WORKER", "off")  # only tests/test_worker.py starts model workers
    monkeypatch.delenv("XDG_RUNTIME_DIR", raising=False)  # a worker's socket then lives under <home>
    return home


@pytest.fixture(scope="session", autouse=True)
def no_worker_left(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Model workers started by any test (a subprocess command starts one unless COACH_WORKER=off
    reaches it) are stopped when the session ends: their sockets live under the session's tmp."""
    yield
    from workers import stop_workers

    stop_workers(tmp_path_factory.getbasetemp())


@pytest.fixture(scope="session")
def pg_template() -> Iterator[str | None]:
    """On the PostgreSQL pass: a migrated template database that each test copies."""
    base = os.environ.get("COACH_TEST_DATABASE_URL")
    if not base:
        yield None
        return
    import psycopg

    from coachcli.store.engine import Store
    from coachcli.store.migrate import ensure_schema

    # One template per pytest process, so several runs can share one server.
    template = _template_name()
    admin = psycopg.connect(_libpq(base), autocommit=True)
    admin.execute(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
    admin.execute(f"CREATE DATABASE {template}")
    store = Store(_with_db(base, template))
    ensure_schema(store)
    store.dispose()
    yield base
    admin.execute(f"DROP DATABASE IF EXISTS {template} WITH (FORCE)")
    admin.close()


def _template_name() -> str:
    return f"coach_template_{os.getpid()}"


def _libpq(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://")


def _with_db(url: str, name: str) -> str:
    return url.rsplit("/", 1)[0] + "/" + name


_db_counter = iter(range(1, 1_000_000))


@pytest.fixture(autouse=True)
def database(
    pg_template: str | None, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str | None]:
    """SQLite: the file under COACH_HOME. PostgreSQL: a fresh database per test, dropped after.

    Depends on isolated_env so it runs after it: isolated_env clears every COACH_* variable, and
    pytest would otherwise set this fixture up first and the PostgreSQL pass would run on SQLite.
    """
    if pg_template is None:
        yield None
        return
    import psycopg

    name = f"coach_t{os.getpid()}_{next(_db_counter)}"
    with psycopg.connect(_libpq(pg_template), autocommit=True) as admin:
        admin.execute(f"CREATE DATABASE {name} TEMPLATE {_template_name()}")
    url = _with_db(pg_template, name)
    monkeypatch.setenv("COACH_DATABASE_URL", url)
    yield url
    with psycopg.connect(_libpq(pg_template), autocommit=True) as admin:
        admin.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def on_postgres() -> bool:
    return bool(os.environ.get("COACH_TEST_DATABASE_URL"))


@pytest.fixture
def home(isolated_env: Path) -> Path:
    return isolated_env


def plain(text: str) -> str:
    """Terminal output without its styling escapes (bold, dim)."""
    import re

    return re.sub(r"\x1b\[[0-9;]*m", "", text)


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """`terminal(columns)`: in-process commands then print as to a terminal that many columns wide
    (Rich reads TTY_COMPATIBLE and COLUMNS when the console is made; the console is cached)."""
    from coachcli.cli.output import out

    def set_width(columns: int) -> None:
        monkeypatch.setenv("TTY_COMPATIBLE", "1")
        monkeypatch.setenv("COLUMNS", str(columns))
        monkeypatch.setenv("NO_COLOR", "1")  # bold and dim remain: see plain()
        out.cache_clear()

    yield set_width
    out.cache_clear()


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as srv:
        yield srv


@pytest.fixture
def model_env(server: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> ScriptedServer:
    """Point the coach at the scripted server through the documented settings."""
    monkeypatch.setenv("COACH_API_BASE", server.url)
    monkeypatch.setenv("COACH_MODEL", MODEL)
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-scripted-key-123456")
    return server


@dataclass
class Run:
    exit_code: int
    stdout: str
    stderr: str

    def json(self) -> object:
        import json

        return json.loads(self.stdout)


def wait_for_exits(procs: Sequence[subprocess.Popen[str]], count: int, limit: float = 240) -> None:
    """Poll until `count` of `procs` have exited (a guard against hanging, not a timing assertion):
    a race test holds the winner at the model until the others have decided."""
    deadline = time.monotonic() + limit
    while sum(p.poll() is not None for p in procs) < count:
        assert time.monotonic() < deadline, f"fewer than {count} processes exited within {limit}s"
        time.sleep(0.05)


def coaching_messages(store: Any, handle: str = "tester") -> list[Any]:
    """The stored messages of the user's coaching conversation, oldest first ([] before there is one)."""
    from coachcli.coaching.conversations import find_coaching
    from coachcli.coaching.messages import list_messages
    from coachcli.coaching.users import find_user

    with store.read_session() as session:
        user = find_user(session, handle)
        coaching = find_coaching(session, user) if user else None
        return list_messages(session, coaching.id) if coaching else []


def run_cli(*args: str, prefix: list[str] | None = None, env: dict[str, str] | None = None) -> Run:
    """`coach ARGS` as its own process (where the process matters: signals, file modes, imports),
    with this test's environment (home, database, model) plus `env`; `prefix` wraps the command."""
    import subprocess

    command = [*(prefix or []), sys.executable, "-m", "coachcli", *args]
    done = subprocess.run(
        command, capture_output=True, text=True, timeout=240, env={**os.environ, **(env or {})}
    )
    return Run(done.returncode, done.stdout, done.stderr)


@pytest.fixture
def coach() -> object:
    """Invoke `coach ARGS…` in-process through Typer's CliRunner; returns a Run."""
    from typer.testing import CliRunner

    from coachcli.cli.app import app

    runner = CliRunner()

    def invoke(*args: str, input: str | None = None) -> Run:
        result = runner.invoke(app, list(args), input=input)
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return Run(result.exit_code, result.stdout, result.stderr)

    return invoke


@pytest.fixture
def store(home: Path) -> Iterator[object]:
    """A migrated store on this test's database (SQLite file, or PostgreSQL when configured)."""
    from coachcli.config import resolve
    from coachcli.store.engine import Store
    from coachcli.store.migrate import ensure_schema

    settings = resolve()
    st = Store(settings.database_url)
    ensure_schema(st)
    yield st
    st.dispose()
