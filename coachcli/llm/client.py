"""LLMClient: completions (streamed or not) with retries, usage and cost, through litellm."""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from coachcli.config import DEFAULT_RETRIES, DEFAULT_RETRY_DELAY, DEFAULT_TIMEOUT
from coachcli.errors import ProviderError
from coachcli.llm import errors as llm_errors
from coachcli.llm.loader import load
from coachcli.llm.types import Completion, ReplyInterrupted, StreamBroken, ToolCall

if TYPE_CHECKING:
    from coachcli.config import Settings
    from coachcli.llm.worker.options import WorkerOptions
    from coachcli.llm.worker.route import WorkerRoute

Message = dict[str, Any]
TextCallback = Callable[[str], None]

# Used when litellm does not know the model's window (documented in the README).
FALLBACK_CONTEXT_TOKENS = 8192
FALLBACK_MAX_OUTPUT = 1024


class LLMClient:
    """One model at one endpoint. Keys come from the provider's usual environment variables."""

    def __init__(
        self,
        model: str,
        api_base: str | None = None,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        retry_delay: float = DEFAULT_RETRY_DELAY,
        worker: WorkerOptions | None = None,
    ) -> None:
        """`timeout` seconds per call; `retries` extra attempts (rate limits, 5xx, timeouts) with
        exponential backoff starting at `retry_delay` seconds. Commands pass their resolved
        Settings through `from_settings`; nothing here reads the environment's COACH_* values."""
        self.model = model
        self.api_base = api_base
        self.timeout = timeout
        self.retries = retries
        self.retry_delay = retry_delay
        self._api_key: str | None = None
        self._checked = False
        self.worker = worker  # None or mode off: litellm runs in this process

    @classmethod
    def from_settings(cls, settings: Settings, model: str | None = None) -> LLMClient:
        """A client for `model` (default: the configured one) with the configured endpoint,
        timeout and retries."""
        from coachcli.llm.worker.options import WorkerOptions

        client = cls(
            model or settings.model,
            settings.api_base,
            timeout=settings.timeout,
            retries=settings.retries,
            retry_delay=settings.retry_delay,
            worker=WorkerOptions.from_settings(settings),
        )
        client.warm_up()
        return client

    # -- set-up ---------------------------------------------------------------------------

    def check_credentials(self) -> None:
        """Fail early, naming the variable to set, when the provider's key is missing."""
        if self._checked:
            return
        route = self._worker_route()
        env = route.environment_check(self.model, self.api_base) if route else None
        if env is None:
            litellm = load()
            try:
                env = litellm.validate_environment(model=self.model, api_base=self.api_base)
            except Exception:  # an unknown provider: let the call itself report it
                env = {"keys_in_environment": True, "missing_keys": []}
        missing = [k for k in env.get("missing_keys", []) if k.endswith("_KEY") or "TOKEN" in k]
        if missing and not env.get("keys_in_environment"):
            if self.api_base:
                # A local or OpenAI-compatible server often needs no key, but the client wants one.
                self._api_key = "no-key"
            else:
                raise llm_errors.missing_key(self.model, missing)
        self._checked = True

    def model_info(self) -> dict[str, Any]:
        route = self._worker_route()
        info = route.model_info(self.model) if route else None
        if info is not None:
            return info
        try:
            return dict(load().get_model_info(self.model))
        except Exception:
            return {}

    def context_window(self) -> tuple[int, int]:
        """(input window, room to keep for the reply), from litellm's model map or a fallback."""
        info = self.model_info()
        window = info.get("max_input_tokens") or info.get("max_tokens") or FALLBACK_CONTEXT_TOKENS
        reply = info.get("max_output_tokens") or FALLBACK_MAX_OUTPUT
        return int(window), int(min(reply, FALLBACK_MAX_OUTPUT * 2, window // 4))

    def count_tokens(self, messages: Sequence[Message]) -> int:
        return self.count_each([messages])[0]

    def count_each(self, batches: Sequence[Sequence[Message]]) -> list[int]:
        """The tokens of each list of messages, asked of the worker in one request: a history
        is counted in one round trip, not one per message."""
        lists = [list(messages) for messages in batches]
        route = self._worker_route() if lists else None
        counted = route.count_each(self.model, lists) if route else None
        if counted is not None:
            return counted
        return [self._count_here(messages) for messages in lists]

    def _count_here(self, messages: list[Message]) -> int:
        litellm = load()
        try:
            return int(litellm.token_counter(model=self.model, messages=messages))
        except Exception:
            text = " ".join(str(m.get("content") or "") for m in messages)
            return len(text) // 3 + 4 * len(messages)

    def warm_up(self) -> None:
        """Start the model worker now when settings allow it (not waiting for it): it loads
        litellm while the command opens the store and fits the request."""
        route = self._worker_route()
        if route is not None:
            route.prestart()

    def _worker_route(self) -> WorkerRoute | None:
        """The model worker (issue 13) when settings allow it; None: litellm in this process."""
        if self.worker is None or not self.worker.enabled:
            return None
        from coachcli.llm.worker.route import route_for

        return route_for(self.worker)

    def _worker_request(
        self, messages: Sequence[Message], tools: list[dict[str, Any]] | None, max_tokens: int | None
    ) -> dict[str, Any]:
        """The call as the worker makes it (keys are added from the environment at send time)."""
        return {
            "model": self.model,
            "api_base": self.api_base,
            "api_key": self._api_key,
            "timeout": self.timeout,
            "retries": self.retries,
            "retry_delay": self.retry_delay,
            "messages": list(messages),
            "tools": tools,
            "max_tokens": max_tokens,
        }

    # -- calls ----------------------------------------------------------------------------

    def complete(
        self,
        messages: Sequence[Message],
        *,
        tools: list[dict[str, Any]] | None = None,
        on_text: TextCallback | None = None,
        max_tokens: int | None = None,
    ) -> Completion:
        """One completion; streamed when `on_text` is given. Retries before any text is shown."""
        self.check_credentials()
        route = self._worker_route()
        if route is not None:
            done = route.complete(self._worker_request(messages, tools, max_tokens), on_text)
            if done is not None:
                return done
        litellm = load()
        attempt = 0
        while True:
            attempt += 1
            shown: list[str] = []
            try:
                if on_text is None:
                    return self._once(litellm, messages, tools, max_tokens)
                return self._stream(litellm, messages, tools, max_tokens, on_text, shown)
            except (ReplyInterrupted, KeyboardInterrupt):
                raise
            except Exception as exc:
                if isinstance(exc, ProviderError):
                    raise
                retry = llm_errors.is_retryable(exc, litellm) and not shown
                if retry and attempt <= self.retries:
                    time.sleep(self._delay(exc, attempt))
                    continue
                if shown:
                    # The server was reached and answered: the stream broke off (not "cannot reach").
                    raise StreamBroken.midway(self._partial(shown)) from exc
                error = llm_errors.to_coach_error(
                    exc, litellm, model=self.model, api_base=self.api_base, attempts=attempt
                )
                raise error from exc

    def _kwargs(self, tools: list[dict[str, Any]] | None, max_tokens: int | None) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "model": self.model,
            "timeout": self.timeout,
            "num_retries": 0,
            "max_retries": 0,
        }
        if self.api_base:
            kwargs["api_base"] = self.api_base
        if self._api_key:
            kwargs["api_key"] = self._api_key
        if tools:
            kwargs["tools"] = tools
        if max_tokens:
            kwargs["max_tokens"] = max_tokens
        return kwargs

    def _once(
        self,
        litellm: Any,
        messages: Sequence[Message],
        tools: list[dict[str, Any]] | None,
        max_tokens: int | None,
    ) -> Completion:
        response = litellm.completion(messages=list(messages), **self._kwargs(tools, max_tokens))
        return self._to_completion(litellm, response)

    def _stream(
        self,
        litellm: Any,
        messages: Sequence[Message],
        tools: list[dict[str, Any]] | None,
        max_tokens: int | None,
        on_text: TextCallback,
        shown: list[str],
    ) -> Completion:
        kwargs = self._kwargs(tools, max_tokens)
        stream = litellm.completion(
            messages=list(messages), stream=True, stream_options={"include_usage": True}, **kwargs
        )
        chunks: list[Any] = []
        try:
            for chunk in stream:
                chunks.append(chunk)
                choices = getattr(chunk, "choices", None) or []
                delta = getattr(choices[0], "delta", None) if choices else None
                piece = getattr(delta, "content", None) if delta is not None else None
                if piece:
                    shown.append(piece)
                    on_text(piece)
        except KeyboardInterrupt:
            raise ReplyInterrupted(self._partial(shown)) from None
        built = litellm.stream_chunk_builder(chunks, messages=list(messages))
        if built is None:
            return self._partial(shown)
        return self._to_completion(litellm, built)

    def _partial(self, shown: list[str]) -> Completion:
        return Completion(content="".join(shown), model=self.model, finish_reason="interrupted")

    def _to_completion(self, litellm: Any, response: Any) -> Completion:
        choice = response.choices[0]
        message = choice.message
        calls = [
            ToolCall(
                id=call.id or f"call_{i}",
                name=call.function.name or "",
                arguments=call.function.arguments or "",
            )
            for i, call in enumerate(getattr(message, "tool_calls", None) or [])
        ]
        usage = getattr(response, "usage", None)
        try:
            cost = float(litellm.completion_cost(completion_response=response, model=self.model))
        except Exception:  # unknown price: leave it empty, never an error
            cost = None
        return Completion(
            content=message.content or "",
            model=self.model,
            tool_calls=calls,
            input_tokens=getattr(usage, "prompt_tokens", None),
            output_tokens=getattr(usage, "completion_tokens", None),
            cost_usd=cost,
            finish_reason=getattr(choice, "finish_reason", None),
        )

    def _delay(self, exc: BaseException, attempt: int) -> float:
        """Exponential backoff with jitter; a short Retry-After from the provider wins."""
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        try:
            after = float(headers.get("retry-after", ""))
            if 0 <= after <= 30:
                return after
        except (TypeError, ValueError):
            pass
        return self.retry_delay * (2 ** (attempt - 1)) * (0.5 + random.random() / 2)
