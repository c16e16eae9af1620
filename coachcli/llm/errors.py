"""Map litellm's exceptions to one-line errors that say what happened and what to do."""

from __future__ import annotations

import re
from typing import Any

from coachcli.errors import MissingCredentialsError, ProviderError
from coachcli.redact import redact


def _short(exc: BaseException, limit: int = 200) -> str:
    text = " ".join(str(exc).split())
    # litellm prefixes messages with its own class path: keep what the provider said.
    text = re.sub(r"^litellm\.\w+:\s*", "", text)
    text = re.sub(r"^(\w+Error: )+", "", text)
    text = re.sub(r"^\w+Exception - ", "", text)
    text = redact(text)  # before cutting, so a cut never leaves half a secret unmasked
    return text if len(text) <= limit else text[: limit - 1] + "…"


def missing_key(model: str, variables: list[str]) -> MissingCredentialsError:
    names = " or ".join(variables)
    return MissingCredentialsError(
        f"no API key for {model}: set {names} (export {variables[0]}=...), or pick another "
        "model with --model, or use a local OpenAI-compatible server with "
        "--api-base http://localhost:11434/v1 --model openai/<name>."
    )


def is_connection_error(exc: BaseException, litellm: Any) -> bool:
    """litellm reports a refused or dropped connection as a 500 \"Connection error\": look closer."""
    if isinstance(exc, litellm.APIConnectionError):
        return True
    text = str(exc).lower()
    return "connection error" in text or "connection refused" in text or "connecterror" in text


def is_retryable(exc: BaseException, litellm: Any) -> bool:
    if is_connection_error(exc, litellm):
        return False  # a server that is not there will not appear in a second
    retryable = (
        litellm.RateLimitError,
        litellm.Timeout,
        litellm.InternalServerError,
        litellm.ServiceUnavailableError,
    )
    if isinstance(exc, retryable):
        return True
    status = getattr(exc, "status_code", None)
    return isinstance(exc, litellm.APIError) and isinstance(status, int) and status >= 500


def to_coach_error(
    exc: BaseException, litellm: Any, *, model: str, api_base: str | None, attempts: int
) -> ProviderError:
    """One line: what happened, then what to do. Secrets are masked here, at the source, so
    neither the printed error nor a stored one (a failed dispatch) can carry a URL password."""
    return ProviderError(redact(_describe(exc, litellm, model=model, api_base=api_base, attempts=attempts)))


# litellm's exception class → what to say; tried in order (a Timeout is also retryable below).
_BY_CLASS = (
    (
        "AuthenticationError",
        "{where} rejected the API key for {model}: check the key in your environment "
        "(e.g. OPENAI_API_KEY, ANTHROPIC_API_KEY).",
    ),
    (
        "ContextWindowExceededError",
        "the request is larger than {model}'s context window: lower it with "
        "`coach config set context_tokens N`.",
    ),
    (
        "RateLimitError",
        "{where} is rate-limiting requests{tried}: wait a minute and try again, or check your plan's limits.",
    ),
    (
        "Timeout",
        "{model} did not answer in time{tried}: try again, or allow more seconds with "
        "`coach config set timeout N` (or COACH_TIMEOUT).",
    ),
)


def _describe(exc: BaseException, litellm: Any, *, model: str, api_base: str | None, attempts: int) -> str:
    tried = f" after {attempts} attempts" if attempts > 1 else ""
    where = api_base or "the provider"
    for name, template in _BY_CLASS:
        if isinstance(exc, getattr(litellm, name)):
            return template.format(where=where, model=model, tried=tried)
    if is_connection_error(exc, litellm):
        return (
            f"cannot reach {where} for {model}: check that the server is running and that "
            "--api-base / COACH_API_BASE is right."
        )
    if isinstance(exc, litellm.NotFoundError):
        return f"{where} does not know the model {model}: check --model / COACH_MODEL."
    status = getattr(exc, "status_code", None)
    if isinstance(exc, litellm.PermissionDeniedError) or status == 403:
        return f"{where} refused access to {model} (403): check that your key may use this model."
    if isinstance(exc, litellm.BadRequestError) or status in (400, 422):
        return f"{where} refused the request: {_short(exc)}"
    if is_retryable(exc, litellm):
        return f"{where} had a server error{tried} ({_short(exc, 120)}): try again later."
    if isinstance(exc, AttributeError | TypeError | KeyError):
        # litellm fails this way on a response it cannot parse (seen with a 422 from a proxy)
        return f"{where} sent a response for {model} that could not be read: check --api-base and --model."
    return f"the model call failed: {type(exc).__name__}: {_short(exc)}"
