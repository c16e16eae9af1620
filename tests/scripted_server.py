"""A scripted OpenAI-compatible chat-completions server for tests and benchmarks.

Why: exercising litellm's real HTTP path (httpx, SSE parsing, error mapping, timeouts)
catches integration bugs that mocking ``litellm.completion`` hides, without touching the
network beyond 127.0.0.1. Standard library only, so it also runs as a standalone process:

    python tests/scripted_server.py --port 0 --reply "hello"

Streams use HTTP/1.1 chunked transfer-encoding: an abrupt close then surfaces in httpx as an
incomplete body (an error) instead of a silently shortened but "complete" response.
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import itertools
import json
import re
import socket
import sys
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

__all__ = [
    "Reply",
    "ReplySource",
    "ScriptedServer",
    "ToolCall",
    "broken_stream",
    "error",
    "hang",
    "text",
    "tool_call",
]

_Kind = Literal["text", "error", "broken"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One scripted tool call; arguments are kept as the exact JSON string that is sent."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True, slots=True)
class Reply:
    """One scripted response. Build it with text/tool_call/error/broken_stream/hang."""

    kind: _Kind = "text"
    content: str | None = ""
    tool_calls: tuple[ToolCall, ...] = ()
    input_tokens: int = 10
    output_tokens: int = 0
    chunks: int | None = None
    delay: float = 0.0
    chunk_delay: float = 0.0
    model: str | None = None
    status: int = 200
    error_body: dict[str, Any] = field(default_factory=dict)
    headers: tuple[tuple[str, str], ...] = ()
    hold: threading.Event | None = None
    hold_after: int = 0


ReplySource = Reply | Callable[[dict[str, Any]], Reply]


def _word_count(s: str) -> int:
    return len(s.split())


def text(
    content: str,
    *,
    input_tokens: int = 10,
    output_tokens: int | None = None,
    chunks: int | None = None,
    delay: float = 0.0,
    chunk_delay: float = 0.0,
    model: str | None = None,
    hold: threading.Event | None = None,
    hold_after: int = 0,
) -> Reply:
    """A normal assistant reply; streamed ~one chunk per word unless `chunks` says otherwise.

    With `hold`, a stream sends its first `hold_after` content pieces and then waits until the
    test sets the event (or the server stops): a test sees a reply half-way without timing it.
    A reply that is not streamed is held whole."""
    return Reply(
        kind="text",
        content=content,
        input_tokens=input_tokens,
        output_tokens=_word_count(content) if output_tokens is None else output_tokens,
        chunks=chunks,
        delay=delay,
        chunk_delay=chunk_delay,
        model=model,
        hold=hold,
        hold_after=hold_after,
    )


def tool_call(
    name: str,
    arguments: dict[str, Any],
    *,
    call_id: str | None = None,
    content: str | None = None,
    more: list[tuple[str, dict[str, Any]]] | None = None,
    input_tokens: int = 10,
    output_tokens: int | None = None,
    delay: float = 0.0,
    chunk_delay: float = 0.0,
    model: str | None = None,
) -> Reply:
    """An assistant message calling one tool (plus any in `more`); finish_reason "tool_calls"."""
    calls = [ToolCall(call_id or _call_id(), name, json.dumps(arguments))]
    calls += [ToolCall(_call_id(), n, json.dumps(a)) for n, a in more or []]
    if output_tokens is None:
        output_tokens = sum(_word_count(c.arguments) + 2 for c in calls)
        output_tokens += _word_count(content or "")
    return Reply(
        kind="text",
        content=content,
        tool_calls=tuple(calls),
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        delay=delay,
        chunk_delay=chunk_delay,
        model=model,
    )


# OpenAI's own (type, code) for the common statuses, so SDK/litellm mapping sees real shapes.
_ERROR_DEFAULTS: dict[int, tuple[str, str | None]] = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    403: ("permission_error", None),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", None),
    502: ("server_error", None),
    503: ("server_error", None),
}


_CONTEXT_MESSAGE = (
    "This model's maximum context length is 8192 tokens. However, your messages resulted in "
    "9000 tokens. Please reduce the length of the messages."
)


def error(
    status: int,
    message: str = "scripted error",
    *,
    err_type: str | None = None,
    code: str | None = None,
    headers: dict[str, str] | None = None,
) -> Reply:
    """An HTTP error with an OpenAI-style body {"error": {"message", "type", "code"}}.

    litellm classifies context-window errors by message text, not by `code`, so
    code="context_length_exceeded" with the default message gets OpenAI's real wording.
    """
    if code == "context_length_exceeded" and message == "scripted error":
        message = _CONTEXT_MESSAGE
    default_type, default_code = _ERROR_DEFAULTS.get(
        status, ("invalid_request_error" if status < 500 else "server_error", None)
    )
    body = {
        "error": {
            "message": message,
            "type": err_type or default_type,
            "param": None,
            "code": code if code is not None else default_code,
        }
    }
    return Reply(
        kind="error",
        content=None,
        status=status,
        error_body=body,
        headers=tuple((headers or {}).items()),
    )


def broken_stream(partial: str, *, chunks: int = 3) -> Reply:
    """Stream `partial` in a few chunks then drop the connection (no terminator, no [DONE])."""
    return Reply(kind="broken", content=partial, chunks=chunks)


def hang(seconds: float) -> Reply:
    """Wait `seconds` before answering with an empty text reply, to trigger client timeouts."""
    return Reply(kind="text", content="", output_tokens=0, delay=seconds)


_ids = itertools.count(1)


def _call_id() -> str:
    return "call_" + uuid.uuid4().hex[:24]


def _split_words(s: str) -> list[str]:
    """Split into word pieces (with their trailing whitespace) whose join is exactly `s`."""
    pieces = re.findall(r"\s*\S+\s*", s) if s.strip() else [s]
    # findall may leave leading whitespace on the first piece; the join is still exact.
    return [p for p in pieces if p] or [s]


def _split_even(s: str, n: int) -> list[str]:
    """Split `s` into `n` contiguous non-empty pieces (fewer if `s` is shorter than `n`)."""
    n = max(1, min(n, len(s)))
    size, extra = divmod(len(s), n)
    out, pos = [], 0
    for i in range(n):
        step = size + (1 if i < extra else 0)
        out.append(s[pos : pos + step])
        pos += step
    return out


def _content_pieces(content: str, chunks: int | None) -> list[str]:
    """Streaming pieces: one per word by default, or exactly `chunks` pieces when possible."""
    if not content:
        return []
    words = _split_words(content)
    if chunks is None:
        return words
    if chunks >= len(words):
        return _split_even(content, chunks)
    per, extra = divmod(len(words), chunks)
    out, pos = [], 0
    for i in range(chunks):
        step = per + (1 if i < extra else 0)
        out.append("".join(words[pos : pos + step]))
        pos += step
    return out


class _ClientGone(Exception):
    """The client closed the connection (e.g. after its own timeout); nothing to answer."""


class _Handler(BaseHTTPRequestHandler):
    """Serves one connection; state lives on the ScriptedServer reachable via self.server."""

    protocol_version = "HTTP/1.1"
    server_version = "ScriptedOpenAI/1.0"
    timeout = 120  # reap idle keep-alive connections eventually
    server: _HTTPServer

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test and benchmark output clean."""

    def setup(self) -> None:
        super().setup()
        self.server.scripted._track(self.connection, add=True)

    def finish(self) -> None:
        try:
            with contextlib.suppress(OSError):
                super().finish()
        finally:
            self.server.scripted._track(self.connection, add=False)

    # --- routing -------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        if path in ("/v1/models", "/models"):
            self._send_json(200, {"object": "list", "data": [_MODEL_ENTRY]})
        else:
            self._not_found()

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/")
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        if path not in ("/v1/chat/completions", "/chat/completions"):
            self._not_found()
            return
        try:
            body = json.loads(raw or b"{}")
            if not isinstance(body, dict):
                raise ValueError("body is not a JSON object")
        except ValueError as exc:
            self._send_json(400, error(400, f"invalid JSON body: {exc}").error_body)
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        reply = self.server.scripted._next_reply(body, headers)
        try:
            self._answer(body, reply)
        except (_ClientGone, ConnectionError, TimeoutError):
            self.close_connection = True

    # --- responses -----------------------------------------------------------------------

    def _answer(self, body: dict[str, Any], reply: Reply) -> None:
        if reply.delay > 0 and self.server.scripted._stopping.wait(reply.delay):
            raise _ClientGone  # server is stopping: drop the connection
        stream = bool(body.get("stream"))
        if not stream:
            self._hold(reply)  # a whole reply is held before any of it is sent
        if reply.kind == "error":
            self._send_json(reply.status, reply.error_body, reply.headers)
        elif reply.kind == "broken" and not stream:
            self._drop()
        elif stream:
            self._stream(body, reply)
        else:
            self._send_json(200, _completion(body, reply))

    def _hold(self, reply: Reply) -> None:
        """Wait until the test sets `reply.hold` (no-op without one); drop out if the server stops."""
        while reply.hold is not None and not reply.hold.wait(0.05):
            if self.server.scripted._stopping.is_set():
                raise _ClientGone

    def _send_json(
        self, status: int, payload: dict[str, Any], headers: tuple[tuple[str, str], ...] = ()
    ) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(data)
        self.wfile.flush()

    def _not_found(self) -> None:
        self._send_json(404, error(404, f"no route for {self.path}", code="not_found").error_body)

    def _drop(self) -> None:
        """Close abruptly: no (further) bytes, no chunked terminator."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.connection.shutdown(socket.SHUT_RDWR)

    def _stream(self, body: dict[str, Any], reply: Reply) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        stopping = self.server.scripted._stopping
        chunks = _stream_chunks(body, reply)
        for i, chunk in enumerate(chunks):
            if i and reply.chunk_delay > 0 and stopping.wait(reply.chunk_delay):
                raise _ClientGone
            if i == reply.hold_after + 1:  # chunk 0 carries the role
                self._hold(reply)
            self._write_event(json.dumps(chunk))
        if reply.kind == "broken":
            self._drop()
            return
        self._write_event("[DONE]")
        self.wfile.write(b"0\r\n\r\n")
        self.wfile.flush()

    def _write_event(self, data: str) -> None:
        payload = f"data: {data}\n\n".encode()
        self.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
        self.wfile.flush()


_MODEL_ENTRY = {"id": "scripted-model", "object": "model", "created": 0, "owned_by": "scripted"}


def _usage(reply: Reply) -> dict[str, int]:
    return {
        "prompt_tokens": reply.input_tokens,
        "completion_tokens": reply.output_tokens,
        "total_tokens": reply.input_tokens + reply.output_tokens,
    }


def _envelope(body: dict[str, Any], reply: Reply, obj: str, cid: str) -> dict[str, Any]:
    return {
        "id": cid,
        "object": obj,
        "created": int(time.time()),
        "model": reply.model or str(body.get("model") or "scripted-model"),
        "system_fingerprint": "fp_scripted",
    }


def _completion(body: dict[str, Any], reply: Reply) -> dict[str, Any]:
    """A full non-streaming chat.completion object."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    return {
        **_envelope(body, reply, "chat.completion", f"chatcmpl-{next(_ids)}"),
        "choices": [
            {
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": "tool_calls" if reply.tool_calls else "stop",
            }
        ],
        "usage": _usage(reply),
    }


