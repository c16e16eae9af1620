"""A second adversarial pass (issue 10, "tried again with new variations"): odd database URLs,
settings written at the same time, and other classes found after the first round of fixes. Each
test tries several members of its class and asserts a clean result or one `Error:` line."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from test_hostile import assert_clean

from coachcli import config_file


@pytest.mark.sqlite_only
@pytest.mark.parametrize(
    "url",
    ["sqlite:///x%00.db", "sqlite:///%00", "sqlite:////tmp/a%00b/coach.db", "sqlite:///file:x%00?uri=true"],
)
def test_a_nul_in_a_sqlite_file_name_is_a_usage_error(coach: Any, home: Path, url: str) -> None:
    """A percent-escaped NUL decodes into the file name; the OS refuses it, so must we (exit 2)."""
    for command in (("facts", "list"), ("facts", "add", "x"), ("db", "path"), ("db", "check")):
        run = coach("--db", url, *command)
        assert_clean(run, 2)
        assert "NUL" in run.stderr


def test_settings_written_at_the_same_time_all_land(home: Path) -> None:
    """`config set` is a read-modify-write of one file: racing writers of different keys must not
    drop each other's key (each writer reported success)."""
    path = home / "config.toml"
    keys = [f"key_{n}" for n in range(12)]
    start = threading.Barrier(len(keys))

    def writer(key: str) -> None:
        start.wait()
        for round_ in range(5):
            config_file.update(path, key, f"{key}-{round_}")

    threads = [threading.Thread(target=writer, args=(key,)) for key in keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert config_file.read(path).values == {key: f"{key}-4" for key in keys}


def test_config_set_of_several_keys_through_the_cli_keeps_them_all(coach: Any, home: Path) -> None:
    for key, value in (("model", "openai/m1"), ("api_base", "http://h/v1"), ("context_tokens", "4001")):
        assert_clean(coach("config", "set", key, value))
    assert_clean(coach("config", "unset", "api_base"))
    assert set(config_file.read(home / "config.toml").values) == {"model", "context_tokens"}
