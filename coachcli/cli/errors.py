"""Turn every failure into one `Error:` line and a documented exit code (no tracebacks)."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from coachcli.cli.output import error_line
from coachcli.config import debug_enabled
from coachcli.errors import EXIT_FAILURE, CoachError, StoreError
from coachcli.redact import redact


def store_error(exc: BaseException) -> StoreError:
    """Describe a database failure in terms the user can act on."""
    text = str(getattr(exc, "orig", exc)).lower()
    if "readonly" in text or "read-only" in text:
        return StoreError(
            "the database is read-only: check the file and folder permissions (see `coach db path`)."
        )
    if "disk is full" in text or "no space" in text:
        return StoreError("the disk is full: nothing new was saved; free some space and try again.")
    if "locked" in text:
        return StoreError("the database stayed locked by another coach process for too long: try again.")
    if "unable to open" in text:
        return StoreError("cannot open the database file: check that its folder exists and is writable.")
    if "malformed" in text or "not a database" in text:
        return StoreError("the database file is damaged or not a coach database: see `coach db check`.")
    first = str(getattr(exc, "orig", exc)).splitlines()[0][:200]
    return StoreError(f"database error: {first}")


def _fail(exc: CoachError) -> NoReturn:
    _error(str(exc))
    sys.exit(exc.exit_code)


def _error(message: str) -> None:
    """The one `Error:` line; secrets (URL passwords, keys) are masked here as a last defence."""
    error_line(redact(message))


class CoachGroup(TyperGroup):
    """The root group: usage errors, CoachErrors and database errors become one line each."""

    def main(
        self,
        args: Sequence[str] | None = None,
        prog_name: str | None = None,
        complete_var: str | None = None,
        standalone_mode: bool = True,
        windows_expand_args: bool = True,
        **extra: Any,
    ) -> Any:
        debug = debug_enabled()
        try:
            result = super().main(
                args, prog_name, complete_var, False, windows_expand_args=windows_expand_args, **extra
            )
        except Exit as exc:
            sys.exit(exc.exit_code)
        except CoachError as exc:
            if debug:
                raise
            _fail(exc)
        except TyperException as exc:  # click-style usage errors: exit 2
            if type(exc).__name__ == "NoArgsIsHelpError":  # bare `coach`: the help, as click shows it
                sys.stderr.write(exc.format_message() + "\n")
                sys.exit(2)
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            hint = ""
            ctx = getattr(exc, "ctx", None)
            if ctx is not None:
                hint = f" See '{ctx.command_path} --help'."
            _error(message.rstrip(".") + "." + hint)
            sys.exit(getattr(exc, "exit_code", 2))
        except Abort:
            sys.stderr.write("Aborted.\n")
            sys.exit(EXIT_FAILURE)
        except KeyboardInterrupt:
            sys.stderr.write("Interrupted.\n")
            sys.exit(130)
        except BrokenPipeError:
            sys.exit(EXIT_FAILURE)
        except Exception as exc:
            if debug:
                raise
            if type(exc).__module__.startswith("sqlalchemy"):  # not imported here: keeps --help fast
                _fail(store_error(exc))
            _error(
                f"internal error ({type(exc).__name__}: {exc}); run again with COACH_DEBUG=1 for the "
                "traceback and please report it."
            )
            sys.exit(EXIT_FAILURE)
        if standalone_mode:
            sys.exit(result if isinstance(result, int) else 0)
        return result
