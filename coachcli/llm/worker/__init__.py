"""A per-user model worker: one background process keeps litellm imported and serves model calls.

Commands hand it their model call over a Unix socket instead of paying `import litellm` each time
(issue 13). It holds no keys between calls and writes nothing to the store; any failure falls back
to the in-process call. Modules: `options` (settings), `paths` (where the socket lives), `protocol`
(frames, identity), `server` (the worker), `spawn` (start/stop/status), `channel` (a connection
from a command), `route` (what LLMClient asks), `calls` (how the worker runs one call).
"""

from coachcli.llm.worker.options import WorkerOptions

__all__ = ["WorkerOptions"]
