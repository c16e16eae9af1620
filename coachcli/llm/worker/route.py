"""What an LLMClient asks the worker. Every method returns None for "do it in this process":
the worker is off, cannot be reached, cannot serve this provider, or died before answering.

Once the worker failed, this process stops asking it (one dim line under COACH_DEBUG says why).
A worker from another coachcli or Python is stopped and a fresh one started. If it dies after
text was shown, the reply is a broken stream, exactly as when the provider's stream breaks.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from coachcli.errors import MissingCredentialsError, ProviderError
from coachcli.llm.types import Completion, ReplyInterrupted, StreamBroken
from coachcli.llm.worker import spawn
from coachcli.llm.worker.channel import Channel, WorkerGone, WorkerUnavailable
from coachcli.llm.worker.options import WorkerOptions
from coachcli.llm.worker.paths import WorkerPaths, worker_paths
from coachcli.llm.worker.protocol import completion_from_wire
from coachcli.redact import redact

if TYPE_CHECKING:
    from coachcli.config import Settings

# How long a command waits for one frame: the worker's first frame may wait for litellm's import,
# and later ones for the provider (which has its own timeout, retries included, in the worker).
FRAME_SLACK = 120.0

_routes: dict[WorkerOptions, WorkerRoute] = {}
_routes_lock = threading.Lock()


def route_for(options: WorkerOptions) -> WorkerRoute:
    """One route per set of options in this process (shared by all its clients)."""
    with _routes_lock:
        if options not in _routes:
            _routes[options] = WorkerRoute(options)
        return _routes[options]


def worker_or_preload(settings: Settings) -> bool:
    """For the REPL: use a worker that is already running; otherwise import litellm here, in the
    background, and make this process's calls here. True when the worker will serve."""
    options = WorkerOptions.from_settings(settings)
    route = route_for(options)
    paths = worker_paths(options.home, create=False) if options.enabled else None
    if paths is not None and spawn.status(paths) is not None:
        return True
    route.disable("no worker was running when the REPL started; litellm loads here", quiet=True)
    from coachcli.llm.loader import preload_in_background

    preload_in_background()
    return False


