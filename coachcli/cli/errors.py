"""Turn every failure into one `Error:` line and a documented exit code (no tracebacks)."""

from __future__ import annotations

import os
import sys
from typing import Any, NoReturn

from typer.core import TyperGroup
from typer.exceptions import Abort, Exit, TyperException

from coachcli.cli.output import error_line
from coachcli.errors import EXIT_FAILURE, CoachError, StoreError


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
    error_line(str(exc))
    sys.exit(exc.exit_code)


class CoachGroup(TyperGroup):
    """The root group: usage errors, CoachErrors and database errors become one line each."""

    def main(self, *args: Any, standalone_mode: bool = True, **kwargs: Any) -> Any:  # type: ignore[override]
        debug = os.environ.get("COACH_DEBUG") == "1"
        try:
            result = super().main(*args, standalone_mode=False, **kwargs)
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
            error_line(message.rstrip(".") + "." + hint)
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
            error_line(
                f"internal error ({type(exc).__name__}: {exc}); run again with COACH_DEBUG=1 for the "
                "traceback and please report it."
            )
            sys.exit(EXIT_FAILURE)
        if standalone_mode:
            sys.exit(result if isinstance(result, int) else 0)
        return result
