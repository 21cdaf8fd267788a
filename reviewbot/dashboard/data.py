"""Read the bot's state (read-only) into plain models for the dashboard and the digests.

The database is opened with ``mode=ro`` and ``query_only``: building a
dashboard never writes to it and never takes the watcher's lock. Only the
tables of the first schema version are read, so any database this reviewbot
can migrate can be shown.
"""

from __future__ import annotations

import sqlite3
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from reviewbot.store.schema import SCHEMA_VERSION


class DataError(Exception):
    """The database cannot be read (missing, not a reviewbot database, too new)."""


@dataclass(slots=True)
class Finding:
    """One finding of one reviewed patch."""

    id: int
    series_id: int
    review_id: int
    msgid: str
    rule: str
    name: str
    category: str
    severity: str
    confidence: str
    file: str
    line: int
    function: str | None
    message: str
    snippet: str
    suggestion: str | None
    fingerprint: str
    status: str
    mailed: bool
    quote: str
    fixed_in_series_id: int | None
    reviewed_at: float
    patch_subject: str
    false_positive_reports: int = 0


@dataclass(slots=True)
class Reply:
    """The bot's reply to one patch (from the outbox)."""

    message_id: str
    status: str
    created_at: float
    sent_at: float | None


@dataclass(slots=True)
class Patch:
    """One reviewed patch (a row of ``reviews``) and its findings."""

    id: int
    msgid: str
    subject: str
    counter: int | None
    mode: str
    kernel_version: str | None
    error: str | None
    action: str
    reason: str | None
    reviewed_at: float
    findings: list[Finding] = field(default_factory=list)
    reply: Reply | None = None


@dataclass(slots=True)
class Series:
    """One version of one series, its lists, patches and neighbouring versions."""

    id: int
    key: str
    thread_root: str
    version: int
    expected: int
    title: str
    author_name: str
    author_email: str
    cover_msgid: str | None
    status: str
    reason: str | None
    previous_id: int | None
    first_seen: float
    reviewed_at: float | None
    lists: list[str] = field(default_factory=list)
    patches: list[Patch] = field(default_factory=list)
    next_ids: list[int] = field(default_factory=list)

    @property
    def when(self) -> float:
        """When it was reviewed (or first seen, while waiting)."""
        return self.reviewed_at if self.reviewed_at is not None else self.first_seen

    @property
    def findings(self) -> list[Finding]:
        """Every finding of every patch, in patch order."""
        return [f for p in self.patches for f in p.findings]


@dataclass(slots=True)
class FalsePositive:
    """A "reviewbot: false-positive RULE" reply."""

    id: int
    report_msgid: str
    rule: str
    reporter_name: str
    reporter_email: str
    series_id: int | None
    finding_id: int | None
    reported_at: float


@dataclass(slots=True)
class Dataset:
    """Everything the dashboard shows, read in one go."""

    series: dict[int, Series]
    findings: list[Finding]
    false_positives: list[FalsePositive]
    schema_version: int
    read_at: float

    @property
    def superseded(self) -> set[int]:
        """Series that a later reviewed version was compared with."""
        return {s.previous_id for s in self.series.values()
                if s.previous_id is not None and s.status == "reviewed"}


def connect_readonly(path: Path) -> sqlite3.Connection:
    """A read-only connection to an existing reviewbot database."""
    if not path.is_file():
        raise DataError(f"{path}: no such database")
    uri = "file:" + urllib.request.pathname2url(str(path.resolve())) + "?mode=ro"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=30.0)
        conn.row_factory = sqlite3.Row
        conn.text_factory = lambda raw: raw.decode("utf-8", "replace")
        conn.execute("PRAGMA query_only = ON")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    except sqlite3.Error as exc:
        raise DataError(f"{path}: {exc}") from exc
    if version == 0:
        conn.close()
        raise DataError(f"{path}: not a reviewbot database")
    if version > SCHEMA_VERSION:
        conn.close()
        raise DataError(f"{path}: schema version {version} is newer than this reviewbot "
                        f"knows ({SCHEMA_VERSION}); upgrade reviewbot")
    return conn


