"""Take one raw message into the state: classify it, attach it to its series, record it.

Every message is recorded exactly once by Message-ID, whatever it is: a patch
or cover letter (attached to its series), a reply (kept for the thread memory,
and scanned for "reviewbot: false-positive RULE-ID" and "reviewbot: opt-out"),
the bot's own mail coming back from the list, a [GIT PULL], a mail with
``X-Patchwork-Hint: ignore``, or something that could not be read (recorded as
failed with the reason). A source's cursor can be moved in the same
transaction, so a message is either fully taken with its cursor or not at all.
"""

from __future__ import annotations

import email.utils
import hashlib
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage

from liblore.utils import parse_message

from heuristics.registry import get_rule
from reviewbot.config import Settings
from reviewbot.diffs import DiffError
from reviewbot.ingest import (
    CoverMail,
    LimitError,
    MailError,
    PatchMail,
    decode_text_parts,
    header_value,
    header_values,
    mail_from_message,
    read_message,
    safe_author,
    safe_msgid,
    subject_info,
)
from reviewbot.store import Store

_FP_RE = re.compile(r"^\s*reviewbot:\s*false[- ]positive\s+([A-Za-z]+-\d{3})\b",
                    re.IGNORECASE | re.MULTILINE)
_OPT_OUT_RE = re.compile(r"^\s*reviewbot:\s*opt[- ]?out\b", re.IGNORECASE | re.MULTILINE)
_REF_RE = re.compile(r"<([^<>\s]+)>")


@dataclass(frozen=True, slots=True)
class Intake:
    """What became of one message."""

    msgid: str
    kind: str
    status: str
    reason: str | None = None
    duplicate: bool = False
    series_id: int | None = None


@dataclass(frozen=True, slots=True)
class Heads:
    """The header facts every kind of message needs."""

    msgid: str
    subject: str
    author: tuple[str, str]
    date: str | None
    in_reply_to: str | None
    references: tuple[str, ...]
    lists: tuple[str, ...]

    @property
    def thread_root(self) -> str:
        """The first message of the thread, as far as this message knows."""
        if self.references:
            return self.references[0]
        return self.in_reply_to or self.msgid


def raw_msgid(raw: bytes) -> str | None:
    """The Message-ID from the header block alone (for messages too big to parse)."""
    end = raw.find(b"\n\n")
    head = raw[: end if end >= 0 else 65536][:65536]
    try:
        return safe_msgid(parse_message(head + b"\n\n"))
    except Exception:  # a hostile header block just has no id
        return None


def synthetic_msgid(raw: bytes) -> str:
    """A stable key for a message without a usable Message-ID."""
    return "nomsgid:" + hashlib.sha256(raw).hexdigest()[:40]


def message_lists(msg: EmailMessage) -> tuple[str, ...]:
    """The addresses (lower-case) in To/Cc and the ids in List-Id."""
    values = header_values(msg, "To") + header_values(msg, "Cc")
    out = [a.lower() for _, a in email.utils.getaddresses(values) if "@" in a]
    for text in header_values(msg, "List-Id"):
        if "<" in text and ">" in text:
            text = text[text.rfind("<") + 1:text.rfind(">")]
        if text.strip():
            out.append(text.strip().lower())
    return tuple(dict.fromkeys(out))


def heads_of(msg: EmailMessage, msgid: str) -> Heads:
    """Read the header facts."""
    refs_raw = " ".join(header_values(msg, "References"))
    refs = tuple(r for r in _REF_RE.findall(refs_raw) if r != msgid)
    date = header_value(msg, "Date")
    return Heads(
        msgid=msgid,
        subject=header_value(msg, "Subject"),
        author=safe_author(msg),
        date=date or None,
        in_reply_to=safe_msgid(msg, "In-Reply-To"),
        references=refs,
        lists=message_lists(msg),
    )


def family_key(title: str) -> str:
    """A series' identity across versions: its title, lower-cased, punctuation folded."""
    return re.sub(r"\W+", " ", title.lower()).strip()


