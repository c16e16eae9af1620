"""Everything of one user, out (`coach export`) and back in (`coach import`).

The JSON format (DESIGN.md, "Recall, export and import") is written and read as a stream:
rows leave the store in batches and messages enter it in batches, so the size of a history
never decides how much memory an export or import takes.
"""

from __future__ import annotations

FORMAT = "coachcli-export"
VERSION = 1
