"""Review a series that is ready, once, and decide what to send.

A series is ready when all n/m patches are in, or when [scope] grace_minutes
have passed since its first message. Reviewing it writes, in one transaction:
a review per patch, every finding with its status, the comparison with the
previous version (findings still present, findings fixed), the replies to send
(outbox) and the patchwork checks to post, and marks the series reviewed. A
crash before the commit leaves the series waiting; after it, nothing is redone.
"""

from __future__ import annotations

import gc
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from email.headerregistry import Address
from urllib.parse import quote

from heuristics.model import Severity
from reviewbot.config import Settings
from reviewbot.ingest import (
    CoverMail,
    PatchMail,
    decode_text_parts,
    mail_from_message,
    read_message,
)
from reviewbot.models import ReportedFinding, Review
from reviewbot.pipeline import Options, review_series
from reviewbot.policy import Decision, decide, path_opted_out
from reviewbot.quoting import Quoter
from reviewbot.reply import Draft, FixedFinding, MailFinding, Templates, reply_message_id
from reviewbot.series import Series
from reviewbot.store import Store
from reviewbot.watch.compose import draft_to_json, render
from reviewbot.watch.thread import already_raised

log = logging.getLogger(__name__)
# A series whose review was started this often without finishing is failed.
MAX_REVIEW_ATTEMPTS = 3


@dataclass(slots=True)
class Outcome:
    """What reviewing one series did."""

    series_id: int
    status: str
    reason: str | None = None
    patches: int = 0
    findings: int = 0
    queued: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Known:
    """Fingerprints known before this review: in the previous version, reported as false
    positives, mailed already (to an earlier copy of the same version, e.g. a RESEND)."""

    previous: set[str]
    false_positives: set[str]
    mailed_before: set[str]


@dataclass(frozen=True, slots=True)
class Previous:
    """The earlier version a series is compared with."""

    series_id: int
    version: int
    findings: list[dict[str, object]]


def in_scope(mails: Sequence[PatchMail], paths: Sequence[str]) -> bool:
    """Whether any patch touches one of the scope paths (no paths: everything is)."""
    if not paths:
        return True
    for mail in mails:
        for change in mail.files:
            for path in (change.path, change.old_path or ""):
                if any(path.startswith(p) if p.endswith("/") else path == p or
                       path.startswith(p + "/") for p in paths):
                    return True
    return False


def _sendable(address: str) -> bool:
    try:
        Address(addr_spec=address)
    except (ValueError, IndexError, TypeError):
        return False
    return "@" in address


def load_mail(raw: bytes | None, source: str) -> PatchMail | CoverMail | None:
    """Parse a stored message again."""
    if raw is None:
        return None
    return mail_from_message(read_message(raw), source)


