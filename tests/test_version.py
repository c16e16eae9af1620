"""`coach --version [-v]` and `coach version [--verbose]` (issue 14 §3): the versions a bug report needs."""

from __future__ import annotations

import platform
import subprocess
import sys
from importlib.metadata import version
from typing import Any

import pytest

from coachcli import __version__


def test_plain_version_is_one_line(coach: Any) -> None:
    run = coach("--version")
    assert (run.exit_code, run.stdout) == (0, f"coach {__version__}\n")
    assert coach("version").stdout == f"coach {__version__}\n"


@pytest.mark.parametrize(
    "args", [("--version", "-v"), ("-v", "--version"), ("--version", "--verbose"), ("version", "--verbose")]
)
def test_verbose_version_adds_python_litellm_platform(coach: Any, args: tuple[str, ...]) -> None:
    run = coach(*args)
    assert run.exit_code == 0
    assert run.stdout.splitlines() == [
        f"coach {__version__}",
        f"Python {platform.python_version()} ({platform.python_implementation()})",
        f"litellm {version('litellm')}",
        f"Platform {platform.platform()}",
    ]


@pytest.mark.sqlite_only
def test_verbose_version_reads_litellm_metadata_without_importing_it() -> None:
    probe = (
        "import sys; sys.argv = ['coach', '--version', '-v']\n"
        "from coachcli.cli.app import main\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "print('litellm' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert done.stdout.splitlines()[-1] == "False", done.stderr
