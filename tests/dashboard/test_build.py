"""`reviewbot dashboard build` over a database filled through the bot: pages, links, the
Atom feed, the JSON export, escaping, and never writing to the database."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from reviewbot.store import Store
from reviewbot.store.schema import SCHEMA_VERSION
from tests.dashboard.browser import Page, check_links
from tests.dashboard.filldb import HOSTILE_AUTHOR, HOSTILE_TITLE, OTHER, Filled
from tests.listbot.conftest import run_cli
from tests.listbot.mails import LIST

ARCHIVE = "https://lore.kernel.org/r/"
ATOM = "{http://www.w3.org/2005/Atom}"


def series_id(db: Path, root: str) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute("SELECT id FROM series WHERE thread_root = ? ORDER BY id "
                                "LIMIT 1", (root,)).fetchone()[0])
    finally:
        conn.close()


def read(site: Path, page: str) -> Page:
    return Page.of((site / page).read_text(encoding="utf-8"))


def test_every_page_links_only_to_site_files_or_the_archive(site: Path) -> None:
    pages = sorted(p.relative_to(site).as_posix() for p in site.rglob("*.html"))
    assert len(pages) > 40
    checked = sum(check_links(site, page, (site / page).read_text(encoding="utf-8"), ARCHIVE)
                  for page in pages)
    assert checked > 500
    for page in pages:
        html = (site / page).read_text(encoding="utf-8")
        assert "<script" not in html.lower()
        assert "Content-Security-Policy" in html


def test_overview_counts_charts_rules(site: Path, filled: Filled) -> None:
    page = read(site, "index.html")
    text = page.content()
    assert "19 series reviewed" in text and "25 patches reviewed" in text
    assert "22 findings" in text
    assert page.count("svg") >= 5
    assert sum(1 for t, a in page.tags if t == "rect" and a.get("class") == "bar") > 20
    for category in ("nofs-misuse", "memalloc-unpaired", "vmalloc-nofs", "evict-blocking"):
        assert category in text
    assert filled.fp_rule in text
    assert "100% fixed in the next version 1 of 1" in text


def test_series_page_shows_finding_quote_rule_link_and_archive_links(
        site: Path, filled: Filled) -> None:
    sid = series_id(filled.db, "s1.v1.0@example.org")
    page = read(site, f"series/{sid}.html")
    text = page.content()
    assert "MEMALLOC-001 save-without-restore-on-path" in text
    assert "fs/foofs/dir.c:67" in text and "foofs_add_entry()" in text
    assert "> +\tblk = kmalloc(sizeof(*blk), GFP_KERNEL);" in " ".join(page.text)
    links = page.links()
    assert "../rules/MEMALLOC-001.html" in links
    assert f"{ARCHIVE}s1.v1.2@example.org" in links  # the patch
    assert f"{ARCHIVE}s1.v1.0@example.org" in links  # the thread
    assert any(link.startswith(f"{ARCHIVE}reviewbot.") for link in links)  # the bot's reply
    v2 = series_id(filled.db, "s1.v2.0@example.org")
    assert f"../series/{v2}.html" in links and "fixed in v2" in text


def test_hostile_subject_and_author_are_escaped_and_intact(site: Path, filled: Filled) -> None:
    sid = series_id(filled.db, filled.series_msgids["xss"])
    html = (site / f"series/{sid}.html").read_text(encoding="utf-8")
    page = Page.of(html)
    assert page.count("script") == 0
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    text = page.content()
    assert HOSTILE_TITLE in text
    assert HOSTILE_AUTHOR[0] in text
    for listing in ("index.html", "series/index.html", "lists/index.html"):
        assert Page.of((site / listing).read_text(encoding="utf-8")).count("script") == 0


def test_lists_subsystems_and_maintainers_pages(site: Path) -> None:
    lists = read(site, "lists/index.html").content()
    assert LIST in lists and OTHER in lists
    assert ".lists.example.org" not in lists.replace("@lists.example.org", "")  # no List-Id twins
    subsystems = read(site, "subsystems/index.html").content()
    for title in ("FOOFS FILESYSTEM", "FOOFS SHRINKERS", "BLOCK LAYER AND MD", "NILFS-LIKE"):
        assert title in subsystems
    people = read(site, "maintainers/index.html").content()
    for who in ("alice@example.org", "bob@example.org", "carol@example.org", "bea@example.org",
                "ned@example.org"):
        assert who in people
    shrinkers = next(site.glob("subsystems/foofs-shrinkers-*.html"))
    text = Page.of(shrinkers.read_text(encoding="utf-8")).content()
    assert "EVICT-004" in text and "EVICT-006" in text and "MEMALLOC-001" not in text
    block = next(site.glob("subsystems/block-layer-and-md-*.html"))
    text = Page.of(block.read_text(encoding="utf-8")).content()
    assert "NOFS-004" in text and "MEMALLOC-002" in text and "EVICT" not in text


def test_every_rule_has_a_page_with_its_docs(site: Path) -> None:
    from heuristics.registry import all_rules, doc_sections

    for rule in all_rules():
        page = read(site, f"rules/{rule.id}.html")
        headings = [t for t, _ in page.tags if t == "h2"]
        assert headings, rule.id
        text = page.content()
        for title in doc_sections(rule.meta.docs):
            assert title in text, (rule.id, title)


def test_atom_feed_of_new_findings(site: Path) -> None:
    feed = ET.fromstring((site / "feed.atom").read_bytes())
    assert feed.tag == f"{ATOM}feed"
    entries = feed.findall(f"{ATOM}entry")
    assert len(entries) == 22  # no finding repeats an earlier version or was answered
    ids = [e.findtext(f"{ATOM}id") for e in entries]
    assert len(set(ids)) == len(ids) and all(i and i.startswith("urn:uuid:") for i in ids)
    titles = [e.findtext(f"{ATOM}title") or "" for e in entries]
    assert any(HOSTILE_TITLE in (e.findtext(f"{ATOM}content") or "") for e in entries)
    assert all(t.startswith("[") for t in titles)
    updated = [e.findtext(f"{ATOM}updated") or "" for e in entries]
    assert updated == sorted(updated, reverse=True)
    for entry in entries:
        hrefs = [link.get("href") or "" for link in entry.findall(f"{ATOM}link")]
        page, _, fragment = hrefs[0].partition("#")
        assert (site / page).is_file() and fragment.startswith("f")
        assert hrefs[1].startswith(ARCHIVE)


def test_json_export_has_everything_shown(site: Path, filled: Filled) -> None:
    doc = json.loads((site / "export.json").read_text(encoding="utf-8"))
    assert doc["tool"] == "reviewbot" and doc["schema_version"] == SCHEMA_VERSION
    assert doc["totals"]["findings"] == 22 and doc["totals"]["fixed"] == 1
    assert len(doc["series"]) == 19
    findings = [f for s in doc["series"] for p in s["patches"] for f in p["findings"]]
    assert len(findings) == 22
    assert all((site / f["rule_page"]).is_file() for f in findings)
    assert {r["rule"] for r in doc["rules"]} >= {"MEMALLOC-001", filled.fp_rule}
    fp = next(r for r in doc["rules"] if r["rule"] == filled.fp_rule)
    assert fp["false_positive_reports"] == 1 and fp["false_positive_rate"] == 1.0
    assert {s["key"] for s in doc["lists"]} == {LIST, OTHER}
    assert {s["key"] for s in doc["maintainers"]} >= {"alice@example.org", "bea@example.org"}
    hostile = next(s for s in doc["series"] if s["thread_root"] == filled.series_msgids["xss"])
    assert hostile["title"] == HOSTILE_TITLE and hostile["author_name"] == HOSTILE_AUTHOR[0]
    assert len(doc["trend"]["labels"]) == len(doc["trend"]["series"])


def test_build_never_writes_the_database_and_works_while_the_watcher_holds_it(
        filled: Filled, tmp_path: Path) -> None:
    before = hashlib.sha256(filled.db.read_bytes()).hexdigest()
    with Store.open(filled.db):  # the watcher's lock
        done = run_cli("dashboard", "build", "--db", str(filled.db), "--out",
                       str(tmp_path / "out"))
    assert done.status == 0, done.err
    assert hashlib.sha256(filled.db.read_bytes()).hexdigest() == before
    assert "pages" in done.err and (tmp_path / "out" / "index.html").is_file()


def test_rebuild_replaces_an_earlier_dashboard_but_never_another_directory(
        filled: Filled, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("dashboard", "build", "--db", str(filled.db), "--out", str(out)).status == 0
    (out / "stale.html").write_text("old")
    assert run_cli("dashboard", "build", "--db", str(filled.db), "--out", str(out)).status == 0
    assert not (out / "stale.html").exists() and (out / "index.html").exists()
    other = tmp_path / "home-dir"
    other.mkdir()
    (other / "precious.txt").write_text("keep me")
    done = run_cli("dashboard", "build", "--db", str(filled.db), "--out", str(other))
    assert done.status == 2 and "not a reviewbot dashboard" in done.err
    assert (other / "precious.txt").read_text() == "keep me"
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".dashboard")] == []


def test_without_maintainers_the_pages_say_so(filled: Filled, tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert run_cli("dashboard", "build", "--db", str(filled.db), "--out", str(out)).status == 0
    assert "No MAINTAINERS file was given" in read(out, "subsystems/index.html").content()


@pytest.mark.parametrize("problem", ["missing", "not-reviewbot", "newer", "garbage"])
def test_unusable_databases_are_usage_errors(tmp_path: Path, problem: str) -> None:
    db = tmp_path / "state.db"
    if problem == "not-reviewbot":
        conn = sqlite3.connect(db)
        conn.execute("CREATE TABLE t (x)")
        conn.close()
    elif problem == "newer":
        conn = sqlite3.connect(db)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        conn.close()
    elif problem == "garbage":
        db.write_bytes(b"not a database" * 100)
    done = run_cli("dashboard", "build", "--db", str(db), "--out", str(tmp_path / "out"))
    assert done.status == 2, done
    assert {"missing": "no such database", "not-reviewbot": "not a reviewbot database",
            "newer": "newer than this reviewbot", "garbage": "state.db"}[problem] in done.err
    assert not (tmp_path / "out").exists()


def test_an_empty_database_builds_with_empty_charts(tmp_path: Path) -> None:
    Store.open(tmp_path / "state.db").close()
    out = tmp_path / "out"
    done = run_cli("dashboard", "build", "--db", str(tmp_path / "state.db"), "--out", str(out))
    assert done.status == 0, done.err
    page = read(out, "index.html")
    assert "no data yet" in page.content() and "0 series reviewed" in page.content()


def test_rules_this_version_does_not_know_get_safe_pages(filled: Filled, tmp_path: Path) -> None:
    conn = sqlite3.connect(filled.db)
    conn.execute("UPDATE findings SET rule = 'GONE-001' WHERE id = 1")
    conn.execute("UPDATE findings SET rule = '../../evil\x1b' WHERE id = 2")
    conn.commit()
    conn.close()
    out = tmp_path / "out"
    done = run_cli("dashboard", "build", "--db", str(filled.db), "--out", str(out))
    assert done.status == 0, done.err
    assert "not known to this reviewbot version" in read(out, "rules/GONE-001.html").content()
    assert not (tmp_path / "evil.html").exists()
    assert sorted(p.parent for p in out.rglob("*evil*.html")) == [out / "rules"]
    for page in ("rules/index.html", "series/1.html"):
        check_links(out, page, (out / page).read_text(encoding="utf-8"), ARCHIVE)
    feed = ET.fromstring((out / "feed.atom").read_bytes())  # still well-formed XML
    assert any("evil" in (e.findtext(f"{ATOM}title") or "") for e in feed)
