"""reviewbot check: review patches, mails, mboxes and diffs."""

from __future__ import annotations

import argparse
import sys

from reviewbot.commands.common import (
    add_review_options,
    emit,
    options_from,
    settings_from,
    thresholds,
)
from reviewbot.pipeline import exit_status, review_paths


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the check subcommand."""
    parser = subs.add_parser(
        "check", help="review patches (mails, mbox threads, format-patch files, diffs)",
        description="Review patches for memory-reclaim recursion hazards. PATH may be a raw "
                    "mail, an mbox (a whole thread), a git format-patch file, a unified diff, "
                    "a directory of those, or - for standard input.")
    parser.add_argument("paths", nargs="+", metavar="PATH")
    parser.add_argument("--all-versions", action="store_true",
                        help="review every version of a series, not only the newest")
    add_review_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Review the inputs and print the report."""
    settings = settings_from(args)
    options = options_from(args, settings)
    options.all_versions = args.all_versions
    stdin = sys.stdin.buffer.read() if "-" in args.paths else None
    report, ingested = review_paths(args.paths, options, stdin)
    minimum, fail_on = thresholds(args, settings)
    emit(report, args, minimum)
    if not report.reviews and not ingested.errors:
        print("reviewbot: no patches found in the input", file=sys.stderr)
    return exit_status(report, fail_on)
