"""The built dashboard in a real headless Chromium: screenshots of the overview and a series
page show charts and findings, the browser's DOM holds no script, and every link works."""

from __future__ import annotations

from pathlib import Path

from tests.dashboard.browser import Page, check_links, dump_dom, read_png, screenshot
from tests.dashboard.filldb import HOSTILE_AUTHOR, HOSTILE_TITLE, Filled
from tests.dashboard.test_build import ARCHIVE, series_id

SERIES_GREEN = (0x1E, 0x84, 0x49)
ERROR_RED = (0xC0, 0x39, 0x2B)
WARNING = (0xD6, 0x89, 0x10)
ADVICE = (0x2E, 0x86, 0xC1)
HEADER_GREY = (0xF3, 0xF5, 0xF8)


def test_overview_screenshot_shows_the_charts(site: Path, tmp_path: Path) -> None:
    url = (site / "index.html").as_uri()
    image = read_png(screenshot(url, tmp_path / "overview.png"))
    assert (image.width, image.height) == (1280, 1800)
    assert len(image.colors()) > 50  # not blank
    assert image.count(HEADER_GREY) > 10_000  # the stylesheet was applied
    for color in (SERIES_GREEN, ERROR_RED, WARNING, ADVICE):
        assert image.count(color, tolerance=2) > 300, color
    dom = dump_dom(url)
    page = Page.of(dom)
    assert page.count("script") == 0
    assert page.count("svg") >= 5
    bars = [a for t, a in page.tags if t == "rect" and a.get("class") == "bar"]
    assert len(bars) > 20 and all(float(a["height"] or 0) > 0 for a in bars)
    text = page.content()
    assert "Series reviewed per day" in text and "Findings per day by severity" in text
    assert check_links(site, "index.html", dom, ARCHIVE) > 50


def test_series_page_screenshot_shows_the_finding(site: Path, filled: Filled,
                                                  tmp_path: Path) -> None:
    sid = series_id(filled.db, "s1.v1.0@example.org")
    url = (site / f"series/{sid}.html").as_uri()
    image = read_png(screenshot(url, tmp_path / "series.png", 1200, 1200))
    assert len(image.colors()) > 50
    assert image.count(ERROR_RED, tolerance=2) > 200  # the error badge and the finding's bar
    dom = dump_dom(url)
    page = Page.of(dom)
    text = page.content()
    assert "MEMALLOC-001 save-without-restore-on-path" in text
    assert "this path returns from foofs_add_entry() with PF_MEMALLOC_NOFS still set" in text
    assert "return -ENOMEM;" in text
    assert any(i[:1] == "f" and i[1:].isdigit() for i in page.ids())  # finding anchors
    assert check_links(site, f"series/{sid}.html", dom, ARCHIVE) >= 15


def test_browser_shows_hostile_text_literally_and_runs_nothing(site: Path, filled: Filled
                                                               ) -> None:
    sid = series_id(filled.db, filled.series_msgids["xss"])
    for page_name in (f"series/{sid}.html", "index.html", "series/index.html"):
        dom = dump_dom((site / page_name).as_uri())
        page = Page.of(dom)
        assert page.count("script") == 0, page_name
        assert "<script" not in dom.lower().replace("&lt;script", ""), page_name
        assert HOSTILE_TITLE in page.content(), page_name
    assert HOSTILE_AUTHOR[0] in Page.of(dump_dom((site / f"series/{sid}.html").as_uri())
                                        ).content()


def test_rule_page_renders_docs_with_diff_colours(site: Path, tmp_path: Path) -> None:
    url = (site / "rules/MEMALLOC-001.html").as_uri()
    page = Page.of(dump_dom(url))
    assert [a.get("class") for t, a in page.tags if t == "pre"][:1] == ["code lang-diff"]
    assert "Why is this bad?" in page.content()
    image = read_png(screenshot(url, tmp_path / "rule.png", 1200, 1400))
    assert image.count((0xE6, 0xFF, 0xED), tolerance=2) > 1000  # added lines' background
