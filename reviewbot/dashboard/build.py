"""Write the static dashboard: Jinja2 templates (autoescaped), inline SVG charts, a CSS
file, the Atom feed and the JSON export. No page needs JavaScript.

The site is written to a fresh directory next to ``out`` and then put in
place, so a reader never sees half a site; an existing ``out`` is replaced
only when it is empty or an earlier dashboard (it holds ``MARKER``).
"""

from __future__ import annotations

import shutil
import tempfile
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from heuristics.registry import all_rules, get_rule
from reviewbot import __version__
from reviewbot.dashboard import charts, export, feed, links, markdown
from reviewbot.dashboard.data import Dataset, Finding, load
from reviewbot.dashboard.maintainers import Index, parse
from reviewbot.dashboard.scopes import Scope, list_scopes, maintainer_scopes, subsystem_scopes
from reviewbot.dashboard.settings import DashboardSettings
from reviewbot.dashboard.stats import (
    CATEGORIES,
    SEVERITIES,
    Totals,
    Trend,
    rule_stats,
    severity_rank,
    totals,
    trend,
)

MARKER = ".reviewbot-dashboard"
RECENT = 25
RULE_FINDINGS = 50


class BuildError(Exception):
    """The site cannot be written (bad output directory, unreadable MAINTAINERS)."""


@dataclass(slots=True)
class BuildResult:
    """What a build wrote."""

    out: Path
    pages: int
    series: int
    findings: int
    seconds: float
    warnings: list[str] = field(default_factory=list)


def load_maintainers(path: Path | None) -> tuple[Index | None, list[str]]:
    """The MAINTAINERS index (None without a file) and parse warnings."""
    if path is None:
        return None, []
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise BuildError(f"{path}: {exc.strerror or exc}") from exc
    entries, warnings = parse(text)
    return Index(entries), [f"{path}: {w}" for w in warnings]


def environment() -> Environment:
    """The template environment: autoescaping on, undefined names an error."""
    env = Environment(loader=PackageLoader("reviewbot.dashboard", "templates"),
                      autoescape=True, undefined=StrictUndefined, trim_blocks=True,
                      lstrip_blocks=True)
    env.filters.update(when=links.when, pct=links.percent, rule_page=links.rule_page,
                       series_page=links.series_page)
    env.globals.update(SEVERITIES=SEVERITIES, CATEGORIES=CATEGORIES, version=__version__,
                       paged=links.paged)
    return env


def trend_charts(t: Trend, what: str = "") -> tuple[Markup, Markup]:
    """(series reviewed per bucket, findings per bucket by severity)."""
    suffix = f" {what}" if what else ""
    first = charts.columns(f"Series reviewed per {t.unit}{suffix}", t.labels,
                           [charts.Stack("series", charts.COLORS["series"], t.series)])
    second = charts.columns(f"Findings per {t.unit} by severity{suffix}", t.labels,
                            [charts.Stack(k, charts.COLORS[k], t.findings[k])
                             for k in SEVERITIES])
    return first, second


def _chunks(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i:i + size] for i in range(0, len(items), size)] or [items[:0]]


