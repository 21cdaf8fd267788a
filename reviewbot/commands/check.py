"""reviewbot check: review patches, mails, mboxes and diffs (optionally against a tree),
or a thread fetched from a public-inbox server by Message-ID."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from reviewbot.commands.botopts import add_bot_options
from reviewbot.commands.common import (
    add_review_options,
    emit,
    options_from,
    settings_from,
    thresholds,
)
from reviewbot.gitsource import GitError
from reviewbot.ingest import read_paths
from reviewbot.models import Report
from reviewbot.pipeline import Options, exit_status, review_ingested


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the check subcommand."""
    parser = subs.add_parser(
        "check", help="review patches (mails, mbox threads, format-patch files, diffs)",
        description="Review patches for memory-reclaim recursion hazards. PATH may be a raw "
                    "mail, an mbox (a whole thread), a git format-patch file, a unified diff, "
                    "a directory of those, or - for standard input. With --tree the series "
                    "is applied in a temporary worktree of DIR and reviewed with whole files; "
                    "with --git the commits of a range are reviewed instead of PATHs; with "
                    "--msgid the thread is fetched from a public-inbox server.")
    parser.add_argument("paths", nargs="*", metavar="PATH")
    parser.add_argument("--all-versions", action="store_true",
                        help="review every version of a series, not only the newest")
    parser.add_argument("--tree", type=Path, metavar="DIR",
                        help="kernel git checkout to apply the series to (never modified)")
    parser.add_argument("--base", metavar="REV",
                        help="with --tree: apply on REV (default: the series' base-commit:, "
                             "else HEAD)")
    parser.add_argument("--git", metavar="REV_RANGE", dest="git_range",
                        help="review the commits of A..B (or one commit) each against its "
                             "parent")
    parser.add_argument("--repo", type=Path, metavar="DIR",
                        help="with --git: the repository (default: the current directory)")
    parser.add_argument("--msgid", metavar="MSGID",
                        help="fetch this Message-ID's thread from a public-inbox server")
    parser.add_argument("--url", metavar="URL",
                        help="the public-inbox server for --msgid (default: first [lore] url)")
    parser.add_argument("--reply", action="store_true",
                        help="with --msgid: also reply through the bot's outbox (once)")
    add_review_options(parser)
    add_bot_options(parser)
    parser.set_defaults(handler=run)


def _check_combination(args: argparse.Namespace) -> None:
    from reviewbot.cli import UsageError

    if args.msgid is not None:
        if args.paths or args.git_range is not None or args.tree is not None:
            raise UsageError("--msgid fetches the patches: give no PATH, --git or --tree")
        return
    if args.reply or args.url:
        raise UsageError("--reply and --url go with --msgid")
    if args.git_range is not None:
        if args.paths:
            raise UsageError("--git reviews commits; give no PATH with it")
        if args.tree is not None or args.base is not None:
            raise UsageError("--git cannot be combined with --tree or --base")
    else:
        if args.repo is not None:
            raise UsageError("--repo only goes with --git")
        if args.base is not None and args.tree is None:
            raise UsageError("--base only goes with --tree")
        if not args.paths:
            raise UsageError("no PATH given (or use --git REV_RANGE)")


def _review(args: argparse.Namespace, options: Options) -> tuple[Report, int]:
    """(report, number of unreadable inputs)."""
    from reviewbot.cli import UsageError
    from reviewbot.treereview import review_git_range, review_in_tree

    try:
        if args.git_range is not None:
            return review_git_range(args.repo or Path("."), args.git_range, options), 0
        stdin = sys.stdin.buffer if "-" in args.paths else None
        ingested = read_paths(args.paths, stdin, options.settings.limits)
        if args.tree is not None:
            report = review_in_tree(ingested, options, args.tree, args.base)
        else:
            report = review_ingested(ingested, options)
        return report, len(ingested.errors)
    except GitError as exc:
        raise UsageError(str(exc)) from exc


def run(args: argparse.Namespace) -> int:
    """Review the inputs and print the report."""
    _check_combination(args)
    settings = settings_from(args)
    options = options_from(args, settings)
    options.all_versions = args.all_versions
    if args.msgid is not None:
        from reviewbot.commands.msgid import run_msgid

        return run_msgid(args, settings, options)
    report, errors = _review(args, options)
    minimum, fail_on = thresholds(args, settings)
    emit(report, args, minimum)
    if not report.reviews and not errors:
        what = "commits in the range" if args.git_range is not None else "patches in the input"
        print(f"reviewbot: no {what}", file=sys.stderr)
    return exit_status(report, fail_on)
