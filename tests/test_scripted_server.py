"""The scripted server speaks OpenAI well enough for litellm's real HTTP path.

Why: later tests rely on it to fake a provider, so its wire format and the exceptions litellm
raises for each scripted failure are pinned here (litellm 1.110.2, openai SDK 3.57.0).

What each scripted failure produced (stream and non-stream alike unless noted):

    scripted reply                                 litellm exception (num_retries=0)
    ---------------------------------------------  -------------------------------------------
    error(401)  code invalid_api_key               litellm.AuthenticationError
    error(429)  code rate_limit_exceeded           litellm.RateLimitError
    error(500)                                     litellm.InternalServerError
    error(503)                                     litellm.ServiceUnavailableError
    error(400, code="context_length_exceeded")     litellm.ContextWindowExceededError, only
      (default message = OpenAI's real wording)      because the *message* says "maximum context
                                                     length"; litellm ignores `code`:
    error(400, "too long", code="context_...")     litellm.BadRequestError
    broken_stream, stream=True                     litellm.exceptions.MidStreamFallbackError
                                                     (a ServiceUnavailableError) after the
                                                     partial text was yielded; not exported
                                                     as litellm.MidStreamFallbackError
    broken_stream, non-stream (no response)        litellm.InternalServerError
    connection refused (closed port)               litellm.InternalServerError, NOT
                                                     litellm.APIConnectionError: litellm wraps
                                                     openai.APIConnectionError as status 500
    hang(3) with timeout=1                         litellm.Timeout after ~1.0 s

None of these are subclasses of litellm.APIError or litellm.APIConnectionError; catch them by
class (or openai.APIError, which all of them subclass).

Other litellm behaviour worth knowing:
- Without num_retries/max_retries the openai SDK retries 429/500/503 twice by itself
  (3 requests, ~1-2 s of backoff); 401 is not retried. Either knob set to 0 gives 1 request.
- Unless litellm.suppress_debug_info is True it print()s to *stdout*: a "Give Feedback" banner
  on every mapped exception, and a "Provider List" banner on each stream for an unknown model.
- stream_chunk_builder does not need `messages` when the stream carried a usage chunk
  (stream_options include_usage); without it, usage is litellm's own token estimate.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

os.environ["LITELLM_LOCAL_MODEL_COST_MAP"] = "True"  # no network fetch at import

import litellm
import openai
from litellm.exceptions import MidStreamFallbackError
from scripted_server import (
    Reply,
    ScriptedServer,
    broken_stream,
    error,
    hang,
    text,
    tool_call,
)

MODEL = "openai/scripted-model"
MESSAGES = [{"role": "user", "content": "hi there"}]


@pytest.fixture(autouse=True)
def _quiet_litellm(monkeypatch: pytest.MonkeyPatch) -> None:
    """litellm prints banners to stdout on errors; keep test output readable."""
    monkeypatch.setattr(litellm, "suppress_debug_info", True)


@pytest.fixture
def server() -> Iterator[ScriptedServer]:
    with ScriptedServer() as s:
        yield s


def call(server: ScriptedServer, **kwargs: Any) -> Any:
    """litellm.completion against the scripted server, with litellm's retries off."""
    params: dict[str, Any] = {
        "model": MODEL,
        "api_base": server.url,
        "api_key": "test-key",
        "messages": MESSAGES,
        "num_retries": 0,
        "max_retries": 0,
    }
    params.update(kwargs)
    return litellm.completion(**params)


def stream_text(chunks: list[Any]) -> str:
    return "".join((c.choices[0].delta.content or "") for c in chunks if c.choices)


# --- 1-3: happy paths -----------------------------------------------------------------------


def test_non_stream_text(server: ScriptedServer) -> None:
    server.queue(text("Hello from the script", input_tokens=12, output_tokens=5))
    resp = call(server)
    assert resp.choices[0].message.content == "Hello from the script"
    assert resp.choices[0].finish_reason == "stop"
    assert (resp.usage.prompt_tokens, resp.usage.completion_tokens) == (12, 5)
    assert resp.usage.total_tokens == 17