class Site:
    """Writes every page of one dataset into ``root``."""

    def __init__(self, root: Path, data: Dataset, settings: DashboardSettings,
                 index: Index | None) -> None:
        self.root = root
        self.data = data
        self.settings = settings
        self.index = index
        self.env = environment()
        self.pages = 0
        self.superseded = data.superseded

    def archive(self, msgid: str) -> str:
        """The archive link of a Message-ID."""
        return links.archive_url(self.settings.archive_url, msgid)

    def write(self, path: str, content: str | bytes) -> None:
        """Write one file of the site."""
        target = self.root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            content = content.encode("utf-8")
        target.write_bytes(content)

    def page(self, path: str, template: str, **context: Any) -> None:
        """Render ``template`` to ``path`` with links relative to that page."""
        html = self.env.get_template(template).render(
            root="../" * path.count("/"), page=path, site=self.settings,
            generated=links.when(self.data.read_at), schema=self.data.schema_version,
            has_maintainers=self.index is not None, archive=self.archive, **context)
        self.write(path, html)
        self.pages += 1

    def totals_of(self, scope_series: Sequence[Any], findings: Sequence[Finding]) -> Totals:
        """Totals of a slice."""
        return totals(scope_series, findings, self.data.false_positives, self.superseded)

    def write_all(self) -> None:
        """Every page, the feed, the export and the stylesheet."""
        data = self.data
        all_series = sorted(data.series.values(), key=lambda s: (-s.when, -s.id))
        overall = self.totals_of(all_series, data.findings)
        overall_trend = trend(all_series, data.findings, data.read_at)
        rules = rule_stats(data.findings, data.false_positives, self.superseded)
        lists = list_scopes(data)
        subsystems = subsystem_scopes(data, self.index) if self.index is not None else []
        maintainers = maintainer_scopes(subsystems)
        scope_rows: list[tuple[Scope, Totals, str]] = []
        for base, scopes in (("lists", lists), ("subsystems", subsystems),
                             ("maintainers", maintainers)):
            rows = [(s, self.totals_of(s.series, s.findings), f"{base}/{s.slug}.html")
                    for s in scopes]
            scope_rows += rows
            self.page(f"{base}/index.html", "scopes.html", kind=base, rows=rows)
            for scope, scope_totals, _ in rows:
                self.scope_pages(base, scope, scope_totals)
        self.overview(all_series, overall, overall_trend, rules, scope_rows)
        self.series_pages(all_series)
        self.rule_pages(rules)
        self.write("feed.atom", feed.render(
            data, self.settings, feed.new_findings(data, self.settings.feed_entries)))
        with (self.root / "export.json").open("w", encoding="utf-8") as fh:
            export.write(fh, data, self.settings, overall, overall_trend, rules, scope_rows)
        css = resources.files("reviewbot.dashboard").joinpath("static/style.css").read_bytes()
        self.write("style.css", css)
        self.write(MARKER, f"reviewbot {__version__} dashboard\n")

    def overview(self, all_series: Sequence[Any], overall: Totals, overall_trend: Trend,
                 rules: Sequence[Any], scope_rows: Sequence[tuple[Scope, Totals, str]]) -> None:
        """index.html."""
        series_chart, findings_chart = trend_charts(overall_trend)
        category_chart = charts.hbars("Findings by category", [
            (c, overall.by_category.get(c, 0), charts.COLORS["bar"]) for c in overall.by_category])
        severity_chart = charts.hbars("Findings by severity", [
            (s, overall.by_severity.get(s, 0), charts.COLORS.get(s, charts.COLORS["bar"]))
            for s in overall.by_severity])
        fp_chart = charts.hbars("False-positive reports per mailed finding", [
            (r.rule, r.false_positive_rate or 0.0, charts.COLORS["rate"])
            for r in rules if r.mailed or r.false_positive_reports], percent=True)
        top_subsystems = sorted((row for row in scope_rows if row[0].kind == "subsystem"),
                                key=lambda row: (-len(row[0].findings), row[0].title))[:15]
        self.page("index.html", "index.html", totals=overall, rules=rules,
                  series_chart=series_chart, findings_chart=findings_chart,
                  category_chart=category_chart, severity_chart=severity_chart,
                  fp_chart=fp_chart, recent=all_series[:RECENT],
                  counts=self.finding_counts(self.data.findings),
                  lists=[row for row in scope_rows if row[0].kind == "list"],
                  subsystems=top_subsystems, unit=overall_trend.unit)
        self.paged_series("series/index", "All series", all_series,
                          self.finding_counts(self.data.findings))

    @staticmethod
    def finding_counts(findings: Sequence[Finding]) -> dict[int, Counter[str]]:
        """Per series: findings by severity."""
        out: dict[int, Counter[str]] = defaultdict(Counter)
        for f in findings:
            out[f.series_id][f.severity] += 1
        return out

    def paged_series(self, base: str, heading: str, series: Sequence[Any],
                     counts: dict[int, Counter[str]]) -> None:
        """A listing of series split into pages of [dashboard] page_size."""
        chunks = _chunks(series, self.settings.page_size)
        for number, chunk in enumerate(chunks, start=1):
            self.page(links.paged(base, number), "series_list.html", heading=heading,
                      items=chunk, counts=counts, paging=(base, number, len(chunks)),
                      total=len(series))

    def scope_pages(self, base: str, scope: Scope, scope_totals: Totals) -> None:
        """One list's, subsystem's or maintainer's pages."""
        scope_trend = trend(scope.series, scope.findings, self.data.read_at)
        series_chart, findings_chart = trend_charts(scope_trend)
        rules = rule_stats(scope.findings, [], self.superseded)
        counts = self.finding_counts(scope.findings)
        chunks = _chunks(scope.series, self.settings.page_size)
        page_base = f"{base}/{scope.slug}"
        for number, chunk in enumerate(chunks, start=1):
            self.page(links.paged(page_base, number), "scope.html", scope=scope,
                      totals=scope_totals, series_chart=series_chart,
                      findings_chart=findings_chart, rules=rules, items=chunk, counts=counts,
                      paging=(page_base, number, len(chunks)), total=len(scope.series),
                      recent_findings=scope.findings[:RECENT])

    def series_pages(self, all_series: Sequence[Any]) -> None:
        """series/<id>.html for every series."""
        by_id = self.data.series
        list_pages = {s.key: f"lists/{s.slug}.html" for s in list_scopes(self.data)}
        for s in all_series:
            findings = sorted(s.findings, key=lambda f: (severity_rank(f.severity), f.id))
            self.page(links.series_page(s.id), "series.html", s=s,
                      previous=by_id.get(s.previous_id) if s.previous_id else None,
                      later=[by_id[i] for i in s.next_ids if i in by_id],
                      fixed_in={f.id: by_id.get(f.fixed_in_series_id)
                                for f in findings if f.fixed_in_series_id},
                      list_pages=list_pages, count=Counter(f.severity for f in findings))

    def rule_pages(self, rules: Sequence[Any]) -> None:
        """rules/index.html and rules/<ID>.html (also for ids this version does not know)."""
        stats = {r.rule: r for r in rules}
        by_rule: dict[str, list[Finding]] = defaultdict(list)
        for f in sorted(self.data.findings, key=lambda f: (-f.reviewed_at, -f.id)):
            by_rule[f.rule].append(f)
        known = all_rules()
        ids = [r.id for r in known] + sorted(set(stats) - {r.id for r in known})
        for rule_id in ids:
            rule = get_rule(rule_id)
            self.page(links.rule_page(rule_id), "rule.html", rule_id=rule_id,
                      meta=rule.meta if rule else None,
                      docs=markdown.render(rule.meta.docs) if rule else None,
                      stat=stats.get(rule_id), findings=by_rule.get(rule_id, [])[:RULE_FINDINGS],
                      series=self.data.series)
        self.page("rules/index.html", "rules.html", known=known, stats=stats,
                  unknown=[i for i in ids if get_rule(i) is None])


def _replace(staging: Path, out: Path) -> None:
    if out.exists():
        if not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists()):
            raise BuildError(f"{out}: exists and is not a reviewbot dashboard; "
                             "choose an empty or new directory")
        old = Path(tempfile.mkdtemp(prefix=".dashboard-old-", dir=out.parent))
        out.rename(old / "site")
        staging.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        staging.rename(out)


def write_site(data: Dataset, out: Path, settings: DashboardSettings,
               index: Index | None) -> int:
    """Write the site for ``data`` into the new directory ``out``; the number of pages."""
    site = Site(out, data, settings, index)
    site.write_all()
    return site.pages


def build(db: Path, out: Path, settings: DashboardSettings,
          maintainers: Path | None = None) -> BuildResult:
    """Read ``db`` and (re)write the dashboard in ``out``."""
    start = time.perf_counter()
    index, warnings = load_maintainers(maintainers)
    data = load(db)
    out = out.absolute()
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".dashboard-new-", dir=out.parent))
    try:
        pages = write_site(data, staging, settings, index)
        staging.chmod(0o755)
        _replace(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return BuildResult(out, pages, len(data.series), len(data.findings),
                       time.perf_counter() - start, warnings)