class WorkerRoute:
    def __init__(self, options: WorkerOptions) -> None:
        self.options = options
        self._lock = threading.Lock()
        self._channel: Channel | None = None  # kept open for the small requests
        self._disabled = not options.enabled
        self._paths: WorkerPaths | None = None
        self._needs: dict[tuple[str, str | None], list[str] | None] = {}
        self._start: spawn.Start | None = None

    def prestart(self) -> None:
        """Launch the worker now if none runs (without waiting), so it loads litellm while the
        command does its own work; the first request waits for it."""
        if self._disabled or self.options.mode != "auto" or self._start is not None:
            return
        paths = self._worker_paths()
        if paths is not None:
            self._start = spawn.Start(paths, self.options.idle_seconds)
            self._start.begin()

    # -- what LLMClient asks -------------------------------------------------------------------

    def environment_check(self, model: str, api_base: str | None) -> dict[str, Any] | None:
        """litellm's validate_environment, answered from the worker and this environment."""
        names = self._variables(model, api_base)
        if names is None:
            return None
        keys = [name for name in names if name.endswith("_KEY") or "TOKEN" in name]
        present = not keys or any(os.environ.get(name) for name in keys)
        return {"keys_in_environment": present, "missing_keys": [] if present else keys}

    def model_info(self, model: str) -> dict[str, Any] | None:
        answer = self._small({"op": "info", "model": model})
        return dict(answer["info"]) if answer and isinstance(answer.get("info"), dict) else None

    def count_each(self, model: str, batches: list[list[dict[str, Any]]]) -> list[int] | None:
        """The tokens of each list of messages, all in one request."""
        answer = self._small({"op": "count", "model": model, "batches": batches})
        counts = answer.get("counts") if answer else None
        if not isinstance(counts, list) or len(counts) != len(batches):
            return None
        if not all(isinstance(count, int) for count in counts):
            return None
        return [int(count) for count in counts]

    def complete(self, request: dict[str, Any], on_text: Callable[[str], None] | None) -> Completion | None:
        """One call through the worker (request: model, api_base, api_key, timeout, retries,
        retry_delay, messages, tools, max_tokens); None when it should be made in-process."""
        names = self._variables(str(request["model"]), request.get("api_base"))
        if names is None:
            return None
        env = {name: os.environ[name] for name in names if os.environ.get(name)}  # as of now
        channel = self._open()
        if channel is None:
            return None
        shown: list[str] = []
        wait = float(request["timeout"]) * (int(request["retries"]) + 1) + FRAME_SLACK
        message = {"op": "call", **request, "env": env, "stream": on_text is not None}
        try:
            for frame in channel.frames(message, timeout=wait):
                op = frame.get("op")
                if op == "text":
                    piece = str(frame.get("text") or "")
                    shown.append(piece)
                    if on_text is not None:
                        on_text(piece)
                elif op == "done":
                    return completion_from_wire(frame["completion"])
                elif op == "error":
                    return self._failed(frame, shown, request)
                elif op == "unsupported" and not shown:  # this model's calls go in-process
                    self._needs[(str(request["model"]), request.get("api_base"))] = None
                    return None
                else:  # anything unexpected: in-process, unless text was shown
                    self._lost(f"the worker answered {op!r}", shown, request)
                    return None
        except KeyboardInterrupt:
            channel.close()  # the worker sees the connection go and stops the call
            if on_text is None:
                raise
            raise ReplyInterrupted(_partial(shown, request)) from None
        except WorkerGone as exc:
            self._lost(f"the worker went away ({exc})", shown, request)
            return None
        finally:
            channel.close()
        return None

    def disable(self, reason: str, *, quiet: bool = False) -> None:
        with self._lock:
            if self._disabled:
                return
            self._disabled = True
            if self._channel is not None:
                self._channel.close()
                self._channel = None
        if not quiet:
            self._note(reason)

    # -- how --------------------------------------------------------------------------------

    def _variables(self, model: str, api_base: str | None) -> list[str] | None:
        """The provider variables this call reads (asked once per model); None: in-process."""
        key = (model, api_base)
        if key not in self._needs:
            answer = self._small({"op": "needs", "model": model, "api_base": api_base})
            names = answer.get("names") if answer and answer.get("op") == "needs" else None
            self._needs[key] = [str(n) for n in names] if isinstance(names, list) else None
        return self._needs[key]

    def _failed(self, frame: dict[str, Any], shown: list[str], request: dict[str, Any]) -> Completion | None:
        """A call's error frame, raised as the error the in-process call would raise."""
        kind = frame.get("kind")
        text = redact(str(frame.get("message") or "the model call failed"))
        if kind == "provider":
            raise ProviderError(text)
        if kind == "missing_credentials":
            raise MissingCredentialsError(text)
        if kind == "broken":
            partial = frame.get("partial")
            raise StreamBroken(
                text, partial=completion_from_wire(partial) if partial else _partial(shown, request)
            )
        self._lost(f"the worker failed ({redact(str(kind))}: {text})", shown, request)
        return None

    def _lost(self, reason: str, shown: list[str], request: dict[str, Any]) -> None:
        """The worker is gone or failed: in-process if nothing was shown, else a broken stream."""
        if shown:
            raise StreamBroken.midway(_partial(shown, request))
        self.disable(reason)
        return None

    def _small(self, request: dict[str, Any]) -> dict[str, Any] | None:
        """A short request on the kept-open channel (re-opened once if the worker had exited)."""
        for attempt in range(2):
            with self._lock:
                channel = self._channel
                self._channel = None
            reused = channel is not None
            if channel is None:
                channel = self._open()
                if channel is None:
                    return None
            try:
                answer = channel.ask(request, timeout=FRAME_SLACK)
            except WorkerGone as exc:
                channel.close()
                if reused and attempt == 0:
                    continue  # it may have exited while idle: connect again
                self.disable(f"the worker went away ({exc})")
                return None
            with self._lock:
                if self._channel is None:
                    self._channel = channel
                else:
                    channel.close()
            if answer.get("op") in ("unsupported", "error"):
                return None
            return answer
        return None

    def _open(self) -> Channel | None:
        """A connection to a worker that runs this very code, starting one when allowed."""
        if self._disabled:
            return None
        paths = self._worker_paths()
        if paths is None:
            return None
        for _ in range(2):
            try:
                channel = Channel.open(paths.socket)
            except WorkerUnavailable as exc:
                if self.options.mode != "auto" or not self._started(paths):
                    self.disable(f"cannot reach the worker ({exc})")
                    return None
                continue
            if channel.matches():
                return channel
            # Another coachcli, code or Python: stop it (it finishes its own calls) and start ours.
            with contextlib.suppress(WorkerGone):
                channel.ask({"op": "stop"}, timeout=5.0)
            channel.close()
            if self.options.mode != "auto" or not self._started(paths):
                self.disable("the running worker is from another coachcli or Python")
                return None
        self.disable("the worker did not answer")
        return None

    def _worker_paths(self) -> WorkerPaths | None:
        if self._paths is None:
            self._paths = worker_paths(self.options.home)
            if self._paths is None:
                self.disable("no private folder for the worker's socket")
        return self._paths

    def _started(self, paths: WorkerPaths) -> bool:
        """Finish the start begun by `prestart`, or start a worker now."""
        starting, self._start = self._start, None
        if starting is None:
            return spawn.ensure_running(paths, self.options.idle_seconds)
        return starting.finish()

    def _note(self, reason: str) -> None:
        if not self.options.debug:
            return
        line = f"coach: model worker not used: {reason}; calling the model in this process"
        if sys.stderr.isatty():
            line = f"\x1b[2m{line}\x1b[0m"
        print(line, file=sys.stderr, flush=True)


def _partial(shown: list[str], request: dict[str, Any]) -> Completion:
    return Completion(content="".join(shown), model=str(request["model"]), finish_reason="interrupted")
