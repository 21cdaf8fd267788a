"""``export.json``: everything the dashboard shows, for tools."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from typing import IO, Any

from reviewbot import __version__
from reviewbot.dashboard.data import Dataset, Finding, Patch, Series
from reviewbot.dashboard.links import archive_url, iso, rule_page, series_page
from reviewbot.dashboard.scopes import Scope
from reviewbot.dashboard.settings import DashboardSettings
from reviewbot.dashboard.stats import RuleStat, Totals, Trend


def _totals(t: Totals) -> dict[str, Any]:
    out = dataclasses.asdict(t)
    out["fixed_rate"] = t.fixed_rate
    out["false_positive_rate"] = t.false_positive_rate
    return out


def _rule(r: RuleStat) -> dict[str, Any]:
    out = dataclasses.asdict(r)
    out.update(false_positive_rate=r.false_positive_rate, fixed_rate=r.fixed_rate,
               page=rule_page(r.rule))
    return out


def _finding(f: Finding, archive: str) -> dict[str, Any]:
    out = {k: getattr(f, k) for k in Finding.__dataclass_fields__}
    out.update(reviewed_at=iso(f.reviewed_at), rule_page=rule_page(f.rule),
               archive_url=archive_url(archive, f.msgid))
    return out


def _patch(p: Patch, archive: str) -> dict[str, Any]:
    out = {k: getattr(p, k) for k in Patch.__dataclass_fields__ if k not in ("findings", "reply")}
    out["reviewed_at"] = iso(p.reviewed_at)
    out["archive_url"] = archive_url(archive, p.msgid)
    out["reply"] = None if p.reply is None else {
        "message_id": p.reply.message_id, "status": p.reply.status,
        "sent_at": iso(p.reply.sent_at) if p.reply.sent_at else None,
        "archive_url": archive_url(archive, p.reply.message_id)}
    out["findings"] = [_finding(f, archive) for f in p.findings]
    return out


def _series(s: Series, archive: str) -> dict[str, Any]:
    out = {k: getattr(s, k) for k in Series.__dataclass_fields__ if k != "patches"}
    out.update(first_seen=iso(s.first_seen),
               reviewed_at=iso(s.reviewed_at) if s.reviewed_at is not None else None,
               page=series_page(s.id), archive_url=archive_url(archive, s.thread_root),
               patches=[_patch(p, archive) for p in s.patches])
    return out


def _scope(scope: Scope, totals: Totals, page: str) -> dict[str, Any]:
    out: dict[str, Any] = {"key": scope.key, "title": scope.title, "page": page,
                           "totals": _totals(totals),
                           "series": [s.id for s in scope.series],
                           "findings": [f.id for f in scope.findings]}
    if scope.entries:
        out["entries"] = [{"title": e.title, "status": e.status, "lists": e.lists,
                           "maintainers": [dataclasses.asdict(p) for p in e.maintainers],
                           "reviewers": [dataclasses.asdict(p) for p in e.reviewers],
                           "files": [p.text for p in e.files],
                           "excludes": [p.text for p in e.excludes],
                           "regexes": [r.pattern for r in e.regexes]}
                          for e in scope.entries]
    return out


def write(out: IO[str], data: Dataset, settings: DashboardSettings, totals: Totals,
          trend: Trend, rules: Sequence[RuleStat],
          scopes: Sequence[tuple[Scope, Totals, str]]) -> None:
    """Write the export document as compact JSON to ``out``."""
    archive = settings.archive_url
    doc = {
        "tool": "reviewbot", "version": __version__, "generated_at": iso(data.read_at),
        "schema_version": data.schema_version, "title": settings.title,
        "archive_url": archive,
        "totals": _totals(totals),
        "trend": dataclasses.asdict(trend),
        "rules": [_rule(r) for r in rules],
        "lists": [_scope(s, t, p) for s, t, p in scopes if s.kind == "list"],
        "subsystems": [_scope(s, t, p) for s, t, p in scopes if s.kind == "subsystem"],
        "maintainers": [_scope(s, t, p) | {"email": s.key} for s, t, p in scopes
                        if s.kind == "maintainer"],
        "series": [_series(s, archive) for s in data.series.values()],
        "false_positives": [dataclasses.asdict(fp) | {"reported_at": iso(fp.reported_at)}
                            for fp in data.false_positives],
    }
    json.dump(doc, out, ensure_ascii=False, separators=(",", ":"))
