"""check --msgid: fetch a thread from a public-inbox server, review it, optionally reply."""

from __future__ import annotations

import argparse
import sys
import zlib

import requests
from liblore import LibloreError
from liblore.utils import split_mbox_as_bytes

from reviewbot.commands.common import emit, thresholds
from reviewbot.config import Settings
from reviewbot.ingest import read_bytes
from reviewbot.pipeline import Options, exit_status, review_ingested
from reviewbot.watch.bot import Bot
from reviewbot.watch.lore import make_node
from reviewbot.watch.signals import Stopper


def fetch_thread(url: str, msgid: str, settings: Settings) -> bytes:
    """The thread's mbox; raises UsageError-worthy RuntimeError when unreachable."""
    node = make_node(settings)(url)
    try:
        return node.get_mbox_by_msgid(msgid, nocache=True)
    except (LibloreError, requests.RequestException, OSError, EOFError, zlib.error) as exc:
        raise RuntimeError(f"cannot fetch <{msgid}> from {url}: {exc}") from exc
    finally:
        node.close()


def run_msgid(args: argparse.Namespace, settings: Settings, options: Options) -> int:
    """Review the thread of --msgid; with --reply, post through the bot's outbox."""
    from reviewbot.cli import UsageError

    msgid = args.msgid.strip().strip("<>")
    url = args.url or (settings.lore.urls[0] if settings.lore.urls else "")
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"--url: not an http(s) URL: {url!r}")
    try:
        mbox = fetch_thread(url, msgid, settings)
    except RuntimeError as exc:
        print(f"reviewbot: {exc}", file=sys.stderr)
        return 2
    source = f"{url.rstrip('/')}/{msgid}"
    ingested = read_bytes(mbox, source, settings.limits)
    report = review_ingested(ingested, options)
    minimum, fail_on = thresholds(args, settings)
    emit(report, args, minimum, stream=sys.stderr if args.reply and args.dry_run else None)
    status = exit_status(report, fail_on)
    if args.reply:
        post(args, settings, options, mbox, msgid, f"msgid:{url.rstrip('/')}")
    return status


def post(args: argparse.Namespace, settings: Settings, options: Options, mbox: bytes,
         msgid: str, source: str) -> None:
    """Take the thread into the bot's state and review the requested series once."""
    from reviewbot.commands.botopts import open_bot, setup_logging

    setup_logging(args.verbose)
    bot = open_bot(args, settings, options, Stopper())
    try:
        for raw in split_mbox_as_bytes(mbox):
            bot.take(raw, source)
        target = _target_series(bot, msgid)
        if target is None:
            print("reviewbot: no patch series in that thread to reply to", file=sys.stderr)
            return
        row = bot.store.one("SELECT status FROM series WHERE id = ?", (target,))
        if row is not None and row["status"] != "waiting":
            print(f"reviewbot: that series was already handled ({row['status']}); "
                  "nothing is posted twice", file=sys.stderr)
        bot.process(force={target}, only={target})
        print(bot.new_tally().line(source), file=sys.stderr)
    finally:
        bot.close()
        bot.store.close()


def _target_series(bot: Bot, msgid: str) -> int | None:
    row = bot.store.one("SELECT series_id, thread_root FROM messages WHERE msgid = ?", (msgid,))
    if row is None:
        return None
    if row["series_id"] is not None:
        return int(row["series_id"])
    newest = bot.store.one(
        "SELECT id FROM series WHERE thread_root = ? ORDER BY version DESC, id DESC LIMIT 1",
        (row["thread_root"],))
    return int(newest["id"]) if newest is not None else None
