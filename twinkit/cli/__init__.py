"""The `twinkit` command line: a thin layer over the Python API (`twinkit.api`). Each command
parses its options, calls the API and prints what it returned; heavy imports happen inside the
commands, so `twinkit --help` stays fast."""

from twinkit.cli import (  # noqa: F401  (they register)
    case_commands,
    dashboard_command,
    fleet_command,
    history_command,
    run_commands,
    twin_commands,
)
from twinkit.cli.app import app


def main() -> None:
    app()


__all__ = ["app", "main"]
