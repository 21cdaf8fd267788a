"""Deliver the outbox and the patchwork checks, under the kill switch and rate limits.

An outbox entry is marked ``sending`` (committed) before the transport is
called and ``sent`` after; an entry still ``sending`` when a new process
starts was interrupted mid-delivery and becomes ``uncertain``: it is not sent
again automatically (a second copy is worse than a missing one), and turns
``sent`` if the bot's mail shows up in the archive. Before an embargoed reply
goes out, replies that arrived meanwhile are checked: findings a human has
raised are dropped from it (and the whole reply when nothing is left).
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass

from reviewbot.config import Settings
from reviewbot.ingest import PatchMail, decode_text_parts, mail_from_message, read_message
from reviewbot.policy import DEFAULT_LIST, policy_for_list
from reviewbot.publish import SendError, Transport
from reviewbot.publish.patchwork import Check, PatchNotFound, PatchworkClient, PatchworkError
from reviewbot.reply import Templates
from reviewbot.store import Store
from reviewbot.watch.compose import draft_from_json, draft_patch_key, draft_to_json, render
from reviewbot.watch.signals import Stopper
from reviewbot.watch.thread import already_raised

log = logging.getLogger(__name__)
MAX_RETRY_DELAY = 24 * 3600.0


@dataclass(slots=True)
class FlushStats:
    """What one flush did."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0
    dropped: int = 0
    checks: int = 0
    killed: bool = False