def test_stream_text_with_usage(server: ScriptedServer) -> None:
    content = "one two three four five"
    server.queue(text(content, input_tokens=21, output_tokens=7))
    chunks = list(call(server, stream=True, stream_options={"include_usage": True}))
    assert len(chunks) >= 5  # roughly one chunk per word really arrived
    assert stream_text(chunks) == content
    built = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    assert built.choices[0].message.content == content
    assert (built.usage.prompt_tokens, built.usage.completion_tokens) == (21, 7)
    # messages is optional once the usage chunk was streamed
    assert litellm.stream_chunk_builder(chunks).usage.prompt_tokens == 21


def test_stream_text_explicit_chunks(server: ScriptedServer) -> None:
    server.queue(text("abcdefghij", chunks=4))
    chunks = list(call(server, stream=True))
    pieces = [c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content]
    assert pieces == ["abc", "def", "gh", "ij"]


def test_stream_holds_until_released(server: ScriptedServer) -> None:
    """`hold`: the first `hold_after` pieces arrive, then nothing until the test sets the event."""
    release = threading.Event()
    server.queue(text("abcdefghij", chunks=4, hold=release, hold_after=2))
    stream = iter(call(server, stream=True))
    pieces: list[str] = []
    while len(pieces) < 2:
        chunk = next(stream)
        if chunk.choices and chunk.choices[0].delta.content:
            pieces.append(chunk.choices[0].delta.content)
    assert pieces == ["abc", "def"] and not release.is_set()
    release.set()
    assert stream_text(list(stream)) == "ghij"


def test_stream_tool_calls(server: ScriptedServer) -> None:
    server.queue(
        tool_call(
            "get_weather",
            {"city": "Paris", "days": 3},
            call_id="call_abc",
            more=[("get_time", {"tz": "Europe/Paris"})],
        )
    )
    chunks = list(call(server, stream=True, stream_options={"include_usage": True}))
    built = litellm.stream_chunk_builder(chunks, messages=MESSAGES)
    assert built.choices[0].finish_reason == "tool_calls"
    calls = built.choices[0].message.tool_calls
    assert [c.function.name for c in calls] == ["get_weather", "get_time"]
    assert calls[0].id == "call_abc"
    assert json.loads(calls[0].function.arguments) == {"city": "Paris", "days": 3}
    assert json.loads(calls[1].function.arguments) == {"tz": "Europe/Paris"}


def test_non_stream_tool_call(server: ScriptedServer) -> None:
    server.queue(tool_call("save_note", {"text": "hi"}, content="Saving."))
    msg = call(server).choices[0].message
    assert msg.content == "Saving."
    assert msg.tool_calls[0].function.name == "save_note"
    assert json.loads(msg.tool_calls[0].function.arguments) == {"text": "hi"}
    assert msg.tool_calls[0].id.startswith("call_")


# --- 4-5: failures --------------------------------------------------------------------------

ERROR_CASES = [
    (error(401), litellm.AuthenticationError),
    (error(429, headers={"retry-after": "0"}), litellm.RateLimitError),
    (error(500), litellm.InternalServerError),
    (error(503), litellm.ServiceUnavailableError),
    (error(400, code="context_length_exceeded"), litellm.ContextWindowExceededError),
    # litellm maps by message text, so the code alone is just a BadRequestError:
    (error(400, "too long", code="context_length_exceeded"), litellm.BadRequestError),
]


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "stream"])
@pytest.mark.parametrize(
    ("reply", "exc"), ERROR_CASES, ids=["401", "429", "500", "503", "ctx", "ctx-code-only"]
)
def test_error_mapping(server: ScriptedServer, reply: Reply, exc: type[Exception], stream: bool) -> None:
    server.queue(reply)
    with pytest.raises(exc) as info:
        result = call(server, stream=stream)
        list(result) if stream else None
    if exc is litellm.BadRequestError:
        assert not isinstance(info.value, litellm.ContextWindowExceededError)
    assert isinstance(info.value, openai.APIError)
    assert not isinstance(info.value, litellm.APIError | litellm.APIConnectionError)
    assert len(server.requests) == 1  # no hidden retries