_SERIES = ("SELECT id, key, thread_root, version, expected, title, author_name, author_email, "
           "cover_msgid, status, reason, previous_id, first_seen, reviewed_at FROM series "
           "ORDER BY id")
_REVIEWS = ("SELECT id, series_id, msgid, subject, counter, mode, kernel_version, error, action, "
            "reason, reviewed_at FROM reviews ORDER BY series_id, counter, id")
_FINDINGS = ("SELECT f.id, f.series_id, f.review_id, f.msgid, f.rule, f.name, f.category, "
             "f.severity, f.confidence, f.file, f.line, f.function, f.message, f.snippet, "
             "f.suggestion, f.fingerprint, f.status, f.mailed, f.quote, f.fixed_in_series_id, "
             "r.reviewed_at AS reviewed_at, r.subject AS patch_subject "
             "FROM findings f JOIN reviews r ON r.id = f.review_id ORDER BY f.id")
_REPLIES = ("SELECT review_id, message_id, status, created_at, sent_at FROM outbox "
            "WHERE review_id IS NOT NULL ORDER BY id")
_FALSE_POSITIVES = ("SELECT id, report_msgid, rule, reporter_name, reporter_email, series_id, "
                    "finding_id, reported_at FROM false_positives ORDER BY id")


def load(path: Path) -> Dataset:
    """Read the whole state at ``path``."""
    conn = connect_readonly(path)
    try:
        conn.execute("BEGIN")  # one consistent snapshot across the queries
        return _read(conn)
    except sqlite3.Error as exc:
        raise DataError(f"{path}: {exc}") from exc
    finally:
        conn.close()


def _merge_list_forms(series: dict[int, Series]) -> None:
    """Name each list once: a List-Id ("foo.example.org") becomes the posting address
    ("foo@example.org") when some series recorded that address."""
    by_id = {name.lower().replace("@", ".", 1): name.lower()
             for s in series.values() for name in s.lists if "@" in name}
    for s in series.values():
        s.lists = sorted({by_id.get(name.lower(), name.lower()) for name in s.lists})


def _fields(row: sqlite3.Row, skip: tuple[str, ...] = ()) -> dict[str, Any]:
    pairs = zip(row.keys(), tuple(row), strict=True)
    return {key: value for key, value in pairs if key not in skip}


def _read(conn: sqlite3.Connection) -> Dataset:
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    series = {int(r["id"]): Series(**_fields(r)) for r in conn.execute(_SERIES)}
    for series_id, name in conn.execute("SELECT series_id, list FROM series_lists "
                                        "ORDER BY series_id, list"):
        if series_id in series:
            series[series_id].lists.append(name)
    _merge_list_forms(series)
    for s in series.values():
        if s.previous_id is not None and s.previous_id in series:
            series[s.previous_id].next_ids.append(s.id)
    patches: dict[int, Patch] = {}
    for r in conn.execute(_REVIEWS):
        patch = Patch(**_fields(r, ("series_id",)))
        patches[patch.id] = patch
        if r["series_id"] in series:
            series[r["series_id"]].patches.append(patch)
    for r in conn.execute(_REPLIES):
        if r["review_id"] in patches:
            patches[r["review_id"]].reply = Reply(**_fields(r, ("review_id",)))
    findings: list[Finding] = []
    for r in conn.execute(_FINDINGS):
        finding = Finding(**_fields(r))
        finding.mailed = bool(finding.mailed)
        findings.append(finding)
        if finding.review_id in patches:
            patches[finding.review_id].findings.append(finding)
    false_positives = [FalsePositive(**_fields(r)) for r in conn.execute(_FALSE_POSITIVES)]
    by_id = {f.id: f for f in findings}
    for fp in false_positives:
        if fp.finding_id is not None and fp.finding_id in by_id:
            by_id[fp.finding_id].false_positive_reports += 1
    return Dataset(series, findings, false_positives, version, time.time())
