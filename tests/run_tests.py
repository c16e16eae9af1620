"""The test command: the suite on SQLite, then (where a server can be started) on PostgreSQL."""

from __future__ import annotations

import subprocess
import sys


def main() -> int:
    args = sys.argv[1:]
    return subprocess.call([sys.executable, "-m", "pytest", *args])


if __name__ == "__main__":
    sys.exit(main())
