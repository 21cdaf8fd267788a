"""reviewbot check: review patches, mails, mboxes and diffs, or a thread fetched by Message-ID."""

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
                    "a directory of those, or - for standard input. With --msgid, the thread "
                    "is fetched from a public-inbox server instead.")
    parser.add_argument("paths", nargs="*", metavar="PATH")
    parser.add_argument("--all-versions", action="store_true",
                        help="review every version of a series, not only the newest")
    parser.add_argument("--msgid", metavar="MSGID",
                        help="fetch this Message-ID's thread from a public-inbox server")
    parser.add_argument("--url", metavar="URL",
                        help="the public-inbox server for --msgid (default: first [lore] url)")
    parser.add_argument("--reply", action="store_true",
                        help="with --msgid: also reply through the bot's outbox (once)")
    add_review_options(parser)
    from reviewbot.commands.botopts import add_bot_options

    add_bot_options(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Review the inputs and print the report."""
    from reviewbot.cli import UsageError

    settings = settings_from(args)
    options = options_from(args, settings)
    options.all_versions = args.all_versions
    if args.msgid:
        if args.paths:
            raise UsageError("give PATHs or --msgid, not both")
        from reviewbot.commands.msgid import run_msgid

        return run_msgid(args, settings, options)
    if args.reply or args.url:
        raise UsageError("--reply and --url go with --msgid")
    if not args.paths:
        raise UsageError("nothing to check: give PATHs, - for stdin, or --msgid")
    stdin = sys.stdin.buffer.read() if "-" in args.paths else None
    report, ingested = review_paths(args.paths, options, stdin)
    minimum, fail_on = thresholds(args, settings)
    emit(report, args, minimum)
    if not report.reviews and not ingested.errors:
        print("reviewbot: no patches found in the input", file=sys.stderr)
    return exit_status(report, fail_on)
