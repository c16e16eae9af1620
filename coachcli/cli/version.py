"""`coach version [--verbose]` and `coach --version [-v]`: what to paste into a bug report."""

from __future__ import annotations

from typing import Annotated

import typer

from coachcli import __version__


def version_lines(*, verbose: bool) -> list[str]:
    """`coach X.Y.Z`; verbose adds Python, litellm (read from its metadata, never imported) and the
    platform."""
    lines = [f"coach {__version__}"]
    if verbose:
        import platform
        from importlib.metadata import PackageNotFoundError, version

        try:
            litellm = version("litellm")
        except PackageNotFoundError:
            litellm = "not installed"
        lines += [
            f"Python {platform.python_version()} ({platform.python_implementation()})",
            f"litellm {litellm}",
            f"Platform {platform.platform()}",
        ]
    return lines


def version_cmd(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="Also the Python, litellm and platform versions.")
    ] = False,
) -> None:
    """Show the version (with --verbose: also Python, litellm and the platform, for bug reports)."""
    print("\n".join(version_lines(verbose=verbose)))


def register(app: typer.Typer) -> None:
    app.command("version")(version_cmd)
