"""User-facing errors: a one-line message and the exit code the CLI contract promises."""

from __future__ import annotations

EXIT_FAILURE = 1  # runtime failure: model, provider, not found, refused
EXIT_USAGE = 2  # bad usage or invalid input


class CoachError(Exception):
    """An error the user can act on; rendered as `Error: <message>` on stderr."""

    exit_code = EXIT_FAILURE

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint

    def __str__(self) -> str:
        return f"{self.message} {self.hint}" if self.hint else self.message


class UsageError(CoachError):
    """The user's input is invalid: exit code 2."""

    exit_code = EXIT_USAGE


class NotFoundError(CoachError):
    """A named thing (task thread, dispatch, agent, fact) does not exist."""


class ConflictError(CoachError):
    """The request is valid but the current state refuses it (e.g. approving a decided dispatch)."""


class StoreError(CoachError):
    """The database cannot be opened, read or written."""


class ProviderError(CoachError):
    """The model provider failed; the message says what happened and what to do."""


class MissingCredentialsError(ProviderError):
    """No API key for the chosen provider: say which variable to set."""
