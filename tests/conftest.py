"""Shared fixtures: an isolated coach home per test, a scripted model server, and a CLI runner."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

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
    if os.environ.get("COACH_TEST_DATABASE_URL"):
        monkeypatch.setenv("COACH_DATABASE_URL", os.environ["COACH_TEST_DATABASE_URL"])
    return home


@pytest.fixture
def home(isolated_env: Path) -> Path:
    return isolated_env


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