class Sender:
    """Sends what the reviewer queued."""

    def __init__(self, store: Store, settings: Settings, transport: Transport | None,
                 patchwork: PatchworkClient | None, templates: Templates, stop: Stopper,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.transport = transport
        self.patchwork = patchwork
        self.templates = templates
        self.stop = stop
        self.clock = clock
        self._kill_logged = False
        self._down = False
        self._last_sent: float | None = None

    def new_cycle(self) -> None:
        """Allow delivery attempts again (after a server was found down this cycle)."""
        self._down = False

    def recover(self) -> int:
        """Entries left ``sending`` by a process that died: mark them ``uncertain``."""
        with self.store.tx():
            cur = self.store.execute(
                "UPDATE outbox SET status = 'uncertain', reason = 'interrupted during "
                "delivery; not sent again automatically' WHERE status = 'sending'")
        if cur.rowcount:
            log.warning("%d repl%s interrupted mid-delivery by an earlier crash marked "
                        "uncertain", cur.rowcount, "y" if cur.rowcount == 1 else "ies")
        return cur.rowcount

    def flush(self) -> FlushStats:
        """Send what is due; stop at the first unreachable server."""
        stats = FlushStats()
        if self.settings.policy.killed():
            stats.killed = True
            if not self._kill_logged:
                log.warning("kill switch is on: nothing is sent")
                self._kill_logged = True
            return stats
        self._kill_logged = False
        if self.transport is not None and not self._down:
            self._flush_outbox(stats)
        if self.patchwork is not None and not self.stop.requested():
            self._flush_checks(stats)
        return stats

    def _due(self) -> list[int]:
        now = self.clock()
        dry = self.transport is not None and self.transport.name == "dry-run"
        if dry:
            sql = "SELECT id FROM outbox WHERE status = 'pending' ORDER BY created_at, id"
            return [r["id"] for r in self.store.rows(sql)]
        return [r["id"] for r in self.store.rows(
            "SELECT id FROM outbox WHERE status = 'pending' AND not_before <= ? AND "
            "next_attempt_at <= ? ORDER BY created_at, id", (now, now))]

    def _flush_outbox(self, stats: FlushStats) -> None:
        assert self.transport is not None  # type narrowing  # nosec B101
        dry = self.transport.name == "dry-run"
        pause = 0.0 if dry else self.settings.smtp.send_interval_seconds
        for entry_id in self._due():
            if self.stop.requested():
                break
            entry = self.store.one("SELECT * FROM outbox WHERE id = ?", (entry_id,))
            if entry is None or entry["status"] != "pending":
                continue
            if not self._refresh(entry):
                stats.dropped += 1
                continue
            entry = self.store.one("SELECT * FROM outbox WHERE id = ?", (entry_id,))
            assert entry is not None  # type narrowing  # nosec B101
            if not dry and not self._within_rate(entry_id):
                stats.deferred += 1
                continue
            if pause and self._last_sent is not None:
                wait = self._last_sent + pause - time.monotonic()
                if wait > 0 and self.stop.wait(wait):
                    break
            if not self._deliver(entry, stats):
                self._down = True  # do not hammer a server that is down: next cycle
                break

    def _deliver(self, row: sqlite3.Row, stats: FlushStats) -> bool:
        assert self.transport is not None  # type narrowing  # nosec B101
        now = self.clock()
        with self.store.tx():
            self.store.execute("UPDATE outbox SET status = 'sending', sent_at = ?, "
                               "attempts = attempts + 1 WHERE id = ?", (now, row["id"]))
        try:
            self.transport.send(row["raw"], self.settings.bot.address,
                                json.loads(row["recipients"]), row["message_id"])
        except SendError as exc:
            attempts = int(row["attempts"]) + 1
            give_up = exc.permanent or attempts >= self.settings.smtp.max_attempts
            delay = min(self.settings.smtp.retry_seconds * (2 ** (attempts - 1)),
                        MAX_RETRY_DELAY)
            with self.store.tx():
                self.store.execute(
                    "UPDATE outbox SET status = ?, reason = ?, sent_at = NULL, "
                    "next_attempt_at = ? WHERE id = ?",
                    ("failed" if give_up else "pending", str(exc)[:500], now + delay,
                     row["id"]))
            if give_up:
                stats.failed += 1
                log.warning("reply %s failed: %s", row["message_id"], exc)
                return True
            stats.deferred += 1
            log.warning("reply %s not sent (will retry): %s", row["message_id"], exc)
            return False
        with self.store.tx():
            self.store.execute(
                "UPDATE outbox SET status = ?, reason = NULL, sent_at = ?, transport = ? "
                "WHERE id = ?",
                (self.transport.final_status, self.clock(), self.transport.name, row["id"]))
        stats.sent += 1
        self._last_sent = time.monotonic()
        return True

    def _within_rate(self, entry_id: int) -> bool:
        since = self.clock() - 3600
        for row in self.store.rows("SELECT list FROM outbox_lists WHERE outbox_id = ?",
                                   (entry_id,)):
            name = row["list"]
            policy = (self.settings.policy.default if name == DEFAULT_LIST
                      else policy_for_list(self.settings.policy, name))
            used = self.store.one(
                "SELECT COUNT(*) AS n FROM outbox o JOIN outbox_lists l ON l.outbox_id = o.id "
                "WHERE l.list = ? AND o.status IN ('sent', 'sending', 'uncertain') AND "
                "o.sent_at > ?", (name, since))
            if used is not None and int(used["n"]) >= policy.max_per_hour:
                return False
        return True

    def _refresh(self, row: sqlite3.Row) -> bool:
        """Drop findings raised by humans since the reply was queued; False if none remain."""
        key = draft_patch_key(row["draft"])
        new = self.store.one(
            "SELECT 1 FROM messages WHERE kind = 'reply' AND in_reply_to = ? AND seen_at > ?",
            (key, row["created_at"]))
        if new is None:
            return True
        patch_row = self.store.one("SELECT raw, source FROM messages WHERE msgid = ?", (key,))
        if patch_row is None or patch_row["raw"] is None:
            return True
        try:
            patch = mail_from_message(read_message(patch_row["raw"]), patch_row["source"])
        except Exception:  # keep the reply as it was rendered
            return True
        if not isinstance(patch, PatchMail):
            return True
        bodies = []
        for reply in self.store.rows("SELECT raw FROM messages WHERE kind = 'reply' AND "
                                     "in_reply_to = ? AND raw IS NOT NULL", (key,)):
            try:
                bodies.append(decode_text_parts(read_message(reply["raw"])))
            except Exception:  # noqa: S112  # an unreadable reply is skipped on purpose  # nosec B112
                continue
        draft = draft_from_json(row["draft"], patch)
        keep = [f for f in draft.findings if not already_raised(f.rule, f.snippet, bodies)]
        if len(keep) == len(draft.findings):
            return True
        with self.store.tx():
            for f in draft.findings:
                if f not in keep:
                    self.store.execute(
                        "UPDATE findings SET status = 'already-raised', mailed = 0 WHERE "
                        "review_id = ? AND rule = ? AND file = ? AND line = ?",
                        (row["review_id"], f.rule, f.file, f.line))
            fixed_only = bool(draft.fixed) and self.settings.mail.announce_fixed == "always"
            if not keep and not fixed_only:
                self.store.execute(
                    "UPDATE outbox SET status = 'dropped', reason = 'every finding was raised "
                    "in the thread before the embargo ended' WHERE id = ?", (row["id"],))
                return False
            draft.findings = keep
            raw, subject, rcpts = render(draft, self.settings, self.templates)
            self.store.execute(
                "UPDATE outbox SET raw = ?, subject = ?, recipients = ?, draft = ? WHERE id = ?",
                (raw, subject, json.dumps(rcpts), draft_to_json(draft, key), row["id"]))
        return True

    def _flush_checks(self, stats: FlushStats) -> None:
        assert self.patchwork is not None  # type narrowing  # nosec B101
        now = self.clock()
        pw = self.settings.patchwork
        for row in self.store.rows(
                "SELECT * FROM patchwork_checks WHERE status = 'pending' AND "
                "next_attempt_at <= ? ORDER BY id", (now,)):
            if self.stop.requested():
                return
            check = Check(row["patch_msgid"], row["state"], row["context"],
                          row["description"], row["target_url"])
            try:
                self.patchwork.post(check)
            except PatchworkError as exc:
                attempts = int(row["attempts"]) + 1
                give_up = exc.permanent or attempts >= pw.max_attempts
                with self.store.tx():
                    self.store.execute(
                        "UPDATE patchwork_checks SET status = ?, reason = ?, attempts = ?, "
                        "next_attempt_at = ? WHERE id = ?",
                        ("failed" if give_up else "pending", str(exc)[:300], attempts,
                         now + pw.retry_seconds, row["id"]))
                if not isinstance(exc, PatchNotFound) and not exc.permanent:
                    return  # the server is down: try again next cycle
                continue
            with self.store.tx():
                self.store.execute(
                    "UPDATE patchwork_checks SET status = 'sent', reason = NULL, sent_at = ?, "
                    "attempts = attempts + 1 WHERE id = ?", (self.clock(), row["id"]))
            stats.checks += 1