class Reviewer:
    """Reviews ready series into the store."""

    def __init__(self, store: Store, settings: Settings, options: Options,
                 templates: Templates, patchwork: bool,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.options = options
        self.templates = templates
        self.patchwork = patchwork
        self.clock = clock

    def ready(self, force: set[int] | None = None) -> list[int]:
        """Series to review now, oldest first (``force``: these regardless of grace)."""
        grace = self.settings.scope.grace_minutes * 60
        now = self.clock()
        out = []
        for row in self.store.rows(
                "SELECT s.id, s.expected, s.first_seen, "
                "(SELECT COUNT(DISTINCT m.counter) FROM messages m WHERE m.series_id = s.id "
                " AND m.kind = 'patch' AND m.status = 'seen' AND m.counter BETWEEN 1 AND "
                " s.expected) AS have FROM series s WHERE s.status = 'waiting' "
                "ORDER BY s.first_seen, s.id"):
            if (row["have"] >= row["expected"] or row["first_seen"] <= now - grace
                    or (force and row["id"] in force)):
                out.append(int(row["id"]))
        return out

    def review(self, series_id: int) -> Outcome:
        """Review one series (its patches not reviewed yet) and record everything.

        Each attempt is counted in its own transaction first: a series whose review
        killed the process (out of memory, a crash in a parser) is not retried
        forever but recorded as failed after MAX_REVIEW_ATTEMPTS.
        """
        key = f"review-attempts:{series_id}"
        with self.store.tx():
            row = self.store.one("SELECT value FROM meta WHERE key = ?", (key,))
            attempt = int(row["value"]) + 1 if row is not None else 1
            self.store.execute("INSERT OR REPLACE INTO meta(key, value) VALUES (?, ?)",
                               (key, str(attempt)))
        try:
            if attempt > MAX_REVIEW_ATTEMPTS:
                return self._close(series_id, "failed",
                                   f"the review did not finish in {MAX_REVIEW_ATTEMPTS} "
                                   "attempts (the process died: out of memory or a crash)")
            try:
                return self._review(series_id)
            except MemoryError:
                pass  # leaving the handler drops the traceback and the series' data with it
            gc.collect()
            log.warning("series %s: out of memory ([limits] max_memory_mb)", series_id)
            return self._close(series_id, "failed",
                               "review failed: out of memory ([limits] max_memory_mb)")
        finally:
            with self.store.tx():
                self.store.execute("DELETE FROM meta WHERE key = ?", (key,))

    def _review(self, series_id: int) -> Outcome:
        series = self.store.one("SELECT * FROM series WHERE id = ?", (series_id,))
        assert series is not None  # type narrowing  # nosec B101
        rows = self.store.rows(
            "SELECT msgid, raw, source, counter FROM messages WHERE series_id = ? AND "
            "kind = 'patch' AND status = 'seen' ORDER BY counter, id", (series_id,))
        done = {r["msgid"] for r in self.store.rows(
            "SELECT msgid FROM reviews WHERE series_id = ?", (series_id,))}
        mails: list[PatchMail] = []
        for row in rows:
            try:
                mail = load_mail(row["raw"], row["source"])
            except Exception as exc:  # one bad patch must not stop the series
                mail = None
                log.warning("%s: cannot parse again: %s", row["msgid"], exc)
            if isinstance(mail, PatchMail):
                mails.append(mail)
            elif row["msgid"] not in done:
                with self.store.tx():
                    self.store.execute(
                        "UPDATE messages SET status = 'failed', reason = ? WHERE msgid = ?",
                        ("stored copy unreadable or pruned", row["msgid"]))
        todo = [m for m in mails if m.message_id not in done]
        if not todo:
            status = "reviewed" if done else "skipped"
            reason = None if done else "no patches arrived"
            return self._close(series_id, status, reason)
        if not self.in_scope(mails):
            return self._close(series_id, "skipped", "outside [scope] paths")
        cover = None
        if series["cover_msgid"]:
            crow = self.store.one("SELECT raw, source FROM messages WHERE msgid = ?",
                                  (series["cover_msgid"],))
            try:
                loaded = load_mail(crow["raw"], crow["source"]) if crow is not None else None
            except Exception:  # the cover letter is metadata: review without it
                loaded = None
            cover = loaded if isinstance(loaded, CoverMail) else None
        whole = Series(series["version"], series["expected"], mails, cover, series["family"])
        try:
            reviews = review_series(whole, self.options)
        except MemoryError:
            raise  # recorded by review() once this frame and its data are gone
        except Exception as exc:  # recorded as a failed series, never fatal
            log.exception("series %s failed", series_id)
            return self._close(series_id, "failed", f"review failed: {type(exc).__name__}")
        by_id = {r.message_id: r for r in reviews}
        previous = self.previous(series)
        try:
            with self.store.tx():
                outcome = self.record(series_id, todo, by_id, previous,
                                      all_findings=[f for r in reviews for f in r.findings],
                                      version=int(series["version"]))
                self.set_status(series_id, "reviewed", None, previous)
        except (sqlite3.Error, MemoryError):
            raise
        except Exception as exc:  # a series that cannot be recorded fails alone
            log.exception("series %s: recording the review failed", series_id)
            return self._close(series_id, "failed", f"{type(exc).__name__}: {exc}"[:300])
        return outcome

    def in_scope(self, mails: Sequence[PatchMail]) -> bool:
        """Whether the series touches the [scope] paths."""
        return in_scope(mails, self.settings.scope.paths)

    def _close(self, series_id: int, status: str, reason: str | None) -> Outcome:
        with self.store.tx():
            self.set_status(series_id, status, reason)
            if status == "failed":
                # The patches not reviewed carry the reason too (the series failed as a whole).
                self.store.execute(
                    "UPDATE messages SET status = 'failed', reason = ? WHERE series_id = ? AND "
                    "kind = 'patch' AND status = 'seen' AND msgid NOT IN (SELECT msgid FROM "
                    "reviews WHERE series_id = ?)", (reason, series_id, series_id))
        return Outcome(series_id, status, reason)

    def set_status(self, series_id: int, status: str, reason: str | None,
                   previous: Previous | None = None) -> None:
        """Record what became of a series (inside or outside a transaction)."""
        self.store.execute(
            "UPDATE series SET status = ?, reason = ?, reviewed_at = ?, "
            "previous_id = COALESCE(?, previous_id) WHERE id = ?",
            (status, reason, self.clock(), previous.series_id if previous else None,
             series_id))

    def previous(self, s: sqlite3.Row) -> Previous | None:
        """The newest reviewed earlier version (or a RESEND of this one) by the same author,
        with the same title or patch titles."""
        titles = [r["title"] for r in self.store.rows(
            "SELECT title FROM messages WHERE series_id = ? AND kind = 'patch'", (s["id"],))]
        marks = ",".join("?" * len(titles)) or "''"
        # Only "?" placeholders are formatted into the SQL; every value is bound.
        row = self.store.one(
            f"SELECT id, version FROM series WHERE id != ? AND author_email = ? AND "  # noqa: S608  # nosec B608
            f"version <= ? AND status = 'reviewed' AND (family = ? OR id IN (SELECT series_id "
            f"FROM messages WHERE kind = 'patch' AND title IN ({marks}))) "
            f"ORDER BY version DESC, reviewed_at DESC LIMIT 1",
            (s["id"], s["author_email"], s["version"], s["family"], *titles))
        if row is None:
            return None
        findings = [dict(f) for f in self.store.rows(
            "SELECT f.*, m.title AS patch_title, m.counter AS patch_counter FROM findings f "
            "LEFT JOIN messages m ON m.msgid = f.msgid WHERE f.series_id = ?", (row["id"],))]
        return Previous(int(row["id"]), int(row["version"]), findings)

    def record(self, series_id: int, todo: Sequence[PatchMail], reviews: dict[str | None, Review],
               previous: Previous | None, all_findings: Sequence[ReportedFinding],
               commit_ref: str | None = None, version: int = 1) -> Outcome:
        """Write reviews, findings, replies and checks for ``todo`` (inside a transaction)."""
        outcome = Outcome(series_id, "reviewed", patches=len(todo))
        current = {f.fingerprint for f in all_findings}
        resend = previous is not None and previous.version >= version
        prev_fps: set[str] = set()
        mailed_before: set[str] = set()
        if previous is not None and resend:
            mailed_before = {str(f["fingerprint"]) for f in previous.findings if f["mailed"]}
        elif previous is not None:
            prev_fps = {str(f["fingerprint"]) for f in previous.findings}
        fixed_by_patch: dict[str, list[FixedFinding]] = {}
        if previous is not None and not resend:
            self.store.execute("UPDATE findings SET fixed_in_series_id = NULL "
                               "WHERE fixed_in_series_id = ?", (series_id,))
            for f in previous.findings:
                if f["fingerprint"] in current:
                    continue
                self.store.execute("UPDATE findings SET fixed_in_series_id = ? WHERE id = ?",
                                   (series_id, f["id"]))
                if f["mailed"]:
                    target = self._fixed_target(f, todo)
                    if target is not None:
                        fixed_by_patch.setdefault(target, []).append(FixedFinding(
                            str(f["rule"]), str(f["file"]),
                            str(f["function"]) if f["function"] else None))
        known = Known(prev_fps, self._false_positive_fingerprints(series_id, previous),
                      mailed_before)
        learnt = {r["address"] for r in self.store.rows("SELECT address FROM opt_outs")}
        for mail in todo:
            key = mail.message_id or ""
            review = reviews.get(mail.message_id)
            if review is None:
                continue
            decision = decide(self.settings.policy, mail.author, mail.to, mail.cc,
                              mail.list_ids, self.settings.bot.address, learnt)
            self._record_patch(outcome, series_id, key, mail, review, decision, known,
                               fixed_by_patch.get(key, []), previous, commit_ref)
        return outcome

    @staticmethod
    def _fixed_target(finding: dict[str, object], todo: Sequence[PatchMail]) -> str | None:
        for mail in todo:
            if finding.get("patch_title") and mail.title == finding["patch_title"]:
                return mail.message_id
        for mail in todo:
            if mail.counter == finding.get("patch_counter"):
                return mail.message_id
        return todo[0].message_id if todo else None

    def _false_positive_fingerprints(self, series_id: int, previous: Previous | None
                                     ) -> set[str]:
        ids = [series_id] + ([previous.series_id] if previous else [])
        marks = ",".join("?" * len(ids))
        # Only "?" placeholders are formatted into the SQL; every value is bound.
        rows = self.store.rows(
            f"SELECT fingerprint FROM false_positives WHERE fingerprint IS NOT NULL AND "  # noqa: S608  # nosec B608
            f"series_id IN (SELECT id FROM series WHERE id IN ({marks}) OR previous_id IN "
            f"({marks}))", (*ids, *ids))
        return {r["fingerprint"] for r in rows}

    def _replies_to(self, msgid: str | None) -> list[str]:
        if not msgid:
            return []
        bodies = []
        for row in self.store.rows(
                "SELECT raw FROM messages WHERE kind = 'reply' AND in_reply_to = ? AND "
                "raw IS NOT NULL", (msgid,)):
            try:
                bodies.append(decode_text_parts(read_message(row["raw"])))
            except Exception:  # noqa: S112  # an unreadable reply is skipped on purpose  # nosec B112
                continue
        return bodies

    def _status(self, f: ReportedFinding, decision: Decision, known: Known,
                replies: list[str]) -> str:
        if f.fingerprint in known.false_positives:
            return "false-positive"
        if f.fingerprint in known.mailed_before or already_raised(f.rule, f.snippet, replies):
            return "already-raised"
        if f.severity < decision.policy.min_severity or (
                f.confidence < decision.policy.min_confidence):
            return "below-threshold"
        if path_opted_out(f.file, self.settings.policy):
            return "opted-out"
        return "still-present" if f.fingerprint in known.previous else "new"

    def _record_patch(self, outcome: Outcome, series_id: int, key: str, mail: PatchMail,
                      review: Review, decision: Decision, known: Known,
                      fixed: list[FixedFinding],
                      previous: Previous | None, commit_ref: str | None) -> None:
        now = self.clock()
        replies = self._replies_to(mail.message_id)
        statuses = [self._status(f, decision, known, replies)
                    for f in review.findings]
        mailable = [f for f, s in zip(review.findings, statuses, strict=True)
                    if s in ("new", "still-present")]
        announce = self.settings.mail.announce_fixed
        fixed_shown = fixed if announce != "never" else []
        action, reason = self._action(decision, review, mailable, fixed_shown)
        if action == "mailed" and not self._thread_has_room(mail, decision):
            action, reason = "held", f"thread already has {decision.policy.max_per_thread} replies"
        cur = self.store.execute(
            "INSERT INTO reviews(series_id, msgid, subject, counter, mode, kernel_version, "
            "error, action, reason, reviewed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (series_id, key, mail.subject, mail.counter, review.mode, review.kernel_version,
             review.error, action, reason or decision.reason or None, now))
        review_id = int(cur.lastrowid or 0)
        if review.error:
            # Over [limits] (the analysis ran out of time): the message is skipped.
            status = "skipped" if review.error.startswith("skipped:") else "failed"
            self.store.execute("UPDATE messages SET status = ?, reason = ? WHERE msgid = ?",
                               (status, review.error[:300], key))
        mailed_ids = {id(f) for f in mailable} if action in ("mailed", "held") else set()
        for f, status in zip(review.findings, statuses, strict=True):
            quote = "\n".join(Quoter(mail.files, self.settings.mail.quote_context,
                                     self.settings.mail.width).quote(f.file, f.line, f.message,
                                                                     f.snippet))
            self.store.execute(
                "INSERT INTO findings(review_id, series_id, msgid, rule, name, category, "
                "severity, confidence, file, line, function, message, snippet, suggestion, "
                "fingerprint, docs_url, status, mailed, quote) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
                "?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (review_id, series_id, key, f.rule, f.name, f.category.value, f.severity.value,
                 f.confidence.value, f.file, f.line, f.function, f.message, f.snippet,
                 f.suggestion, f.fingerprint, self._docs(f.rule), status,
                 1 if id(f) in mailed_ids else 0, quote))
        outcome.findings += len(review.findings)
        if action in ("mailed", "held") and decision.to is not None and not _sendable(
                decision.to[1]):
            action, reason = "no-author", f"unusable author address {decision.to[1][:80]!r}"
            self.store.execute("UPDATE reviews SET action = ?, reason = ? WHERE id = ?",
                               (action, reason, review_id))
            self.store.execute("UPDATE findings SET mailed = 0 WHERE review_id = ?",
                               (review_id,))
        if action in ("mailed", "held") and decision.to is not None:
            draft = Draft(
                patch=mail,
                message_id=reply_message_id(key, self.settings.bot),
                to=decision.to, cc=decision.cc,
                findings=[self._mail_finding(f, f.fingerprint in known.previous)
                          for f in mailable],
                fixed=fixed_shown, previous_version=previous.version if previous else None,
                in_reply_to=mail.message_id if commit_ref is None else mail.in_reply_to,
                references=mail.references, commit_ref=commit_ref,
                date=self._date_header(key))
            self._queue(draft, key, series_id, review_id, mail, decision,
                        "pending" if action == "mailed" else "held", reason, now)
            outcome.queued.append(draft.message_id)
        if self.patchwork:
            self._check(key, series_id, review)

    def _action(self, decision: Decision, review: Review, mailable: list[ReportedFinding],
                fixed: list[FixedFinding]) -> tuple[str, str | None]:
        if review.error:
            return "error", review.error
        fixed_only = bool(fixed) and self.settings.mail.announce_fixed == "always"
        if not mailable and not fixed_only:
            if not review.findings:
                return "clean", None
            return "no-mail", "every finding already raised, reported or below the thresholds"
        if decision.action != "mail":
            return decision.action, decision.reason
        return "mailed", None if mailable else "previous findings fixed"

    def _thread_has_room(self, mail: PatchMail, decision: Decision) -> bool:
        root = mail.references[0] if mail.references else (mail.message_id or "")
        row = self.store.one(
            "SELECT COUNT(*) AS n FROM outbox WHERE thread_root = ? AND status != 'dropped'",
            (root,))
        return row is None or int(row["n"]) < decision.policy.max_per_thread

    def _date_header(self, key: str) -> str | None:
        row = self.store.one("SELECT date FROM messages WHERE msgid = ?", (key,))
        return str(row["date"]) if row is not None and row["date"] else None

    def _docs(self, rule: str) -> str:
        return self.settings.bot.docs_url.format(rule=rule)

    def _mail_finding(self, f: ReportedFinding, still: bool) -> MailFinding:
        return MailFinding(f.rule, f.name, f.severity.value, f.file, f.line, f.function,
                           f.message, f.snippet, self._docs(f.rule), still)

    def _queue(self, draft: Draft, key: str, series_id: int, review_id: int,
               mail: PatchMail, decision: Decision, status: str, reason: str | None,
               now: float) -> None:
        raw, subject, rcpts = render(draft, self.settings, self.templates)
        root = mail.references[0] if mail.references else (mail.message_id or key)
        not_before = now + decision.policy.embargo_hours * 3600
        cur = self.store.execute(
            "INSERT OR IGNORE INTO outbox(message_id, in_reply_to, thread_root, series_id, "
            "review_id, recipients, subject, raw, draft, status, reason, created_at, "
            "not_before, next_attempt_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (draft.message_id, draft.in_reply_to, root, series_id, review_id,
             json.dumps(rcpts), subject, raw, draft_to_json(draft, key), status, reason, now,
             not_before, not_before))
        if cur.rowcount:
            for name in decision.lists:
                self.store.execute("INSERT OR IGNORE INTO outbox_lists VALUES (?, ?)",
                                   (cur.lastrowid, name))

    def _check(self, key: str, series_id: int, review: Review) -> None:
        shown = [f for f in review.findings if f.severity >= self.settings.output.min_severity]
        if review.error:
            return
        if not shown and self.settings.mail.on_clean != "patchwork":
            return
        if any(f.severity >= Severity.ERROR for f in shown):
            state = "fail"
        elif shown:
            state = "warning"
        else:
            state = "success"
        if shown:
            rules = ", ".join(sorted({f.rule for f in shown}))
            description = f"{len(shown)} memory-reclaim recursion finding(s): {rules}"
        else:
            description = "no memory-reclaim recursion hazards found"
        target = self.settings.patchwork.target_url.format(msgid=quote(key, safe="@"))
        now = self.clock()
        self.store.execute(
            "INSERT OR IGNORE INTO patchwork_checks(patch_msgid, context, state, description, "
            "target_url, series_id, status, created_at, next_attempt_at) VALUES (?, ?, ?, ?, "
            "?, ?, 'pending', ?, ?)",
            (key, self.settings.patchwork.context, state, description[:250], target,
             series_id, now, now))
