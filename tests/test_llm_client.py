"""LLMClient against the scripted server: litellm's real HTTP path, retries, and error mapping.

Why: every model call in coachcli goes through LLMClient, so what it retries, what it gives up on, and
the one-line message it raises are what users see when a provider misbehaves.
"""

from __future__ import annotations

import socket
from dataclasses import replace
from typing import Any

import pytest
from conftest import MODEL
from scripted_server import ScriptedServer, broken_stream, error, hang, text, tool_call

from coachcli.config import resolve
from coachcli.errors import MissingCredentialsError, ProviderError
from coachcli.llm.client import LLMClient, StreamBroken

HI = [{"role": "user", "content": "hi there"}]
SECRET = "zz-distinctive-secret-9f8e7d6c5b4a"


def client(server: ScriptedServer, **overrides: Any) -> LLMClient:
    """A client made as commands make it: from the resolved Settings (COACH_* included)."""
    settings = replace(resolve(api_base=server.url), **overrides)
    return LLMClient.from_settings(settings, MODEL)


def one_line(exc: BaseException) -> str:
    message = str(exc)
    assert "\n" not in message and message.strip() == message, message
    return message


# -- success ------------------------------------------------------------------------------------


def test_plain_completion_reports_text_and_usage(model_env: ScriptedServer) -> None:
    """A non-streamed reply carries the provider's token counts; an unknown price is None, not an error."""
    model_env.queue(text("hello there friend", input_tokens=7, output_tokens=3))
    result = client(model_env).complete(HI)
    assert result.content == "hello there friend"
    assert (result.input_tokens, result.output_tokens) == (7, 3)
    assert result.cost_usd is None
    assert result.model == MODEL
    assert len(model_env.requests) == 1
    assert model_env.requests[0]["messages"] == HI
    assert not model_env.requests[0].get("stream")


def test_streamed_completion_calls_back_per_chunk_and_keeps_usage(model_env: ScriptedServer) -> None:
    """Streaming shows pieces as they come, and still reports usage from the final usage chunk."""
    model_env.queue(text("one two three four five", input_tokens=11, output_tokens=5))
    pieces: list[str] = []
    result = client(model_env).complete(HI, on_text=pieces.append)
    assert len(pieces) >= 2
    assert "".join(pieces) == "one two three four five" == result.content
    assert (result.input_tokens, result.output_tokens) == (11, 5)
    request = model_env.requests[0]
    assert request["stream"] is True
    assert request["stream_options"] == {"include_usage": True}


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_tool_calls_are_parsed(model_env: ScriptedServer, stream: bool) -> None:
    """Tool calls (several in one reply) arrive with their ids, names and JSON arguments intact."""
    reply = tool_call(
        "remember_fact",
        {"fact": "Runs on Tuesdays"},
        call_id="call_first",
        more=[("save_memory", {"note": "Check in on Friday"})],
    )
    model_env.queue(reply)
    tools = [{"type": "function", "function": {"name": "remember_fact", "parameters": {"type": "object"}}}]
    on_text = (lambda _piece: None) if stream else None
    result = client(model_env).complete(HI, tools=tools, on_text=on_text)
    assert [c.name for c in result.tool_calls] == ["remember_fact", "save_memory"]
    # The provider's own ids, not the client's fallback: tool results must answer these ids.
    assert [c.id for c in result.tool_calls] == [c.id for c in reply.tool_calls]
    assert result.tool_calls[0].id == "call_first"
    assert result.tool_calls[0].parsed() == {"fact": "Runs on Tuesdays"}
    assert result.tool_calls[1].parsed() == {"note": "Check in on Friday"}
    assert result.finish_reason == "tool_calls"
    assert model_env.requests[0]["tools"][0]["function"]["name"] == "remember_fact"


def test_local_server_without_a_key_still_works(server: ScriptedServer) -> None:
    """With --api-base and no provider key (a local server), the call goes through instead of failing."""
    result = LLMClient(MODEL, server.url).complete(HI)
    assert result.content == "ok"
    assert len(server.requests) == 1


# -- retries ------------------------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["plain", "streamed"])
def test_transient_errors_are_retried_then_succeed(model_env: ScriptedServer, stream: bool) -> None:
    """429, 500 and 503 are worth another try: the reply after them is returned."""
    model_env.queue(error(429), error(500), text("finally"))
    on_text = (lambda _piece: None) if stream else None
    result = client(model_env, retries=2).complete(HI, on_text=on_text)
    assert result.content == "finally"
    assert len(model_env.requests) == 3
    model_env.reset()
    model_env.queue(error(503), text("back"))
    assert client(model_env, retries=2).complete(HI, on_text=on_text).content == "back"
    assert len(model_env.requests) == 2


@pytest.mark.parametrize(
    ("status", "words"),
    [(429, "rate-limit"), (500, "server error"), (503, "server error")],
)
def test_retries_are_bounded(model_env: ScriptedServer, status: int, words: str) -> None:
    """A provider that keeps failing gets 1 + retries attempts, then one line saying what happened."""
    model_env.default = error(status)
    with pytest.raises(ProviderError) as caught:
        client(model_env).complete(HI)  # COACH_RETRIES unset: the default of 2 retries
    assert len(model_env.requests) == 3
    message = one_line(caught.value)
    assert words in message
    assert "after 3 attempts" in message


