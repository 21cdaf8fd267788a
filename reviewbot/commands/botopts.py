"""Options shared by ``watch`` and ``check --reply``: state, transports, patchwork."""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from reviewbot.config import Settings
from reviewbot.pipeline import Options
from reviewbot.publish import Transport
from reviewbot.publish.files import DryRun, OutboxDir
from reviewbot.publish.patchwork import PatchworkClient
from reviewbot.publish.smtp import SmtpTransport
from reviewbot.render.safe import terminal_safe
from reviewbot.reply import TemplateError
from reviewbot.store import Store, StoreError, default_db_path
from reviewbot.watch.bot import Bot
from reviewbot.watch.signals import Stopper


def add_bot_options(parser: argparse.ArgumentParser) -> None:
    """--db, --dry-run, --outbox-dir, --patchwork, --token, -v."""
    group = parser.add_argument_group("state and delivery")
    group.add_argument("--db", metavar="PATH", type=Path,
                       help="SQLite state (default: [storage] db, else "
                            "$XDG_DATA_HOME/reviewbot/state.db)")
    group.add_argument("--dry-run", action="store_true",
                       help="print replies on stdout instead of sending them (they are "
                            "recorded as dry-run and never sent later)")
    group.add_argument("--outbox-dir", metavar="DIR", type=Path,
                       help="write each reply as an .eml file in DIR instead of using SMTP")
    group.add_argument("--patchwork", metavar="URL",
                       help="post one check per patch to this patchwork ([patchwork] url)")
    group.add_argument("--token", metavar="TOKEN",
                       help="patchwork API token (better: $REVIEWBOT_PATCHWORK_TOKEN)")
    group.add_argument("-v", "--verbose", action="store_true", help="log more on stderr")


class _SafeFormatter(logging.Formatter):
    """Log messages carry Message-IDs and reasons from mail: no terminal escapes."""

    def formatMessage(self, record: logging.LogRecord) -> str:
        return terminal_safe(super().formatMessage(record))


def setup_logging(verbose: bool) -> None:
    """Log to stderr (warnings, or info with -v), control characters made visible."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_SafeFormatter("reviewbot: %(levelname)s: %(message)s"))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING,
                        handlers=[handler])


def db_path(args: argparse.Namespace, settings: Settings) -> Path:
    """--db, else [storage] db, else the XDG default."""
    if args.db:
        return Path(args.db)
    if settings.storage.db:
        return Path(settings.storage.db).expanduser()
    return default_db_path()


def transport_for(args: argparse.Namespace, settings: Settings) -> Transport | None:
    """--dry-run, else --outbox-dir, else SMTP when [smtp] host is set, else none."""
    if args.dry_run:
        return DryRun()
    if args.outbox_dir:
        return OutboxDir(args.outbox_dir)
    if settings.smtp.host:
        return SmtpTransport(settings.smtp)
    return None


def patchwork_for(args: argparse.Namespace, settings: Settings) -> PatchworkClient | None:
    """A patchwork client when --patchwork or [patchwork] url is set."""
    url = args.patchwork or settings.patchwork.url
    if not url:
        return None
    if not url.startswith(("http://", "https://")):
        from reviewbot.cli import UsageError

        raise UsageError(f"--patchwork: not an http(s) URL: {url!r}")
    return PatchworkClient(settings.patchwork, url=url, token=args.token)


def open_bot(args: argparse.Namespace, settings: Settings, options: Options,
             stop: Stopper) -> Bot:
    """The bot over the chosen store and transports (usage errors on bad setup)."""
    from reviewbot.cli import UsageError

    try:
        store = Store.open(db_path(args, settings))
    except StoreError as exc:
        raise UsageError(str(exc)) from exc
    transport = transport_for(args, settings)
    try:
        return Bot(store, settings, options, transport, patchwork_for(args, settings), stop)
    except (TemplateError, UsageError) as exc:
        store.close()
        raise UsageError(str(exc)) from exc