def test_default_retries_come_from_openai_sdk(server: ScriptedServer) -> None:
    server.queue(*[error(500, headers={"retry-after-ms": "10"})] * 5)
    with pytest.raises(litellm.InternalServerError):
        litellm.completion(model=MODEL, api_base=server.url, api_key="test-key", messages=MESSAGES)
    assert len(server.requests) == 3


def test_broken_stream_raises_after_partial_text(server: ScriptedServer) -> None:
    server.queue(broken_stream("partial answer here", chunks=3))
    got: list[str] = []
    with pytest.raises(MidStreamFallbackError) as info:
        for chunk in call(server, stream=True):
            got.append(chunk.choices[0].delta.content or "")
    assert "".join(got) == "partial answer here"
    assert isinstance(info.value, litellm.ServiceUnavailableError)
    assert "APIConnectionError" in str(info.value)


def test_broken_non_stream_is_a_connection_drop(server: ScriptedServer) -> None:
    server.queue(broken_stream("x"))
    with pytest.raises(litellm.InternalServerError, match="Connection error"):
        call(server)


def test_connection_refused_is_internal_server_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(litellm.InternalServerError) as info:
        litellm.completion(
            model=MODEL,
            api_base=f"http://127.0.0.1:{port}/v1",
            api_key="test-key",
            messages=MESSAGES,
            num_retries=0,
            max_retries=0,
        )
    assert not isinstance(info.value, litellm.APIConnectionError)


def test_timeout_fires_against_hang(server: ScriptedServer) -> None:
    """A hang far longer than the timeout: only the client's timeout can end the call."""
    server.queue(hang(120))
    with pytest.raises(litellm.Timeout):
        call(server, timeout=1)


def test_async_stream_and_broken_stream(server: ScriptedServer) -> None:
    """acompletion takes a different transport inside litellm; check it parses us too."""

    async def run() -> tuple[str, str, type[BaseException] | None]:
        server.queue(text("async works fine"), broken_stream("half"))
        common = {"model": MODEL, "api_base": server.url, "api_key": "test-key"}
        opts = {"messages": MESSAGES, "num_retries": 0, "max_retries": 0, "stream": True}
        good = [c async for c in await litellm.acompletion(**common, **opts)]
        got: list[str] = []
        raised: type[BaseException] | None = None
        try:
            async for c in await litellm.acompletion(**common, **opts):
                got.append(c.choices[0].delta.content or "")
        except Exception as exc:
            raised = type(exc)
        return stream_text(good), "".join(got), raised

    good, partial, raised = asyncio.run(run())
    assert good == "async works fine"
    assert partial == "half"
    assert raised is MidStreamFallbackError


def test_no_stdout_banner_when_suppressed(server: ScriptedServer, capsys: pytest.CaptureFixture[str]) -> None:
    server.queue(error(500))
    with pytest.raises(litellm.InternalServerError):
        call(server)
    list(call(server, stream=True))
    assert capsys.readouterr().out == ""


# --- 6: captured requests and server mechanics ----------------------------------------------


def test_captures_requests_and_headers(server: ScriptedServer) -> None:
    tools = [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}]
    call(server, tools=tools)
    list(call(server, stream=True, stream_options={"include_usage": True}))
    server.wait_for_requests(2)
    first, second = server.requests
    assert first["model"] == "scripted-model"
    assert first["messages"] == MESSAGES
    assert first["tools"][0]["function"]["name"] == "f"
    assert second["stream"] is True
    assert second["stream_options"] == {"include_usage": True}
    assert server.request_headers[0]["authorization"] == "Bearer test-key"
    server.reset()
    assert server.requests == [] and server.request_headers == []


def test_default_callable_and_queue_order(server: ScriptedServer) -> None:
    server.default = lambda body: text(f"echo {body['messages'][-1]['content']}")
    server.queue(text("first"), lambda body: text(f"second for {body['model']}"))
    answers = [call(server).choices[0].message.content for _ in range(3)]
    assert answers == ["first", "second for scripted-model", "echo hi there"]
    assert server.pending() == 0


def test_wait_for_requests_times_out(server: ScriptedServer) -> None:
    with pytest.raises(TimeoutError):
        server.wait_for_requests(1, timeout=0.05)


