"""Digests: what the bot found in a time window, for everything, a list, a MAINTAINERS
entry or a maintainer, readable in a minute, as text, Markdown or a ready mail.

Counts cover series reviewed and findings made in the window; the top
findings are the most severe, then the newest. The last digest of each scope
is recorded in the ``digests`` table, and the next one says what changed after
the window it covered.
"""

from __future__ import annotations

import re
import sqlite3
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from reviewbot.dashboard.data import Dataset, FalsePositive, Finding, Series, connect_readonly
from reviewbot.dashboard.maintainers import Index
from reviewbot.dashboard.scopes import (
    Scope,
    list_scopes,
    maintainer_scopes,
    slug,
    subsystem_scopes,
)
from reviewbot.dashboard.stats import Totals, severity_rank, totals
from reviewbot.policy import list_forms
from reviewbot.store import Store

_SINCE_RE = re.compile(r"^(\d{1,5})([hdw])$")
_UNITS = {"h": 3600, "d": 86400, "w": 7 * 86400}


class SummaryError(ValueError):
    """A digest cannot be made as asked (unknown scope, bad time)."""


def parse_time(value: str, now: float) -> float:
    """``7d``/``12h``/``2w`` before ``now``, or a date/time ``YYYY-MM-DD[THH:MM]`` (UTC)."""
    value = value.strip()
    match = _SINCE_RE.match(value)
    if match:
        return now - int(match.group(1)) * _UNITS[match.group(2)]
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError as exc:
        raise SummaryError(f"not a duration (7d, 12h, 2w) or a date: {value!r}") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.timestamp()


@dataclass(frozen=True, slots=True)
class Selection:
    """Which slice a digest is about: kind "all", "list", "subsystem" or "maintainer"."""

    kind: str = "all"
    value: str = ""

    @property
    def key(self) -> str:
        """The scope's key in the digests table."""
        return "all" if self.kind == "all" else f"{self.kind}:{self.value.lower()}"


def select(data: Dataset, selection: Selection, index: Index | None) -> Scope:
    """The scope a selection names (empty when nothing matched yet but the name is known)."""
    if selection.kind == "all":
        scope = Scope("all", "all", "all lists", "all")
        scope.add(data.series.values(), data.findings)
        return scope.finish()
    wanted = selection.value.strip().lower()
    if selection.kind == "list":
        for scope in list_scopes(data):
            if wanted in list_forms(scope.key):
                return scope
        return Scope("list", wanted, wanted, slug(wanted))
    if index is None:
        raise SummaryError(f"--{selection.kind} needs a MAINTAINERS file "
                           "(--maintainers or [dashboard] maintainers)")
    subsystems = subsystem_scopes(data, index)
    if selection.kind == "subsystem":
        for scope in subsystems:
            if scope.key.lower() == wanted:
                return scope
        for entry in index.entries:
            if entry.title.lower() == wanted:
                return Scope("subsystem", entry.title, entry.title, slug(entry.title),
                             entries=[entry])
        raise SummaryError(f"no MAINTAINERS entry is titled {selection.value!r}")
    for scope in maintainer_scopes(subsystems):
        if scope.key == wanted:
            return scope
    people = index.people()
    if wanted not in people:
        raise SummaryError(f"{selection.value!r} is not in M: or R: of any MAINTAINERS entry")
    person, entries = people[wanted]
    return Scope("maintainer", person.email, f"{person.name} <{person.email}>",
                 slug(person.email), entries=entries, person=person)


@dataclass(slots=True)
class Changes:
    """What happened after the previous digest's window."""

    since: float
    series: int = 0
    findings: int = 0
    fixed: int = 0
    false_positive_reports: int = 0


@dataclass(slots=True)
class Digest:
    """One digest, ready to render."""

    label: str
    scope: Scope
    start: float
    end: float
    totals: Totals
    top: list[Finding]
    series: dict[int, Series]
    fixed: int
    noisy: list[tuple[str, int]]
    changes: Changes | None


