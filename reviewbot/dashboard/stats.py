"""Counts and rates over a set of series and findings: totals, per rule, over time.

Definitions (shown on the pages too):

- false-positive rate of a rule: "reviewbot: false-positive RULE" reports
  divided by the rule's findings that were mailed;
- fixed-in-next-version rate: of the findings in series that a later version
  was compared with, the share the later version no longer has.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from heuristics.model import Category, Severity
from heuristics.registry import get_rule
from reviewbot.dashboard.data import FalsePositive, Finding, Series

SEVERITIES = [Severity.ERROR.value, Severity.WARNING.value, Severity.ADVICE.value]
CATEGORIES = [c.value for c in Category]
_SEVERITY_ORDER = {name: i for i, name in enumerate(SEVERITIES)}


def severity_rank(severity: str) -> int:
    """0 for error, 1 warning, 2 advice, 3 anything else (sorts most severe first)."""
    return _SEVERITY_ORDER.get(severity, len(SEVERITIES))


def rate(part: int, whole: int) -> float | None:
    """``part / whole``, capped at 1; None when ``whole`` is 0."""
    return min(1.0, part / whole) if whole else None


@dataclass(slots=True)
class Totals:
    """What a set of series and findings amounts to."""

    series: int = 0
    reviewed: int = 0
    by_status: dict[str, int] = field(default_factory=dict)
    patches: int = 0
    patches_with_findings: int = 0
    replies: int = 0
    findings: int = 0
    by_severity: dict[str, int] = field(default_factory=dict)
    by_category: dict[str, int] = field(default_factory=dict)
    matrix: dict[str, dict[str, int]] = field(default_factory=dict)
    mailed: int = 0
    false_positive_reports: int = 0
    fixed: int = 0
    fixable: int = 0

    @property
    def fixed_rate(self) -> float | None:
        """Share of fixable findings that the next version fixed."""
        return rate(self.fixed, self.fixable)

    @property
    def false_positive_rate(self) -> float | None:
        """False-positive reports per mailed finding."""
        return rate(self.false_positive_reports, self.mailed)


def totals(series: Sequence[Series], findings: Sequence[Finding],
           false_positives: Sequence[FalsePositive], superseded: set[int]) -> Totals:
    """Totals over ``series`` and ``findings`` (findings may be a subset of the series')."""
    out = Totals(series=len(series))
    out.by_status = dict(Counter(s.status for s in series))
    out.reviewed = out.by_status.get("reviewed", 0)
    for s in series:
        out.patches += len(s.patches)
        out.replies += sum(1 for p in s.patches if p.reply is not None)
    out.patches_with_findings = len({f.review_id for f in findings})
    out.findings = len(findings)
    sev = Counter(f.severity for f in findings)
    cat = Counter(f.category for f in findings)
    out.by_severity = {k: sev.get(k, 0) for k in SEVERITIES} | dict(sev)
    out.by_category = {k: cat.get(k, 0) for k in CATEGORIES} | dict(cat)
    out.matrix = {c: {s: 0 for s in SEVERITIES} for c in out.by_category}
    for f in findings:
        out.matrix[f.category][f.severity] = out.matrix[f.category].get(f.severity, 0) + 1
    out.mailed = sum(1 for f in findings if f.mailed)
    ids = {f.id for f in findings}
    series_ids = {s.id for s in series}
    out.false_positive_reports = sum(
        1 for fp in false_positives
        if (fp.finding_id in ids) or (fp.finding_id is None and fp.series_id in series_ids))
    fixable = [f for f in findings if f.series_id in superseded]
    out.fixable = len(fixable)
    out.fixed = sum(1 for f in fixable if f.fixed_in_series_id is not None)
    return out


@dataclass(slots=True)
class RuleStat:
    """One rule's findings, mail, false-positive reports and fixes."""

    rule: str
    name: str
    category: str
    findings: int = 0
    mailed: int = 0
    false_positive_reports: int = 0
    fixed: int = 0
    fixable: int = 0

    @property
    def false_positive_rate(self) -> float | None:
        """Reports per mailed finding."""
        return rate(self.false_positive_reports, self.mailed)

    @property
    def fixed_rate(self) -> float | None:
        """Share of fixable findings fixed in the next version."""
        return rate(self.fixed, self.fixable)


def rule_stats(findings: Iterable[Finding], false_positives: Iterable[FalsePositive],
               superseded: set[int]) -> list[RuleStat]:
    """Per rule (those with findings or reports), by rule id."""
    stats: dict[str, RuleStat] = {}

    def stat(rule_id: str, name: str = "", category: str = "") -> RuleStat:
        if rule_id not in stats:
            rule = get_rule(rule_id)
            stats[rule_id] = RuleStat(rule_id, rule.meta.name if rule else name,
                                      rule.meta.category.value if rule else category)
        return stats[rule_id]

    for f in findings:
        s = stat(f.rule, f.name, f.category)
        s.findings += 1
        s.mailed += int(f.mailed)
        if f.series_id in superseded:
            s.fixable += 1
            s.fixed += int(f.fixed_in_series_id is not None)
    for fp in false_positives:
        stat(fp.rule).false_positive_reports += 1
    return [stats[k] for k in sorted(stats)]


@dataclass(slots=True)
class Trend:
    """Counts per time bucket (oldest first)."""

    unit: str
    labels: list[str]
    series: list[int]
    findings: dict[str, list[int]]


def _start(when: datetime, unit: str) -> datetime:
    day = when.replace(hour=0, minute=0, second=0, microsecond=0)
    if unit == "week":
        return day - timedelta(days=day.weekday())
    if unit == "month":
        return day.replace(day=1)
    return day


def _next(when: datetime, unit: str) -> datetime:
    if unit == "day":
        return when + timedelta(days=1)
    if unit == "week":
        return when + timedelta(days=7)
    return (when.replace(day=28) + timedelta(days=4)).replace(day=1)


def trend(series: Sequence[Series], findings: Sequence[Finding], now: float | None = None,
          max_buckets: int = 60) -> Trend:
    """Series reviewed and findings (by severity) per day, week or month.

    The unit is the finest that covers the data in at most ``max_buckets``.
    """
    times = [s.when for s in series] + [f.reviewed_at for f in findings]
    end = datetime.fromtimestamp(now if now is not None else time.time(), UTC)
    if times:
        end = max(end, datetime.fromtimestamp(max(times), UTC))
    first = datetime.fromtimestamp(min(times), UTC) if times else end
    span = (end - first).days + 1
    unit = "day" if span <= max_buckets else "week" if span <= 7 * max_buckets else "month"
    starts = [_start(first, unit)]
    while _next(starts[-1], unit) <= end:
        starts.append(_next(starts[-1], unit))
    starts = starts[-max_buckets:]
    index = {s: i for i, s in enumerate(starts)}

    def bucket(ts: float) -> int | None:
        return index.get(_start(datetime.fromtimestamp(ts, UTC), unit))

    counts = [0] * len(starts)
    for s in series:
        if s.status == "reviewed":
            i = bucket(s.when)
            if i is not None:
                counts[i] += 1
    by_sev = {k: [0] * len(starts) for k in SEVERITIES}
    for f in findings:
        i = bucket(f.reviewed_at)
        if i is not None and f.severity in by_sev:
            by_sev[f.severity][i] += 1
    fmt = "%Y-%m" if unit == "month" else "%Y-%m-%d"
    return Trend(unit, [s.strftime(fmt) for s in starts], counts, by_sev)
