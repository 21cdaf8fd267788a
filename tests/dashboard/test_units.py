"""Small parts of the dashboard: archive links, slugs, time buckets, rates, charts, settings."""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

import pytest

from reviewbot.config import ConfigError, load_settings
from reviewbot.dashboard import charts
from reviewbot.dashboard.data import Finding, Series
from reviewbot.dashboard.links import archive_url, paged, percent, rule_page
from reviewbot.dashboard.scopes import slug
from reviewbot.dashboard.settings import DashboardSettings
from reviewbot.dashboard.stats import rate, trend
from tests.dashboard.browser import Page

DAY = 86400.0
T0 = 1_800_000_000.0


def test_archive_links_url_encode_the_message_id() -> None:
    template = "https://lore.kernel.org/r/{msgid}"
    assert archive_url(template, "<a.b@example.org>") == "https://lore.kernel.org/r/a.b@example.org"
    assert archive_url(template, 'x/y?z#"<>@h') == (
        "https://lore.kernel.org/r/x%2Fy%3Fz%23%22%3C%3E@h")
    assert archive_url("https://inbox.example/all/{msgid}/", "m@h") == (
        "https://inbox.example/all/m@h/")


def test_slugs_are_safe_and_distinct() -> None:
    a, b = slug("FOO/BAR"), slug("foo bar")
    assert a != b and a.startswith("foo-bar-") and b.startswith("foo-bar-")
    assert slug("../../etc").startswith("etc-")
    assert all(c.isalnum() or c == "-" for c in slug("<script>\u00e9\u2713"))
    assert rule_page("MEMALLOC-001") == "rules/MEMALLOC-001.html"
    assert "/" not in rule_page("../../x").removeprefix("rules/")
    assert paged("lists/x", 1) == "lists/x.html" and paged("lists/x", 3) == "lists/x-3.html"


def test_rates() -> None:
    assert rate(1, 4) == 0.25 and rate(0, 0) is None and rate(5, 2) == 1.0
    assert percent(0.256) == "26%" and percent(None) == "\u2013"


def _series(i: int, when: float) -> Series:
    return Series(i, f"k{i}", f"r{i}", 1, 1, "t", "a", "a@x", None, "reviewed", None, None,
                  when, when)


def _finding(i: int, when: float, severity: str = "error") -> Finding:
    return Finding(i, i, i, "m", "NOFS-001", "n", "nofs-misuse", severity, "high", "f.c", 1,
                   None, "msg", "s", None, "fp", "new", True, "", None, when, "subj")


def test_trend_picks_days_weeks_or_months() -> None:
    days = trend([_series(1, T0), _series(2, T0 + 2 * DAY)], [_finding(1, T0 + DAY)], T0 + 3 * DAY)
    assert days.unit == "day" and len(days.labels) == 4
    assert days.series == [1, 0, 1, 0] and days.findings["error"] == [0, 1, 0, 0]
    weeks = trend([_series(1, T0), _series(2, T0 + 200 * DAY)], [], T0 + 200 * DAY)
    assert weeks.unit == "week" and sum(weeks.series) == 2 and len(weeks.labels) <= 60
    months = trend([_series(1, T0), _series(2, T0 + 1000 * DAY)], [], T0 + 1000 * DAY)
    assert months.unit == "month" and sum(months.series) == 2
    empty = trend([], [], T0)
    assert empty.labels and not any(empty.series)


def test_charts_escape_labels_and_draw_bars() -> None:
    svg = charts.columns("<b>", ["<x>", "y"], [charts.Stack("s<", "#123456", [1, 2])])
    page = Page.of(str(svg))
    assert page.count("b") == 0 and page.count("x") == 0
    assert sum(1 for t, a in page.tags if t == "rect" and a.get("class") == "bar") == 2
    assert "&lt;x&gt;" in svg
    empty = charts.columns("t", ["a"], [charts.Stack("s", "#000", [0])])
    assert "no data yet" in empty
    bars = charts.hbars("t", [("<r>", 0.5, "#000")], percent=True)
    assert "50%" in bars and "&lt;r&gt;" in bars


def test_every_dashboard_key_is_documented_in_default_toml() -> None:
    text = resources.files("reviewbot_config").joinpath("default.toml").read_text()
    assert set(tomllib.loads(text)["dashboard"]) == set(DashboardSettings.model_fields)


@pytest.mark.parametrize(("text", "where"), [
    ('[dashboard]\narchive_url = "https://lore.kernel.org/r/"\n', "dashboard.archive_url"),
    ('[dashboard]\narchive_url = "javascript:alert(1)//{msgid}"\n', "dashboard.archive_url"),
    ('[dashboard]\nbase_url = "ftp://x/"\n', "dashboard.base_url"),
    ('[dashboard]\ntitle = "a\\u001bb"\n', "dashboard.title"),
    ('[dashboard]\nport = 70000\n', "dashboard.port"),
    ('[dashboard]\nhots = "0.0.0.0"\n', "dashboard.hots: unknown key"),
])
def test_bad_dashboard_settings(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "site.toml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=where.replace(".", r"\.")):
        load_settings(path)


def test_base_url_gets_a_trailing_slash() -> None:
    assert DashboardSettings(base_url="https://x.example/dash").base_url == (
        "https://x.example/dash/")
