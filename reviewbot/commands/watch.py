"""reviewbot watch: poll lore / public-inbox, a public-inbox git mirror, or a git branch."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

from reviewbot.commands.botopts import add_bot_options, open_bot, setup_logging
from reviewbot.commands.common import options_from, settings_from
from reviewbot.limits import limit_memory
from reviewbot.render.safe import terminal_safe
from reviewbot.watch.bot import Bot
from reviewbot.watch.errors import SourceError
from reviewbot.watch.gitref import GitRefSource, RefError
from reviewbot.watch.lore import build_query, lore_sources
from reviewbot.watch.pigit import InboxError, PublicInboxGitSource
from reviewbot.watch.signals import Stopper

EPILOG = """exit status: 0 done (or stopped by SIGTERM/SIGINT after the current item),
2 usage or configuration error, 3 (with --once) a source could not be read;
nothing was lost and the next run picks it up."""

Poll = Callable[[Bot], object]


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the watch subcommand and its three sources."""
    parser = subs.add_parser("watch", help="watch lists or branches and reply to new patches",
                             description="Review every new patch series once and reply "
                                         "in the thread.")
    actions = parser.add_subparsers(dest="source", metavar="SOURCE")
    actions.required = True
    lore = actions.add_parser("lore", help="poll public-inbox servers (lore.kernel.org)",
                              epilog=EPILOG)
    lore.add_argument("--url", action="append", default=[], metavar="URL",
                      help="public-inbox URL (repeatable; default: [lore] urls)")
    lore.add_argument("--query", metavar="Q",
                      help="search terms (default: [lore] query, else [scope] lists)")
    pigit = actions.add_parser("public-inbox-git", help="read a local public-inbox v2 mirror",
                               epilog=EPILOG)
    pigit.add_argument("--repo", required=True, metavar="DIR",
                       help="the inbox directory (with git/N.git epochs)")
    gitp = actions.add_parser("git", help="review each new commit on a branch (tree mode)",
                              epilog=EPILOG)
    gitp.add_argument("--repo", required=True, metavar="DIR", help="the git repository")
    gitp.add_argument("--ref", required=True, metavar="REF", help="the branch to follow")
    gitp.add_argument("--since", metavar="REV",
                      help="on the first run, review the commits after REV (default: start "
                           "at the tip, reviewing only commits that arrive later)")
    gitp.add_argument("--list", metavar="ADDR", dest="list_name",
                      help="the list whose [policy] applies to the replies (and which is "
                           "Cc'd in 'lists' mode)")
    for sub in (lore, pigit, gitp):
        sub.add_argument("--interval", type=float, metavar="S",
                         help="seconds between polls (default: [lore] interval)")
        sub.add_argument("--once", action="store_true", help="poll once and exit")
        sub.add_argument("--config", metavar="FILE", type=Path, help="site configuration")
        sub.add_argument("--kernel-version", metavar="X.Y", help="target kernel")
        sub.add_argument("--select", action="append", default=[], metavar="RULES",
                         help="only these rules")
        sub.add_argument("--ignore", action="append", default=[], metavar="RULES",
                         help="skip these rules")
        sub.set_defaults(handler=run, no_progress=True)
        add_bot_options(sub)


def run(args: argparse.Namespace) -> int:
    """Run the chosen watcher."""
    from reviewbot.cli import UsageError

    setup_logging(args.verbose)
    settings = settings_from(args)
    options = options_from(args, settings)
    stop = Stopper()
    if args.source == "lore":
        urls = args.url or settings.lore.urls
        for url in urls:
            if not url.startswith(("http://", "https://")):
                raise UsageError(f"--url: not an http(s) URL: {url!r}")
        query = build_query(settings, args.query)
        polls: list[tuple[str, Poll]] = [
            (s.url, s.poll) for s in lore_sources(urls, query, settings)]
    elif args.source == "public-inbox-git":
        source = PublicInboxGitSource(args.repo, settings)
        polls = [(str(source.directory), source.poll)]
    else:
        try:
            ref_source = GitRefSource(args.repo, args.ref, args.since, args.list_name)
        except RefError as exc:
            raise UsageError(str(exc)) from exc
        polls = [(f"{ref_source.directory}#{ref_source.ref}", ref_source.poll)]
    interval = args.interval if args.interval is not None else settings.lore.interval
    if interval <= 0:
        raise UsageError("--interval must be positive")
    limit_memory(settings.limits.max_memory_mb)
    bot = open_bot(args, settings, options, stop)
    stop.install()
    try:
        return loop(bot, polls, interval, args.once)
    finally:
        stop.uninstall()
        bot.close()
        bot.store.close()


def loop(bot: Bot, polls: list[tuple[str, Poll]], interval: float, once: bool) -> int:
    """Poll every source, review, send; repeat every ``interval`` seconds."""
    while True:
        failed = False
        for label, poll in polls:
            if bot.stop.requested():
                break
            try:
                poll(bot)
            except SourceError as exc:
                print(terminal_safe(f"reviewbot: {exc} (will retry; nothing was lost)"),
                      file=sys.stderr)
                failed = True
            except (RefError, InboxError) as exc:
                print(f"reviewbot: {exc}", file=sys.stderr)
                return 2
            bot.process()
            print(bot.new_tally().line(label), file=sys.stderr)
        bot.prune()
        pending = bot.pending()
        if pending and bot.transport is None:
            print(f"reviewbot: {pending} replies pending: no transport ([smtp] host, "
                  "--outbox-dir or --dry-run)", file=sys.stderr)
        if bot.stop.requested():
            print(f"reviewbot: stopped ({bot.stop.signal_name}) after finishing the current "
                  "item", file=sys.stderr)
            return 0
        if once:
            return 3 if failed else 0
        if bot.stop.wait(interval):
            print(f"reviewbot: stopped ({bot.stop.signal_name})", file=sys.stderr)
            return 0