class Intaker:
    """Records messages into a store."""

    def __init__(self, store: Store, settings: Settings,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock
        self.bot_address = settings.bot.address.lower()

    def seen(self, msgid: str) -> bool:
        """Whether a message with this id was taken before."""
        return self.store.one("SELECT 1 FROM messages WHERE msgid = ?", (msgid,)) is not None

    def take(self, raw: bytes, source: str, cursor: tuple[str, str] | None = None,
             size: int | None = None) -> Intake:
        """Classify and record one raw message (and move ``cursor`` with it).

        ``size`` says that ``raw`` is only the start of a message of that many bytes
        (a source that did not read an oversized message whole).
        """
        with self.store.tx():
            result = self._take(raw, source, size)
            if cursor is not None:
                self.store.set_cursor(*cursor)
        return result

    def _duplicate(self, msgid: str) -> Intake | None:
        row = self.store.one("SELECT kind, status FROM messages WHERE msgid = ?", (msgid,))
        if row is None:
            return None
        return Intake(msgid, row["kind"], row["status"], duplicate=True)

    def _take(self, raw: bytes, source: str, size: int | None = None) -> Intake:
        head_id = raw_msgid(raw)
        if head_id is not None and (dup := self._duplicate(head_id)) is not None:
            return dup
        limit = self.settings.limits.max_message_bytes
        total = max(size or 0, len(raw))
        if total > limit:
            key = head_id or synthetic_msgid(raw)
            reason = f"message is {total} bytes, over [limits] max_message_bytes ({limit})"
            return self._duplicate(key) or self.record(key, source, "too-large", "skipped",
                                                       reason)
        problem: str | None = None
        msgid: str | None = None
        try:
            msg = read_message(raw)
            msgid = safe_msgid(msg)
            if not msg.keys():
                problem = "message has no headers"
            elif msgid is None:
                problem = "no Message-ID header"
        except MailError as exc:
            problem = str(exc)
        except Exception as exc:  # unreadable mail is recorded, never fatal
            problem = f"unparseable message: {type(exc).__name__}"
        if problem is not None or msgid is None:
            # Recorded under its Message-ID when the header block names one (a MIME bomb).
            key = msgid or head_id or synthetic_msgid(raw)
            return self._duplicate(key) or self.record(
                key, source, "malformed", "failed", problem or "no Message-ID header")
        if msgid != head_id and (dup := self._duplicate(msgid)) is not None:
            return dup
        try:
            with self.store.tx():  # a savepoint: a failure leaves nothing half-recorded
                return self._classify(msg, raw, msgid, source)
        except sqlite3.Error:
            raise
        except LimitError as exc:
            return self.record(msgid, source, "too-large", "skipped", str(exc),
                               heads_of(msg, msgid))
        except Exception as exc:  # hostile mail is recorded as failed, never fatal
            reason = f"{type(exc).__name__}: {exc}" if isinstance(exc, DiffError | ValueError) \
                else f"cannot read the mail ({type(exc).__name__})"
            return self.record(msgid, source, "malformed", "failed", reason[:300])

    def _classify(self, msg: EmailMessage, raw: bytes, msgid: str, source: str) -> Intake:
        heads = heads_of(msg, msgid)
        if heads.author[1].lower() == self.bot_address or self.store.one(
                "SELECT 1 FROM outbox WHERE message_id = ?", (msgid,)):
            self.store.execute(
                "UPDATE outbox SET status = 'sent', reason = 'seen in the archive' "
                "WHERE message_id = ? AND status IN ('sending', 'uncertain')", (msgid,))
            return self.record(msgid, source, "own", "skipped", "the bot's own mail", heads)
        hint = header_value(msg, "X-Patchwork-Hint").strip().lower()
        if hint == "ignore":
            return self.record(msgid, source, "ignored", "skipped",
                                "X-Patchwork-Hint: ignore", heads)
        info = subject_info(heads.subject)
        tokens = " ".join(info.prefixes).upper().replace(",", " ").split()
        if "GIT" in tokens and "PULL" in tokens:
            return self.record(msgid, source, "ignored", "skipped", "[GIT PULL]", heads)
        if info.is_reply:
            return self._reply(msg, raw, heads, source)
        mail = mail_from_message(msg, source, limits=self.settings.limits)
        if mail is None:
            return self.record(msgid, source, "other", "skipped", "no patch in the mail", heads)
        if isinstance(mail, CoverMail):
            return self._series_member(mail, raw, heads, source, "cover")
        return self._series_member(mail, raw, heads, source, "patch")

    def record(self, msgid: str, source: str, kind: str, status: str, reason: str | None,
               heads: Heads | None = None, raw: bytes | None = None,
               series_id: int | None = None, counter: int | None = None,
               title: str = "", commit: str | None = None) -> Intake:
        """Insert the message row (inside the caller's transaction)."""
        now = self.clock()
        cur = self.store.execute(
            "INSERT INTO messages(msgid, source, kind, status, reason, subject, title, "
            "author_name, author_email, date, in_reply_to, thread_root, series_id, counter, "
            "commit_sha, raw, seen_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, "
            "?)",
            (msgid, source, kind, status, reason,
             heads.subject if heads else "", title or (heads.subject if heads else ""),
             heads.author[0] if heads else "", heads.author[1].lower() if heads else "",
             heads.date if heads else None, heads.in_reply_to if heads else None,
             heads.thread_root if heads else None, series_id, counter, commit, raw, now))
        if heads is not None:
            for name in heads.lists:
                self.store.execute("INSERT OR IGNORE INTO message_lists VALUES (?, ?)",
                                   (cur.lastrowid, name))
        return Intake(msgid, kind, status, reason, series_id=series_id)

    def _series_member(self, mail: PatchMail | CoverMail, raw: bytes, heads: Heads,
                       source: str, kind: str) -> Intake:
        version, expected = mail.version, mail.expected
        counter = mail.counter if isinstance(mail, PatchMail) else 0
        if isinstance(mail, PatchMail) and mail.counters_inferred:
            expected, counter = 1, 1
        title = subject_info(mail.subject).title
        key = f"{heads.thread_root}|v{version}|{expected}|{heads.author[1].lower()}"
        series_id = self.new_series(key, heads, title, source, version, expected)
        row = self.store.one("SELECT status FROM series WHERE id = ?", (series_id,))
        assert row is not None  # type narrowing  # nosec B101
        if kind == "cover":
            self.store.execute(
                "UPDATE series SET cover_msgid = ?, title = ?, family = ? WHERE id = ?",
                (heads.msgid, title, family_key(title), series_id))
        elif row["status"] in ("reviewed", "skipped"):
            # A patch arriving after its series was handled: review it on its own.
            self.store.execute("UPDATE series SET status = 'waiting' WHERE id = ?",
                               (series_id,))
        over = counter > self.settings.scope.max_series_patches
        status, reason = ("skipped", "beyond [scope] max_series_patches") if over else (
            "seen", None)
        return self.record(heads.msgid, source, kind, status, reason, heads, raw,
                            series_id, counter, title)

    def new_series(self, key: str, heads: Heads, title: str, source: str, version: int = 1,
                   expected: int = 1) -> int:
        """The id of the series with ``key``, created (waiting) if new."""
        self.store.execute(
            "INSERT OR IGNORE INTO series(key, thread_root, version, expected, title, family, "
            "author_name, author_email, source, first_seen) VALUES (?, ?, ?, ?, ?, ?, ?, ?, "
            "?, ?)", (key, heads.thread_root, version, expected, title, family_key(title),
                      heads.author[0], heads.author[1].lower(), source, self.clock()))
        row = self.store.one("SELECT id FROM series WHERE key = ?", (key,))
        assert row is not None  # type narrowing  # nosec B101
        series_id = int(row["id"])
        for name in heads.lists:
            self.store.execute("INSERT OR IGNORE INTO series_lists VALUES (?, ?)",
                               (series_id, name))
        return series_id

    def _reply(self, msg: EmailMessage, raw: bytes, heads: Heads, source: str) -> Intake:
        result = self.record(heads.msgid, source, "reply", "seen", None, heads, raw)
        text = unquoted_text(decode_text_parts(msg))
        now = self.clock()
        for match in _FP_RE.finditer(text):
            rule_id = match.group(1).upper()
            if get_rule(rule_id) is not None:
                self._false_positive(heads, rule_id, now)
        if _OPT_OUT_RE.search(text) and "@" in heads.author[1]:
            self.store.execute(
                "INSERT OR IGNORE INTO opt_outs(address, report_msgid, created_at) "
                "VALUES (?, ?, ?)", (heads.author[1].lower(), heads.msgid, now))
        return result

    def _false_positive(self, heads: Heads, rule_id: str, now: float) -> None:
        outbox = self.store.one(
            "SELECT id, series_id, review_id FROM outbox WHERE message_id = ?",
            (heads.in_reply_to or "",))
        finding = None
        series_id = None
        if outbox is not None:
            series_id = outbox["series_id"]
            finding = self.store.one(
                "SELECT id, fingerprint FROM findings WHERE review_id = ? AND rule = ? "
                "ORDER BY mailed DESC, id LIMIT 1", (outbox["review_id"], rule_id))
        else:
            series = self.store.one(
                "SELECT id FROM series WHERE thread_root = ? ORDER BY id DESC LIMIT 1",
                (heads.thread_root,))
            if series is not None:
                series_id = series["id"]
                finding = self.store.one(
                    "SELECT id, fingerprint FROM findings WHERE series_id = ? AND rule = ? "
                    "ORDER BY mailed DESC, id LIMIT 1", (series_id, rule_id))
        self.store.execute(
            "INSERT OR IGNORE INTO false_positives(report_msgid, rule, reporter_name, "
            "reporter_email, in_reply_to, outbox_id, series_id, finding_id, fingerprint, "
            "reported_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (heads.msgid, rule_id, heads.author[0], heads.author[1].lower(), heads.in_reply_to,
             outbox["id"] if outbox is not None else None, series_id,
             finding["id"] if finding is not None else None,
             finding["fingerprint"] if finding is not None else None, now))


def unquoted_text(body: str) -> str:
    """The lines of a reply that are not quoted (no leading ``>``)."""
    return "\n".join(line for line in body.split("\n") if not line.lstrip().startswith(">"))
