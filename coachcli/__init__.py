"""coachcli: a command-line AI coaching assistant."""

__version__ = "0.1.0"
