"""reviewbot summary: a digest of what the bot found, as text, Markdown or a mail."""

from __future__ import annotations

import argparse
import sys
import time
from email.headerregistry import Address
from pathlib import Path

from reviewbot.commands.botopts import db_path, setup_logging
from reviewbot.commands.common import settings_from
from reviewbot.commands.dashboard_cmd import maintainers_path
from reviewbot.dashboard.build import BuildError, load_maintainers
from reviewbot.dashboard.data import DataError, load
from reviewbot.publish import SendError
from reviewbot.publish.smtp import SmtpTransport
from reviewbot.render.digest import Linker, build_mail, render_markdown, render_text
from reviewbot.render.safe import terminal_safe
from reviewbot.store import StoreError
from reviewbot.summary import (
    Selection,
    SummaryError,
    last_digest,
    make,
    parse_time,
    record_digest,
)


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the summary subcommand."""
    parser = subs.add_parser(
        "summary", help="a digest of the bot's findings for a list, subsystem or maintainer",
        description="Counts, the top findings with links, and what changed since the last "
                    "digest of the same scope (recorded in the database unless --no-record).")
    parser.add_argument("--db", type=Path, metavar="PATH",
                        help="the bot's SQLite state (default: [storage] db, else "
                             "$XDG_DATA_HOME/reviewbot/state.db)")
    parser.add_argument("--since", default="7d", metavar="WHEN",
                        help="start of the window: 12h, 7d, 2w, or a date YYYY-MM-DD "
                             "(default: 7d)")
    parser.add_argument("--until", metavar="WHEN",
                        help="end of the window: a date YYYY-MM-DD[THH:MM] (UTC), or a "
                             "duration before now (default: now)")
    scope = parser.add_mutually_exclusive_group()
    scope.add_argument("--maintainer", metavar="EMAIL",
                       help="findings in files whose MAINTAINERS entries name EMAIL (M:/R:)")
    scope.add_argument("--subsystem", metavar="NAME", help="one MAINTAINERS entry, by title")
    scope.add_argument("--list", dest="list_name", metavar="LIST",
                       help="series sent to this list (address or List-Id)")
    parser.add_argument("--format", choices=["text", "markdown", "email"], default="text",
                        help="text (default), markdown, or email: a complete mail on stdout")
    parser.add_argument("--to", action="append", default=[], metavar="ADDR",
                        help="recipient of the mail (repeatable; default with --maintainer: "
                             "that address)")
    parser.add_argument("--send", action="store_true",
                        help="with --format email: send it through [smtp] instead of printing")
    parser.add_argument("--no-record", action="store_true",
                        help="do not record this digest (a preview; the next digest still "
                             "reports changes since the last recorded one)")
    parser.add_argument("--maintainers", type=Path, metavar="FILE",
                        help="the kernel's MAINTAINERS file (default: [dashboard] maintainers)")
    parser.add_argument("--config", type=Path, metavar="FILE", help="site configuration")
    parser.add_argument("-v", "--verbose", action="store_true", help="log more on stderr")
    parser.set_defaults(handler=run)


def _selection(args: argparse.Namespace) -> Selection:
    if args.maintainer:
        return Selection("maintainer", args.maintainer)
    if args.subsystem:
        return Selection("subsystem", args.subsystem)
    if args.list_name:
        return Selection("list", args.list_name)
    return Selection()


def _recipients(args: argparse.Namespace) -> list[str]:
    from reviewbot.cli import UsageError

    wanted = list(args.to) or ([args.maintainer] if args.maintainer else [])
    out = []
    for value in wanted:
        try:
            address = Address(addr_spec=value.strip())
        except (ValueError, IndexError, TypeError) as exc:
            raise UsageError(f"--to: not an address: {value!r}") from exc
        if not address.domain:
            raise UsageError(f"--to: not an address: {value!r}")
        out.append(address.addr_spec)
    if not out:
        raise UsageError("--format email needs --to ADDR (or --maintainer EMAIL)")
    return out


def run(args: argparse.Namespace) -> int:
    """Make, print or send, and record a digest."""
    from reviewbot.cli import UsageError

    setup_logging(args.verbose)
    settings = settings_from(args)
    if args.send and args.format != "email":
        raise UsageError("--send needs --format email")
    if args.send and not settings.smtp.host:
        raise UsageError("--send needs an SMTP server ([smtp] host)")
    recipients = _recipients(args) if args.format == "email" else []
    db = db_path(args, settings)
    selection = _selection(args)
    now = time.time()
    try:
        end = parse_time(args.until, now) if args.until else now
        start = parse_time(args.since, end)
        if start >= end:
            raise SummaryError("--since must be before --until")
        index, warnings = load_maintainers(maintainers_path(args, settings))
        data = load(db)
        digest = make(data, selection, index, start, end, last_digest(db, selection.key),
                      settings.dashboard.top_findings)
    except (SummaryError, BuildError, DataError) as exc:
        raise UsageError(str(exc)) from exc
    for warning in warnings if args.verbose else []:
        print(terminal_safe(f"reviewbot: warning: {warning}"), file=sys.stderr)
    link = Linker(settings.dashboard, settings.bot.docs_url)
    if args.format == "markdown":
        sys.stdout.write(render_markdown(digest, link))
    elif args.format == "text":
        sys.stdout.write("".join(terminal_safe(line) + "\n"
                                 for line in render_text(digest, link).splitlines()))
    else:
        mail = build_mail(digest, render_text(digest, link), settings.bot, recipients)
        raw = mail.as_bytes()
        if args.send:
            transport = SmtpTransport(settings.smtp)
            try:
                transport.send(raw, settings.bot.address, recipients,
                               str(mail["Message-ID"]).strip("<>"))
            except SendError as exc:
                print(terminal_safe(f"reviewbot: the digest was not sent: {exc}"),
                      file=sys.stderr)
                return 1
            finally:
                transport.close()
            print(f"reviewbot: digest sent to {', '.join(recipients)}", file=sys.stderr)
        else:
            sys.stdout.flush()
            binary = getattr(sys.stdout, "buffer", None)
            if binary is not None:
                binary.write(raw)
                binary.flush()
            else:  # a text stream (tests capturing output)
                sys.stdout.write(raw.decode("utf-8", "replace"))
    if not args.no_record:
        try:
            record_digest(db, selection.key, start, end)
        except StoreError as exc:
            raise UsageError(str(exc)) from exc
    return 0
