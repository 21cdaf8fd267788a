"""Command-line entry point: argument parsing and dispatch only."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from reviewbot import __version__
from reviewbot.commands import COMMANDS


class UsageError(Exception):
    """A command was used wrongly (exit status 2)."""


def build_parser() -> argparse.ArgumentParser:
    """The full parser with every registered subcommand."""
    parser = argparse.ArgumentParser(
        prog="reviewbot",
        description="Review Linux kernel patches for memory-reclaim recursion hazards.",
    )
    parser.add_argument("--version", action="version", version=f"reviewbot {__version__}")
    subs = parser.add_subparsers(dest="command", metavar="COMMAND")
    subs.required = True
    for module in COMMANDS:
        module.register(subs)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run reviewbot; returns the exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        status: int = args.handler(args)
        return status
    except UsageError as exc:
        print(f"reviewbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("reviewbot: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":
    sys.exit(main())
