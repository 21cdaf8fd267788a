"""End to end: a real public-inbox served by public-inbox-httpd, `reviewbot watch lore` replying
to a real SMTP sink, then `reviewbot dashboard build` and `reviewbot summary` on its state,
and the site in headless Chromium."""

from __future__ import annotations

from pathlib import Path

from tests.dashboard.browser import Page, check_links, dump_dom, read_png, screenshot
from tests.dashboard.filldb import HOSTILE_TITLE, hostile
from tests.dashboard.test_browser import ERROR_RED
from tests.dashboard.test_build import series_id
from tests.listbot import mails
from tests.listbot.conftest import Watcher, parse, run_cli, write_config
from tests.listbot.harness import PublicInbox, SmtpSink


def test_watch_then_dashboard_and_digest(tmp_path: Path, inbox: PublicInbox,
                                         sink: SmtpSink) -> None:
    inbox.deliver(*mails.series("e1"), *hostile(mails.series("e2", author=mails.BOB)))
    cfg = write_config(tmp_path / "site.toml", sink.port,
                       '[dashboard]\nbase_url = "https://dash.example.org/"\n')
    bot = Watcher("lore", inbox, tmp_path / "state.db", cfg)
    assert bot.run().status == 0
    assert len(sink.mails) == 2
    reply_id = next(str(parse(m.data)["Message-ID"]).strip("<>") for m in sink.mails
                    if "e1.v1.2" in str(parse(m.data)["In-Reply-To"]))
    inbox.deliver(mails.reply("e1", 1, 2, "reviewbot: false-positive MEMALLOC-001\n",
                              parent=reply_id, root=mails.msgid("e1", 1, 0)),
                  *mails.series("e1", version=2, fixed=True))
    assert bot.run().status == 0

    out = tmp_path / "site"
    done = run_cli("dashboard", "build", "--db", str(bot.db), "--out", str(out),
                   "--config", str(cfg))
    assert done.status == 0, done.err
    overview = dump_dom((out / "index.html").as_uri())
    text = Page.of(overview).content()
    assert "3 series reviewed" in text and "9 patches reviewed" in text
    assert "100% fixed in the next version 1 of 1" in text
    assert "1 reports / 2 mailed" in text
    check_links(out, "index.html", overview, "https://lore.kernel.org/r/")

    series_page = f"series/{series_id(bot.db, mails.msgid('e1', 1, 0))}.html"
    dom = dump_dom((out / series_page).as_uri())
    page = Page.of(dom)
    assert "MEMALLOC-001 save-without-restore-on-path" in page.content()
    assert "https://lore.kernel.org/r/e1.v1.2@example.org" in page.links()
    assert "https://lore.kernel.org/r/" + reply_id in page.links()
    assert "1 false-positive report" in page.content()
    check_links(out, series_page, dom, "https://lore.kernel.org/r/")
    image = read_png(screenshot((out / series_page).as_uri(), tmp_path / "s.png", 1200, 1000))
    assert image.count(ERROR_RED, tolerance=2) > 200

    e2 = series_id(bot.db, mails.msgid("e2", 1, 0))
    hostile_dom = Page.of(dump_dom((out / f"series/{e2}.html").as_uri()))
    assert hostile_dom.count("script") == 0 and HOSTILE_TITLE in hostile_dom.content()

    digest = run_cli("summary", "--db", str(bot.db), "--config", str(cfg), "--list",
                     mails.LIST, "--since", "1d")
    assert digest.status == 0, digest.err
    assert "Reviewed 3 series (9 patches)" in digest.out
    assert "https://dash.example.org/rules/MEMALLOC-001.html" in digest.out
    assert f"https://dash.example.org/{series_page}#f" in digest.out
    assert "Dashboard: https://dash.example.org/lists/linux-foofs-lists-example-org-" in (
        digest.out)
