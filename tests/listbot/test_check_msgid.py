"""`reviewbot check --msgid` against public-inbox-httpd, with and without --reply."""

from __future__ import annotations

import json
from pathlib import Path

from tests.listbot import mails
from tests.listbot.conftest import db_rows, run_cli, write_config
from tests.listbot.harness import PublicInbox, free_port


def test_check_msgid_prints_the_review(inbox: PublicInbox) -> None:
    inbox.deliver(*mails.series("c1"))
    inbox.start()
    run = run_cli("check", "--msgid", mails.msgid("c1", 1, 2), "--url", inbox.url)
    assert run.status == 1, run.err
    assert "fs/foofs/dir.c:67: error: [MEMALLOC-001 save-without-restore-on-path]" in run.out
    assert "3 patches reviewed" in run.out
    as_json = run_cli("check", "--format", "json", "--msgid", f"<{mails.msgid('c1', 1, 0)}>",
                      "--url", inbox.url)
    data = json.loads(as_json.out)
    assert [len(r["findings"]) for r in data["reviews"]] == [0, 1, 0]


def test_check_msgid_reply_posts_once_through_the_outbox(
        tmp_path: Path, inbox: PublicInbox) -> None:
    inbox.deliver(*mails.series("c2"))
    inbox.start()
    db, out = tmp_path / "state.db", tmp_path / "outbox"
    cfg = write_config(tmp_path / "site.toml")
    args = ("check", "--msgid", mails.msgid("c2", 1, 3), "--url", inbox.url, "--reply",
            "--db", str(db), "--outbox-dir", str(out), "--config", str(cfg))
    first = run_cli(*args)
    assert first.status == 1, first.err
    files = sorted(out.glob("*.eml"))
    assert len(files) == 1
    text = files[0].read_text()
    assert f"In-Reply-To: <{mails.msgid('c2', 1, 2)}>" in text
    second = run_cli(*args)
    assert second.status == 1
    assert "already handled (reviewed); nothing is posted twice" in second.err
    assert len(sorted(out.glob("*.eml"))) == 1
    assert [r["status"] for r in db_rows(db, "SELECT status FROM outbox")] == ["sent"]


def test_check_msgid_unknown_or_unreachable(tmp_path: Path, inbox: PublicInbox) -> None:
    inbox.deliver(*mails.series("c3"))
    inbox.start()
    missing = run_cli("check", "--msgid", "nope@example.org", "--url", inbox.url)
    assert missing.status == 2
    assert "cannot fetch <nope@example.org>" in missing.err
    down = run_cli("check", "--msgid", "x@example.org", "--url",
                   f"http://127.0.0.1:{free_port()}/foofs")
    assert down.status == 2 and "cannot fetch" in down.err
    assert run_cli("check", "--msgid", "x@y", "a.patch").status == 2
    assert run_cli("check", "--reply").status == 2
