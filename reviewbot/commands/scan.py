"""reviewbot scan: audit whole C files, every line treated as new."""

from __future__ import annotations

import argparse
from pathlib import Path

from reviewbot.commands.common import (
    add_review_options,
    emit,
    options_from,
    settings_from,
    thresholds,
)
from reviewbot.pipeline import exit_status, scan_paths


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the scan subcommand."""
    parser = subs.add_parser("scan", help="audit C files or directories (every line is new)")
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument("--root", type=Path, metavar="DIR",
                        help="kernel tree root, for tree-relative paths (default: guessed)")
    add_review_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Scan and print the report."""
    settings = settings_from(args)
    options = options_from(args, settings)
    report = scan_paths(args.paths, options, args.root)
    minimum, fail_on = thresholds(args, settings)
    emit(report, args, minimum)
    return exit_status(report, fail_on)
