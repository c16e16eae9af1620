"""How the worker runs one command's model call: the provider's variables come with the call, are
passed to litellm explicitly, and are forgotten afterwards (the worker's own environment has none).

A call whose provider reads variables that cannot be passed per call (AWS or Vertex credentials,
say) is `Unsupported`: the command then makes it in-process, as without a worker.
"""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable
from typing import Any

from coachcli.llm.client import LLMClient
from coachcli.llm.loader import load
from coachcli.llm.types import Completion

_KEY_SUFFIXES = ("_API_KEY", "_KEY", "_TOKEN")
_BASE_SUFFIXES = ("_API_BASE", "_BASE_URL")


class Unsupported(Exception):
    """This provider needs something the worker cannot take per call: run it in the command."""


def needed_variables(model: str, api_base: str | None) -> list[str]:
    """The variables a call to `model` reads: what litellm says the provider needs (the worker's
    environment holds none, so all of them show as missing), plus the provider's base URL."""
    litellm = load()
    try:
        env = litellm.validate_environment(model=model, api_base=api_base)
    except Exception as exc:  # an unknown provider: let the command's own litellm judge it
        raise Unsupported(type(exc).__name__) from None
    names = [str(name) for name in env.get("missing_keys") or []]
    for name in list(names):
        if name.endswith("_API_KEY"):
            prefix = name[: -len("_API_KEY")]
            names += [f"{prefix}{suffix}" for suffix in _BASE_SUFFIXES if f"{prefix}{suffix}" not in names]
    call_kwargs(dict.fromkeys(names, "x"), api_base)  # raises Unsupported for anything unmappable
    return names


def call_kwargs(values: dict[str, str], api_base: str | None) -> dict[str, Any]:
    """litellm keyword arguments for the variables a command sent (the first key found wins)."""
    kwargs: dict[str, Any] = {}
    for name, value in values.items():
        if name.startswith(("AWS_", "VERTEX", "GOOGLE_APPLICATION")):
            raise Unsupported(name)
        if name.endswith(_BASE_SUFFIXES):
            if not api_base:
                kwargs.setdefault("api_base", value)
        elif name.endswith("_API_VERSION"):
            kwargs["api_version"] = value
        elif name.endswith(_KEY_SUFFIXES):
            kwargs.setdefault("api_key", value)
        else:
            raise Unsupported(name)
    return kwargs


class _CallClient(LLMClient):
    """The in-process client, with the command's credentials passed explicitly on each request."""

    def __init__(self, request: dict[str, Any]) -> None:
        super().__init__(
            str(request["model"]),
            request.get("api_base") or None,
            timeout=float(request["timeout"]),
            retries=int(request["retries"]),
            retry_delay=float(request["retry_delay"]),
        )
        self._extra = call_kwargs(dict(request.get("env") or {}), self.api_base)
        self._api_key = request.get("api_key") or self._extra.pop("api_key", None)
        self._checked = True  # the command checked its credentials in its own environment

    def _kwargs(self, tools: list[dict[str, Any]] | None, max_tokens: int | None) -> dict[str, Any]:
        return {**super()._kwargs(tools, max_tokens), **self._extra}


def run_call(request: dict[str, Any], on_text: Callable[[str], None] | None) -> Completion:
    """One completion as the command asked (streamed when `on_text` is given)."""
    client = _CallClient(request)
    return client.complete(
        list(request["messages"]),
        tools=request.get("tools") or None,
        on_text=on_text,
        max_tokens=request.get("max_tokens"),
    )


def count_tokens(model: str, messages: list[dict[str, Any]]) -> int:
    return LLMClient(model).count_tokens(messages)


def model_info(model: str) -> dict[str, Any]:
    return LLMClient(model).model_info()


def forget_clients() -> None:
    """Drop litellm's cached provider clients, which hold the last call's key, and collect them
    (they are reference cycles). Called when no call is running, so none is in use."""
    cache = getattr(load(), "in_memory_llm_clients_cache", None)
    keys = list(getattr(cache, "cache_dict", {}) or {})
    for key in keys:
        with contextlib.suppress(Exception):
            cache.delete_cache(key)  # type: ignore[union-attr]
    gc.collect()
