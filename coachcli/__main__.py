"""`python -m coachcli` runs the same entry point as the `coach` script."""

from coachcli.cli.app import main

main()