def _stream_chunks(body: dict[str, Any], reply: Reply) -> list[dict[str, Any]]:
    """The chat.completion.chunk sequence OpenAI would send (without the [DONE] sentinel)."""
    env = _envelope(body, reply, "chat.completion.chunk", f"chatcmpl-{next(_ids)}")

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**env, "choices": [choice]}

    content = reply.content or ""
    if reply.kind == "broken":
        return [chunk({"role": "assistant", "content": ""})] + [
            chunk({"content": p}) for p in _content_pieces(content, reply.chunks)
        ]
    first: dict[str, Any] = {"role": "assistant", "content": None if reply.tool_calls else ""}
    out = [chunk(first)]
    out += [chunk({"content": p}) for p in _content_pieces(content, reply.chunks)]
    for index, call in enumerate(reply.tool_calls):
        head = {
            "index": index,
            "id": call.id,
            "type": "function",
            "function": {"name": call.name, "arguments": ""},
        }
        out.append(chunk({"tool_calls": [head]}))
        for piece in _split_even(call.arguments, max(2, len(call.arguments) // 8)):
            out.append(chunk({"tool_calls": [{"index": index, "function": {"arguments": piece}}]}))
    out.append(chunk({}, "tool_calls" if reply.tool_calls else "stop"))
    opts = body.get("stream_options")
    if isinstance(opts, dict) and opts.get("include_usage"):
        out.append({**env, "choices": [], "usage": _usage(reply)})
    return out


class _HTTPServer(ThreadingHTTPServer):
    """Threaded server tuned for bursts of concurrent clients and quiet failures."""

    daemon_threads = True
    block_on_close = False  # idle keep-alive threads must not block stop()
    request_queue_size = 256  # default backlog of 5 drops connects under load tests

    def __init__(self, addr: tuple[str, int], scripted: ScriptedServer) -> None:
        self.scripted = scripted
        super().__init__(addr, _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Client disconnects are expected (timeouts, broken streams); other errors are not."""
        exc = sys.exc_info()[1]
        if not isinstance(exc, OSError):
            super().handle_error(request, client_address)


class ScriptedServer:
    """Answers chat-completion requests from a FIFO of scripted replies, recording requests."""

    def __init__(
        self,
        default: ReplySource | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self.default: ReplySource = default if default is not None else text("ok")
        self.host = host
        self.port = port
        self.url = ""
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self._queue: collections.deque[ReplySource] = collections.deque()
        self._cond = threading.Condition()
        self._stopping = threading.Event()
        self._conns: set[socket.socket] = set()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # --- lifecycle -----------------------------------------------------------------------

    def start(self) -> ScriptedServer:
        """Bind (port 0 = any free port) and serve in a background daemon thread."""
        if self._httpd is not None:
            return self
        self._stopping.clear()
        self._httpd = _HTTPServer((self.host, self.port), self)
        self.port = int(self._httpd.server_address[1])
        self.url = f"http://{self.host}:{self.port}/v1"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name=f"scripted-server-{self.port}",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, cut open connections and wake sleeping replies; idempotent."""
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()
        httpd.shutdown()
        httpd.server_close()
        with self._cond:
            conns = list(self._conns)
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def serve_forever(self) -> None:
        """Block until interrupted (standalone use)."""
        self.start()
        try:
            while self._thread is not None and self._thread.is_alive():
                self._thread.join(timeout=0.5)
        finally:
            self.stop()

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # --- scripting -----------------------------------------------------------------------

    def queue(self, *replies: ReplySource) -> None:
        """Append replies; each request consumes one, then the default answers."""
        with self._cond:
            self._queue.extend(replies)

    def pending(self) -> int:
        """How many queued replies are still unconsumed (to assert a script was used up)."""
        with self._cond:
            return len(self._queue)

    def wait_for_requests(self, n: int, timeout: float = 5.0) -> None:
        """Block until at least `n` requests arrived; TimeoutError otherwise."""
        with self._cond:
            if not self._cond.wait_for(lambda: len(self.requests) >= n, timeout=timeout):
                raise TimeoutError(f"expected {n} requests within {timeout}s, got {len(self.requests)}")

    def reset(self) -> None:
        """Forget queued replies and captured requests (the default reply stays)."""
        with self._cond:
            self._queue.clear()
            self.requests.clear()
            self.request_headers.clear()

    # --- used by the handler -------------------------------------------------------------

    def _next_reply(self, body: dict[str, Any], headers: dict[str, str]) -> Reply:
        # Record and dequeue under one lock so requests[i] pairs with the i-th queued reply.
        with self._cond:
            self.requests.append(body)
            self.request_headers.append(headers)
            source = self._queue.popleft() if self._queue else self.default
            self._cond.notify_all()
        reply = source if isinstance(source, Reply) else source(body)
        if not isinstance(reply, Reply):
            raise TypeError(f"reply callable returned {type(reply).__name__}, not Reply")
        return reply

    def _track(self, conn: socket.socket, *, add: bool) -> None:
        with self._cond:
            if add:
                self._conns.add(conn)
            else:
                self._conns.discard(conn)


def main(argv: list[str] | None = None) -> int:
    """Standalone mode for benchmarks: print the URL as the first stdout line, serve forever."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--reply", default="ok", help="default text reply")
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before answering")
    parser.add_argument("--chunk-delay", type=float, default=0.0, help="seconds between chunks")
    args = parser.parse_args(argv)
    server = ScriptedServer(
        text(args.reply, delay=args.delay, chunk_delay=args.chunk_delay),
        host=args.host,
        port=args.port,
    ).start()
    print(server.url, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