def test_retry_count_follows_coach_retries(
    model_env: ScriptedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """COACH_RETRIES=0 means a single attempt (the variable reaches the client through Settings)."""
    monkeypatch.setenv("COACH_RETRIES", "0")
    model_env.default = error(500)
    with pytest.raises(ProviderError):
        client(model_env).complete(HI)
    assert len(model_env.requests) == 1


def test_bad_key_is_not_retried(model_env: ScriptedServer) -> None:
    """A 401 will not fix itself: one request, and a message about the API key."""
    model_env.default = error(401, "Incorrect API key provided")
    with pytest.raises(ProviderError) as caught:
        client(model_env, retries=3).complete(HI)
    assert len(model_env.requests) == 1
    message = one_line(caught.value)
    assert "API key" in message
    assert "OPENAI_API_KEY" in message


def record_pauses(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """The attempts after which the client paused to retry, the pauses made 0 s: retries are
    counted, not timed."""
    pauses: list[int] = []

    def pause(_client: LLMClient, _exc: BaseException, attempt: int) -> float:
        pauses.append(attempt)
        return 0.0

    monkeypatch.setattr(LLMClient, "_delay", pause)
    return pauses


def test_connection_refused_is_not_retried(monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody listening: fail at once (a long retry delay would show) saying the server cannot be reached."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-scripted-key-123456")
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    slow_retries = LLMClient(MODEL, f"http://127.0.0.1:{port}/v1", retries=3, retry_delay=5.0)
    pauses = record_pauses(monkeypatch)
    with pytest.raises(ProviderError) as caught:
        slow_retries.complete(HI)
    assert pauses == []  # no retry, so no retry delay
    message = one_line(caught.value)
    assert "cannot reach" in message
    assert f"127.0.0.1:{port}" in message


def test_timeout_is_retried_then_reported(model_env: ScriptedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """A provider that hangs past COACH_TIMEOUT is tried again, then reported as too slow."""
    monkeypatch.setenv("COACH_TIMEOUT", "0.5")
    model_env.default = hang(5)  # answers (empty) after 5 s: only the timeout makes this an error
    pauses = record_pauses(monkeypatch)
    with pytest.raises(ProviderError) as caught:
        client(model_env, retries=1).complete(HI)
    assert len(model_env.requests) == 2
    assert pauses == [1]  # one retry, after one backoff
    message = one_line(caught.value)
    assert "did not answer in time" in message
    assert "COACH_TIMEOUT" in message


def test_context_too_long_points_at_context_tokens(model_env: ScriptedServer) -> None:
    """A context-window error is not retried and tells the user which setting to lower."""
    model_env.default = error(400, code="context_length_exceeded")
    with pytest.raises(ProviderError) as caught:
        client(model_env).complete(HI)
    assert len(model_env.requests) == 1
    message = one_line(caught.value)
    assert "context" in message
    assert "context_tokens" in message


@pytest.mark.parametrize(
    ("status", "code", "said"),
    [
        (401, "invalid_api_key", "rejected the API key for"),
        (429, "rate_limit_exceeded", "is rate-limiting requests"),
        (400, "context_length_exceeded", f"the request is larger than {MODEL}'s context window"),
    ],
)
def test_each_error_class_has_its_own_line(
    model_env: ScriptedServer, status: int, code: str, said: str
) -> None:
    model_env.default = error(status, code=code)
    with pytest.raises(ProviderError) as caught:
        client(model_env, retries=0).complete(HI)
    assert said in one_line(caught.value)


# -- streams and credentials --------------------------------------------------------------------


def test_broken_stream_keeps_the_partial_text(model_env: ScriptedServer) -> None:
    """A stream cut after some text raises StreamBroken carrying what was shown, without retrying it."""
    model_env.queue(broken_stream("The first half of a reply", chunks=3))
    pieces: list[str] = []
    with pytest.raises(StreamBroken) as caught:
        client(model_env).complete(HI, on_text=pieces.append)
    assert "".join(pieces) == "The first half of a reply"
    assert caught.value.partial.content == "The first half of a reply"
    assert caught.value.partial.finish_reason == "interrupted"
    assert len(model_env.requests) == 1
    message = one_line(caught.value)
    assert "cannot reach" not in message  # the server was reached: the reply broke off midway
    assert "broke off" in message


def test_missing_key_names_the_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    """No OPENAI_API_KEY and no --api-base: a clear error naming the variable, before any request."""
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(MissingCredentialsError) as caught:
        LLMClient(MODEL).complete(HI)
    message = one_line(caught.value)
    assert "OPENAI_API_KEY" in message
    assert "--api-base" in message


@pytest.mark.parametrize("status", [400, 401, 403, 404, 429, 500])
@pytest.mark.parametrize("key", [SECRET, "sk-proj-Zq8sEcReTkEy77x"], ids=["env-value", "sk-shaped"])
def test_api_key_never_appears_in_errors(
    server: ScriptedServer, monkeypatch: pytest.MonkeyPatch, status: int, key: str
) -> None:
    """Providers echo keys in error bodies; the user-facing message must never repeat one."""
    monkeypatch.setenv("OPENAI_API_KEY", key)
    server.default = error(status, f"Incorrect API key provided: {key}. You can find your key online.")
    with pytest.raises(ProviderError) as caught:
        client(server, retries=1).complete(HI)
    assert server.requests, "the request was never sent"
    assert key not in str(caught.value)
    assert key[6:20] not in str(caught.value)


@pytest.mark.parametrize("status", [401, 404, 429, 500])
def test_url_credentials_never_appear_in_errors(server: ScriptedServer, status: int) -> None:
    """An api_base with user:password: every error names the endpoint with the password masked."""
    password = "pw-" + SECRET
    server.default = error(status, f"denied for http://bob:{password}@127.0.0.1/v1/chat/completions")
    api_base = server.url.replace("http://", f"http://bob:{password}@")
    with pytest.raises(ProviderError) as caught:
        LLMClient(MODEL, api_base, retries=0).complete(HI)
    assert server.requests, "the request was never sent"
    message = one_line(caught.value)
    assert password not in message
    assert SECRET[:12] not in message
