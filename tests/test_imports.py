"""Commands that call no model stay fast: they never import litellm, Alembic or a PostgreSQL driver."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HEAVY = ("litellm", "alembic", "psycopg", "psycopg2")

# Installed before main(): reports what was imported however the command exits (sys.exit included).
_RUNNER = """
import atexit, json, os, sys

def _report():
    loaded = set(sys.modules) | {m.split(".")[0] for m in sys.modules}
    heavy = sorted(loaded & set(json.loads(os.environ["HEAVY"])))
    with open(os.environ["IMPORT_REPORT"], "w") as handle:
        json.dump(heavy, handle)

atexit.register(_report)
sys.argv = ["coach", *json.loads(os.environ["COACH_ARGS"])]
from coachcli.cli.app import main
main()
"""


def run_coach(
    home: Path, tmp_path: Path, *args: str, watch: tuple[str, ...] = HEAVY
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run `coach ARGS` in a fresh interpreter; return the process and which of the `watch`
    modules (packages, or full module names) it loaded."""
    report = tmp_path / "imports.json"
    report.unlink(missing_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("COACH_") and k != "PYTHONPATH"}
    env.update(
        PYTHONPATH=str(REPO),
        COACH_HOME=str(home),
        COACH_USER="tester",
        COACH_ARGS=json.dumps(list(args)),
        IMPORT_REPORT=str(report),
        HEAVY=json.dumps(watch),
    )
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        stdin=subprocess.DEVNULL,
    )
    assert report.exists(), proc.stderr
    return proc, json.loads(report.read_text())


@pytest.fixture(scope="module")
def migrated_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home whose database a first command already created (and so migrated, with Alembic)."""
    tmp_path = tmp_path_factory.mktemp("imports")
    home = tmp_path / "home"
    proc, heavy = run_coach(home, tmp_path, "facts", "add", "Prefers morning workouts")
    assert proc.returncode == 0, proc.stderr
    assert "alembic" in heavy  # the first run migrates: proves the probe sees imports
    assert "litellm" not in heavy
    return home


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "args",
    [
        ("tasks", "list"),
        ("tasks", "list", "--json"),
        ("facts", "list"),
        ("facts", "list", "--json"),
        ("agents", "list"),
        ("agents", "show", "planner"),
        ("reset", "--yes"),
        ("--help",),
        ("tasks", "--help"),
        ("dispatches", "list", "--json"),
        ("chat", "--help"),  # the help of a model command does not need the model client
        ("dispatch", "--help"),
        ("tasks", "show", "ffff"),  # an error path too
        ("dispatches", "approve", "ffffffff", "--json"),  # a model command failing before any call
        ("history",),
        ("config", "show", "--json"),
        ("search", "morning workouts", "--json"),
        ("memory", "--json"),
        ("goals", "list", "--json"),
        ("status", "--json"),
        ("checkin", "--if-due", "--json"),  # nothing to check in on yet: no model call
        ("usage", "--json"),
        ("export",),
        ("worker", "status", "--json"),
        ("version",),
    ],
    ids=lambda a: " ".join(a),
)
def test_non_model_commands_import_nothing_heavy(migrated_home: Path, tmp_path: Path, args) -> None:
    """`import litellm` costs seconds; these commands must not pay it (nor Alembic's or psycopg's)."""
    proc, heavy = run_coach(migrated_home, tmp_path, *args)
    if args[0] == "checkin":
        assert '"skipped": true' in proc.stdout
    expected_code = 1 if args[:2] in (("tasks", "show"), ("dispatches", "approve")) else 0
    assert proc.returncode == expected_code, proc.stderr
    assert "Traceback" not in proc.stderr
    assert heavy == []


@pytest.mark.sqlite_only
def test_help_on_a_fresh_machine_imports_nothing_heavy(home: Path, tmp_path: Path) -> None:
    """`coach --help` is the first command a new user runs: no database, no Alembic, no litellm."""
    proc, heavy = run_coach(home, tmp_path, "--help")
    assert proc.returncode == 0 and "Usage" in proc.stdout
    assert heavy == []
    assert not home.exists()


@pytest.mark.sqlite_only
def test_import_of_a_file_imports_nothing_heavy(migrated_home: Path, tmp_path: Path) -> None:
    """`coach import` writes rows, no model: it must not load litellm (nor Alembic on a current store)."""
    export = tmp_path / "export.json"
    export.write_text(
        '{"format": "coachcli-export", "version": 1, "facts": [{"text": "Swims on Fridays"}]}',
        encoding="utf-8",
    )
    proc, heavy = run_coach(migrated_home, tmp_path, "import", str(export), "--json")
    assert proc.returncode == 0, proc.stderr
    assert '"facts": 1' in proc.stdout
    assert heavy == []


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "args", [("tasks", "list"), ("search", "morning workouts"), ("search", "knee physio", "--json")]
)
def test_listing_and_search_load_no_orm_models(migrated_home: Path, tmp_path: Path, args) -> None:
    """The ORM models take longer to import than these commands take to run; their start-up is
    measured against each other (`make bench`), so both read with plain SQL."""
    proc, loaded = run_coach(migrated_home, tmp_path, *args, watch=("coachcli.store.models",))
    assert proc.returncode == 0, proc.stderr
    assert loaded == []
    control, loaded = run_coach(migrated_home, tmp_path, "facts", "list", watch=("coachcli.store.models",))
    assert control.returncode == 0 and loaded == ["coachcli.store.models"]  # the probe sees them
