"""
The ``wa-perfkit`` console script: an argparse dispatcher.

Each command group lives next to the code it drives and registers itself
with a ``register(subparsers)`` function that sets a ``handler`` default:
``handler(args) -> int`` returns the exit code. Adding a command is one line
in `_COMMANDS`. Expected failures (`WaPerfkitError`) print one line on stderr
and exit with their code; anything else is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from typing import Any, Final

from wa_perfkit._version import __version__
from wa_perfkit.demo import cli as demo_cli
from wa_perfkit.errors import WaPerfkitError
from wa_perfkit.sql import cli as sql_cli

__all__ = ["build_parser", "main"]

Register = Callable[["argparse._SubParsersAction[Any]"], None]

#: Command groups, in help order.
_COMMANDS: Final[tuple[Register, ...]] = (
    sql_cli.register,
    demo_cli.register,
)


def build_parser() -> argparse.ArgumentParser:
    """
    Build the ``wa-perfkit`` argument parser with every command group.

    Returns:
        The parser.
    """
    parser = argparse.ArgumentParser(
        prog="wa-perfkit", description="wa_perfkit tools for WhatsApp inbox backends."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for register in _COMMANDS:
        register(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """
    Run ``wa-perfkit`` and return its exit code.

    Args:
        argv: the arguments after the program name (default: ``sys.argv[1:]``).

    Returns:
        The process exit code (see `wa_perfkit.sql.ExitCode`). Command-line
        errors exit with 2 through argparse's ``SystemExit``.
    """
    args = build_parser().parse_args(argv)
    handler: Callable[[argparse.Namespace], int] = args.handler
    try:
        return int(handler(args))
    except WaPerfkitError as exc:
        print(f"wa-perfkit: error: {exc}", file=sys.stderr)
        return int(getattr(exc, "exit_code", 1))


if __name__ == "__main__":
    sys.exit(main())