def _post(url: str, body: dict[str, Any]) -> urllib.request.Request:
    return urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"Content-Type": "application/json"}
    )


def test_raw_sse_wire_format(server: ScriptedServer) -> None:
    server.queue(text("a b", input_tokens=3, output_tokens=2, model="other-model"))
    body = {"model": "m", "messages": MESSAGES, "stream": True}
    body["stream_options"] = {"include_usage": True}
    with urllib.request.urlopen(_post(server.url + "/chat/completions", body)) as resp:
        assert resp.headers["Content-Type"] == "text/event-stream"
        raw = resp.read().decode()
    events = [e.removeprefix("data: ") for e in raw.split("\n\n") if e]
    assert events[-1] == "[DONE]"
    chunks = [json.loads(e) for e in events[:-1]]
    assert chunks[0]["choices"][0]["delta"]["role"] == "assistant"
    assert {c["object"] for c in chunks} == {"chat.completion.chunk"}
    assert {c["model"] for c in chunks} == {"other-model"}
    assert chunks[-2]["choices"][0]["finish_reason"] == "stop"
    assert chunks[-1]["choices"] == []
    assert chunks[-1]["usage"] == {"prompt_tokens": 3, "completion_tokens": 2, "total_tokens": 5}


def test_models_and_404(server: ScriptedServer) -> None:
    with urllib.request.urlopen(server.url + "/models") as resp:
        assert json.load(resp)["data"][0]["id"] == "scripted-model"
    with pytest.raises(urllib.error.HTTPError) as info:
        urllib.request.urlopen(_post(server.url + "/embeddings", {}))
    assert info.value.code == 404
    assert server.requests == []


def test_serves_requests_concurrently(server: ScriptedServer) -> None:
    """Every reply waits until all requests are in the server at once: a server that handled them
    one at a time would break the barrier (an error reply) instead of answering all of them."""
    parties = 12
    barrier = threading.Barrier(parties, timeout=60)

    def together(_body: dict[str, Any]) -> Reply:
        try:
            barrier.wait()
        except threading.BrokenBarrierError:
            return error(500, "served one at a time")
        return text("parallel")

    server.default = together
    results: list[str] = []
    lock = threading.Lock()

    def one(i: int) -> None:
        body = {"model": "m", "messages": MESSAGES, "stream": i % 2 == 0}
        try:
            with urllib.request.urlopen(_post(server.url + "/chat/completions", body)) as resp:
                data = resp.read().decode()
        except urllib.error.HTTPError as exc:
            data = f"HTTP {exc.code}"
        with lock:
            results.append(data)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(parties)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(results) == parties and all("parallel" in r for r in results), results
    assert len(server.requests) == parties


def test_stop_is_prompt_with_hanging_request() -> None:
    server = ScriptedServer(hang(600)).start()
    body = {"model": "m", "messages": MESSAGES}
    outcome: list[BaseException] = []

    def request() -> None:
        try:
            urllib.request.urlopen(_post(server.url + "/chat/completions", body), timeout=10)
        except Exception as exc:  # the dropped connection is the expected outcome
            outcome.append(exc)

    worker = threading.Thread(target=request, daemon=True)
    worker.start()
    server.wait_for_requests(1)
    stopper = threading.Thread(target=server.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=20)  # long before the 600 s hang ends: stop() does not wait for it
    assert not stopper.is_alive()
    worker.join(timeout=20)
    assert not worker.is_alive() and len(outcome) == 1


def test_standalone_cli_prints_url_first() -> None:
    script = Path(__file__).with_name("scripted_server.py")
    proc = subprocess.Popen(
        [sys.executable, str(script), "--port", "0", "--reply", "hello bench"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        url = proc.stdout.readline().strip()
        assert url.startswith("http://127.0.0.1:") and url.endswith("/v1")
        body = {"model": "bench", "messages": MESSAGES}
        with urllib.request.urlopen(_post(url + "/chat/completions", body), timeout=5) as resp:
            assert json.load(resp)["choices"][0]["message"]["content"] == "hello bench"
    finally:
        proc.terminate()
        proc.wait(timeout=5)
