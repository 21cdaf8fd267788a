"""The bot: one state machine that every source feeds.

Sources call :meth:`Bot.take` per raw message (or :meth:`Bot.take_commit` per
commit) with the cursor to record alongside, then :meth:`Bot.process`, which
reviews each ready series and flushes the outbox after each one, so a stop
request (SIGTERM) lands between two series, never inside one.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import git

from reviewbot.config import Settings
from reviewbot.pipeline import Options
from reviewbot.publish import Transport
from reviewbot.publish.patchwork import PatchworkClient
from reviewbot.render.safe import terminal_safe
from reviewbot.reply import Templates
from reviewbot.store import Store
from reviewbot.watch.commit_review import (
    DiffError,
    commit_diff,
    commit_patch,
    diff_key,
    review_commit,
)
from reviewbot.watch.intake import Heads, Intake, Intaker
from reviewbot.watch.reviewer import Reviewer
from reviewbot.watch.sender import FlushStats, Sender
from reviewbot.watch.signals import Stopper

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Tally:
    """Counts for the summary line of a cycle."""

    new: int = 0
    duplicates: int = 0
    problems: list[str] = field(default_factory=list)
    series: int = 0
    patches: int = 0
    findings: int = 0
    queued: int = 0
    sent: int = 0
    deferred: int = 0
    failed: int = 0
    checks: int = 0
    errors: list[str] = field(default_factory=list)

    def line(self, label: str) -> str:
        """One human-readable summary line."""
        parts = [f"{self.new} new message{'s' if self.new != 1 else ''}",
                 f"{self.series} series reviewed ({self.patches} patches, "
                 f"{self.findings} findings)",
                 f"{self.queued} replies queued", f"{self.sent} sent"]
        if self.deferred:
            parts.append(f"{self.deferred} waiting to be sent")
        if self.failed:
            parts.append(f"{self.failed} failed")
        if self.checks:
            parts.append(f"{self.checks} patchwork checks")
        if self.problems:
            parts.append(f"{len(self.problems)} unreadable or skipped")
        return f"reviewbot: {label}: " + ", ".join(parts)


class Bot:
    """Intake, review and delivery over one store."""

    def __init__(self, store: Store, settings: Settings, options: Options,
                 transport: Transport | None = None, patchwork: PatchworkClient | None = None,
                 stop: Stopper | None = None, clock: Callable[[], float] = time.time,
                 echo: Callable[[str], None] | None = None) -> None:
        self.store = store
        self.settings = settings
        self.options = options
        self.stop = stop or Stopper()
        self.clock = clock
        self.echo = echo or (lambda text: print(text, file=sys.stderr))
        self.templates = Templates.load(settings.mail.template_dir)
        self.intaker = Intaker(store, settings, clock)
        self.reviewer = Reviewer(store, settings, options, self.templates,
                                 patchwork is not None, clock)
        self.sender = Sender(store, settings, transport, patchwork, self.templates, self.stop,
                             clock)
        self.transport = transport
        self.tally = Tally()
        self.sender.recover()

    def take(self, raw: bytes, source: str, cursor: tuple[str, str] | None = None,
             size: int | None = None) -> Intake:
        """Record one raw message (and its source's cursor) exactly once; ``size``: ``raw``
        is only the head of an oversized message of that many bytes."""
        result = self.intaker.take(raw, source, cursor, size)
        self._count(result)
        return result

    def _count(self, result: Intake) -> None:
        if result.duplicate:
            self.tally.duplicates += 1
            return
        self.tally.new += 1
        if result.kind in ("malformed", "too-large") or result.status == "failed":
            text = f"{result.msgid}: {result.kind}: {result.reason}"
            self.tally.problems.append(text)
            self.echo(terminal_safe(f"reviewbot: skipped {text}"))  # msgid and reason: mail

    def take_commit(self, repo: git.Repo, commit: git.Commit, ref: str,
                    list_name: str | None, source: str) -> Intake:
        """Review one commit (tree mode) and record it with the source's cursor."""
        cursor = (source, commit.hexsha)
        try:
            diff = commit_diff(repo, commit)
        except git.GitCommandError as exc:
            return self._commit_problem(f"commit:{commit.hexsha}", commit, source, cursor,
                                        "malformed", "failed", f"git diff failed ({exc.status})")
        key = diff_key(diff)
        if self.intaker.seen(key):
            self.store.set_cursor(*cursor)
            result = Intake(key, "commit", "seen", duplicate=True)
            self._count(result)
            return result
        limit = self.settings.limits.max_message_bytes
        if len(diff) > limit:
            return self._commit_problem(key, commit, source, cursor, "too-large", "skipped",
                                        f"diff is {len(diff)} bytes, over [limits] "
                                        f"max_message_bytes ({limit})")
        try:
            mail = commit_patch(repo, commit, diff, key, list_name)
            review = review_commit(mail, commit, self.options)
        except DiffError as exc:
            return self._commit_problem(key, commit, source, cursor, "commit", "skipped",
                                        f"no reviewable diff ({exc})")
        except Exception as exc:  # one bad commit never stops the branch
            log.exception("commit %s failed", commit.hexsha)
            return self._commit_problem(key, commit, source, cursor, "malformed", "failed",
                                        f"review failed: {type(exc).__name__}")
        heads = Heads(key, mail.subject, mail.author,
                      mail.date.isoformat() if mail.date else None, mail.in_reply_to,
                      mail.references, (list_name,) if list_name else ())
        with self.store.tx():
            series_id = self.intaker.new_series(key, heads, mail.title, source)
            self.intaker.record(key, source, "commit", "seen", None, heads,
                                series_id=series_id, counter=1, commit=commit.hexsha)
            if not self.reviewer.in_scope([mail]):
                self.reviewer.set_status(series_id, "skipped", "outside [scope] paths")
            else:
                outcome = self.reviewer.record(series_id, [mail], {key: review}, None,
                                               review.findings, commit_ref=ref)
                self.reviewer.set_status(series_id, "reviewed", None)
                self.tally.series += 1
                self.tally.patches += 1
                self.tally.findings += outcome.findings
                self.tally.queued += len(outcome.queued)
            self.store.set_cursor(*cursor)
        self.tally.new += 1
        self.flush()
        return Intake(key, "commit", "seen", series_id=series_id)

    def _commit_problem(self, key: str, commit: git.Commit, source: str,
                        cursor: tuple[str, str], kind: str, status: str, reason: str) -> Intake:
        heads = Heads(key, str(commit.summary), (str(commit.author.name or ""),
                      str(commit.author.email or "")), None, None, (), ())
        with self.store.tx():
            if not self.intaker.seen(key):
                self.intaker.record(key, source, kind, status, reason, heads,
                                    commit=commit.hexsha)
            self.store.set_cursor(*cursor)
        result = Intake(key, kind, status, reason)
        self._count(result)
        return result

    def process(self, force: set[int] | None = None, only: set[int] | None = None) -> None:
        """Review every ready series (or just ``only``), flushing after each one."""
        for series_id in self.reviewer.ready(force):
            if self.stop.requested():
                return
            if only is not None and series_id not in only:
                continue
            outcome = self.reviewer.review(series_id)
            if outcome.status == "reviewed":
                self.tally.series += 1
                self.tally.patches += outcome.patches
                self.tally.findings += outcome.findings
                self.tally.queued += len(outcome.queued)
            elif outcome.status == "failed":
                self.tally.errors.append(f"series {series_id}: {outcome.reason}")
            self.flush()
        self.flush()

    def flush(self) -> FlushStats:
        """Deliver what is due."""
        stats = self.sender.flush()
        self.tally.sent += stats.sent
        self.tally.failed += stats.failed
        self.tally.checks += stats.checks
        return stats

    def prune(self) -> int:
        """Drop raw mails of handled series older than [storage] keep_raw_days."""
        days = self.settings.storage.keep_raw_days
        if not days:
            return 0
        cutoff = self.clock() - days * 86400
        with self.store.tx():
            cur = self.store.execute(
                "UPDATE messages SET raw = NULL WHERE raw IS NOT NULL AND seen_at < ? AND "
                "(series_id IS NULL OR series_id IN (SELECT id FROM series WHERE status != "
                "'waiting'))", (cutoff,))
        return cur.rowcount

    def pending(self) -> int:
        """Replies waiting to be sent."""
        row = self.store.one("SELECT COUNT(*) AS n FROM outbox WHERE status = 'pending'")
        return int(row["n"]) if row is not None else 0

    def close(self) -> None:
        """Close transports."""
        if self.transport is not None:
            self.transport.close()
        if self.sender.patchwork is not None:
            self.sender.patchwork.close()

    def new_tally(self) -> Tally:
        """Start counting a new cycle; returns the finished one."""
        done, self.tally = self.tally, Tally()
        done.deferred = self.pending()
        self.sender.new_cycle()
        return done