def _in(ts: float | None, start: float, end: float) -> bool:
    return ts is not None and start <= ts <= end


def _changes(scope: Scope, data: Dataset, fps: Sequence[FalsePositive], since: float,
             end: float) -> Changes:
    out = Changes(since)
    out.series = sum(1 for s in scope.series if s.status == "reviewed" and since < s.when <= end)
    out.findings = sum(1 for f in scope.findings if since < f.reviewed_at <= end)
    out.fixed = _fixed(scope.findings, data, since, end)
    out.false_positive_reports = sum(1 for fp in fps if since < fp.reported_at <= end)
    return out


def _fixed(findings: Sequence[Finding], data: Dataset, start: float, end: float) -> int:
    count = 0
    for f in findings:
        fixer = data.series.get(f.fixed_in_series_id) if f.fixed_in_series_id else None
        if fixer is not None and start < fixer.when <= end:
            count += 1
    return count


def make(data: Dataset, selection: Selection, index: Index | None, start: float, end: float,
         last: float | None, top: int) -> Digest:
    """The digest of ``selection`` for ``start``..``end``."""
    scope = select(data, selection, index)
    series = [s for s in scope.series if _in(s.when, start, end)]
    findings = [f for f in scope.findings if _in(f.reviewed_at, start, end)]
    finding_ids = {f.id for f in scope.findings}
    series_ids = {s.id for s in scope.series}
    scope_fps = [fp for fp in data.false_positives
                 if fp.finding_id in finding_ids or (fp.finding_id is None and
                                                     fp.series_id in series_ids)]
    window_fps = [fp for fp in scope_fps if _in(fp.reported_at, start, end)]
    window_totals = totals(series, findings, window_fps, data.superseded)
    window_totals.false_positive_reports = len(window_fps)
    ranked = sorted(findings, key=lambda f: (severity_rank(f.severity), -f.reviewed_at, f.id))
    noisy: dict[str, int] = {}
    for fp in window_fps:
        noisy[fp.rule] = noisy.get(fp.rule, 0) + 1
    label = {"all": "all lists", "list": f"list {scope.title}",
             "subsystem": f"subsystem {scope.title}",
             "maintainer": f"maintainer {scope.title}"}[selection.kind]
    changes = _changes(scope, data, scope_fps, last, end) if last is not None else None
    return Digest(label, scope, start, end, window_totals, ranked[:top], data.series,
                  _fixed(scope.findings, data, start, end),
                  sorted(noisy.items(), key=lambda kv: (-kv[1], kv[0])), changes)


# -- the digests table ---------------------------------------------------------

def last_digest(db: Path, scope_key: str) -> float | None:
    """The end of the window the previous digest of ``scope_key`` covered."""
    conn = connect_readonly(db)
    try:
        row = conn.execute("SELECT window_end FROM digests WHERE scope = ?",
                           (scope_key,)).fetchone()
    except sqlite3.OperationalError:  # schema 1: no digest made yet
        return None
    finally:
        conn.close()
    return float(row[0]) if row is not None else None


def record_digest(db: Path, scope_key: str, start: float, end: float) -> None:
    """Remember this digest (migrating the database if needed; the watcher's lock is not
    taken, SQLite's own locking keeps the write safe)."""
    with Store.open(db, lock=False) as store, store.tx():
        store.execute(
            "INSERT INTO digests(scope, window_start, window_end, made_at) VALUES (?, ?, ?, ?) "
            "ON CONFLICT(scope) DO UPDATE SET window_start = excluded.window_start, "
            "window_end = excluded.window_end, made_at = excluded.made_at",
            (scope_key, start, end, time.time()))


def default_window(now: float, since: str | None) -> tuple[float, float]:
    """(start, end) for ``--since`` (default 7d) ending at ``now``."""
    start = parse_time(since or "7d", now)
    if start >= now:
        raise SummaryError("--since must be before the end of the window")
    return start, now
