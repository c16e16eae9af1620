"""The test command: the whole suite on SQLite, then again on a throwaway PostgreSQL server.

Locally, without PostgreSQL binaries, the second half is skipped with its reason; under CI
(CI=true) that is a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from pg_server import PgServer


def pytest(args: list[str], env: dict[str, str]) -> int:
    return subprocess.call([sys.executable, "-m", "pytest", *args], env=env)


def main() -> int:
    args = sys.argv[1:]
    only = os.environ.get("COACH_TEST_ENGINES", "sqlite,postgresql").split(",")
    env = dict(os.environ)
    env.pop("COACH_TEST_DATABASE_URL", None)
    code = 0
    if "sqlite" in only:
        print("== tests on SQLite", flush=True)
        code = pytest(args, env)
    if "postgresql" not in only:
        return code
    server = PgServer()
    reason = server.available
    if reason:
        print(f"== PostgreSQL half SKIPPED: {reason}", flush=True)
        return code or (1 if os.environ.get("CI") == "true" else 0)
    try:
        url = server.start()
    except Exception as exc:
        print(f"== PostgreSQL half SKIPPED: could not start a server: {exc}", flush=True)
        return code or (1 if os.environ.get("CI") == "true" else 0)
    try:
        print(f"== tests on PostgreSQL ({url})", flush=True)
        env["COACH_TEST_DATABASE_URL"] = url
        pg_code = pytest([*args, "-m", "not sqlite_only"], env)
    finally:
        server.stop()
    return code or pg_code


if __name__ == "__main__":
    sys.exit(main())
