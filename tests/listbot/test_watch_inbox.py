"""End to end: a real public-inbox inbox read by `reviewbot watch lore` (through
public-inbox-httpd) or `reviewbot watch public-inbox-git` (its git epochs),
replying to a real SMTP sink."""

from __future__ import annotations

from email.message import EmailMessage
from pathlib import Path

import pytest

from tests.listbot import mails
from tests.listbot.conftest import Run, Watcher, db_rows, parse, run_cli, write_config
from tests.listbot.harness import PublicInbox, SmtpSink


def watch(pi: PublicInbox, db: Path, cfg: Path, *extra: str) -> Run:
    return run_cli("watch", "lore", "--url", pi.url, "--once", "--db", str(db),
                   "--config", str(cfg), *extra)


def assert_reply_to_patch2(msg: EmailMessage, tag: str, version: int = 1) -> None:
    patch2 = mails.msgid(tag, version, 2)
    cover = mails.msgid(tag, version, 0)
    assert msg["In-Reply-To"] == f"<{patch2}>"
    assert msg["References"].split() == [f"<{cover}>", f"<{patch2}>"]
    assert msg["To"] == "Alice Developer <alice@example.org>"
    assert msg["Cc"] == mails.LIST
    assert str(msg["Subject"]).startswith("Re: [PATCH")
    assert "2/3] foofs: allocate dir blocks in a NOFS scope" in str(msg["Subject"])


def test_series_with_one_hazard_gets_exactly_one_reply(
        tmp_path: Path, inbox: PublicInbox, sink: SmtpSink, via: str) -> None:
    inbox.deliver(*mails.series("s1"))
    bot = Watcher(via, inbox, tmp_path / "state.db",
                  write_config(tmp_path / "site.toml", sink.port))
    db = bot.db

    run = bot.run()
    assert run.status == 0, run.err
    assert len(sink.mails) == 1
    got = sink.mails[0]
    assert sorted(got.recipients) == sorted(["alice@example.org", mails.LIST])
    assert got.sender == "reviewbot@bot.example.net"
    msg = parse(got.data)
    assert_reply_to_patch2(msg, "s1")
    body = msg.get_content()
    assert body.startswith("On ") and "Alice Developer <alice@example.org> wrote:" in body
    # The offending hunk is quoted, trimmed, with the comment under it.
    assert "> diff --git a/fs/foofs/dir.c b/fs/foofs/dir.c" in body
    assert "> +\tnofs = memalloc_nofs_save();" in body
    assert "> +\t\treturn -ENOMEM;" in body
    assert "[ ... ]" in body
    assert "foofs_add_entry()" in body and "(MEMALLOC-001, error)" in body
    # Footer: what the bot is, rule docs, false positive, opt out.
    assert "\n-- \n" in body
    assert "MEMALLOC-001: https://reviewbot.invalid/rules/MEMALLOC-001" in body
    assert '"reviewbot: false-positive MEMALLOC-001"' in body
    assert "reviewbot: opt-out" in body
    assert all(len(line.expandtabs(8)) <= 78 for line in body.splitlines()), body
    assert "1 series reviewed (3 patches, 1 findings)" in run.err

    # Run again: nothing new.
    again = bot.run()
    assert again.status == 0, again.err
    assert len(sink.mails) == 1
    assert "0 new messages" in again.err
    assert [r["n"] for r in db_rows(db, "SELECT COUNT(*) AS n FROM reviews")] == [3]


@pytest.mark.parametrize("announce", ["with-findings", "always"])
def test_reroll_fixing_the_finding(tmp_path: Path, inbox: PublicInbox, sink: SmtpSink,
                                   announce: str, via: str) -> None:
    inbox.deliver(*mails.series("s2"))
    bot = Watcher(via, inbox, tmp_path / "state.db", write_config(
        tmp_path / "site.toml", sink.port, f'[mail]\nannounce_fixed = "{announce}"\n'))
    db = bot.db
    assert bot.run().status == 0
    assert len(sink.mails) == 1

    # A human reviewer answers v1 patch 2, then v2 arrives with the fix.
    inbox.deliver(mails.reply("s2", 1, 2, "Agreed, the error path leaks the scope.",
                              quote="+\t\treturn -ENOMEM;"))
    inbox.deliver(*mails.series("s2", version=2, fixed=True))
    run = bot.run()
    assert run.status == 0, run.err
    series = db_rows(db, "SELECT id, version, status, previous_id FROM series ORDER BY id")
    assert [(s["version"], s["status"]) for s in series] == [(1, "reviewed"), (2, "reviewed")]
    assert series[1]["previous_id"] == series[0]["id"]
    fixed = db_rows(db, "SELECT rule, fixed_in_series_id FROM findings WHERE series_id = ?",
                    (series[0]["id"],))
    assert [(f["rule"], f["fixed_in_series_id"]) for f in fixed] == [
        ("MEMALLOC-001", series[1]["id"])]
    kinds = db_rows(db, "SELECT kind, COUNT(*) AS n FROM messages GROUP BY kind ORDER BY kind")
    assert {k["kind"]: k["n"] for k in kinds} == {"cover": 2, "patch": 6, "reply": 1}
    if announce == "with-findings":
        assert len(sink.mails) == 1  # v2 has no findings: nothing is sent
    else:
        assert len(sink.mails) == 2
        msg = parse(sink.mails[1].data)
        assert_reply_to_patch2(msg, "s2", version=2)
        body = msg.get_content()
        assert "Compared with v1, these findings are gone" in body
        assert "- MEMALLOC-001 in foofs_add_entry() in fs/foofs/dir.c" in body
    # And nothing twice.
    assert bot.run().status == 0
    assert len(sink.mails) == (1 if announce == "with-findings" else 2)
    ids = [parse(m.data)["Message-ID"] for m in sink.mails]
    assert len(set(ids)) == len(ids)


def test_still_present_finding_is_posted_again_with_a_note(
        tmp_path: Path, inbox: PublicInbox, sink: SmtpSink) -> None:
    inbox.deliver(*mails.series("s3"))
    inbox.start()
    db, cfg = tmp_path / "state.db", write_config(tmp_path / "site.toml", sink.port)
    assert watch(inbox, db, cfg).status == 0
    inbox.deliver(*mails.series("s3", version=2, fixed=False))
    assert watch(inbox, db, cfg).status == 0
    assert len(sink.mails) == 2
    body = parse(sink.mails[1].data).get_content()
    assert "Still here from v1:" in body
    status = db_rows(db, "SELECT f.status FROM findings f JOIN series s ON s.id = f.series_id "
                         "WHERE s.version = 2")
    assert [r["status"] for r in status] == ["still-present"]


def test_smtp_down_then_up_sends_exactly_one_reply(
        tmp_path: Path, inbox: PublicInbox, via: str) -> None:
    inbox.deliver(*mails.series("s4"))
    sink = SmtpSink()  # not started: nothing listens on its port
    bot = Watcher(via, inbox, tmp_path / "state.db",
                  write_config(tmp_path / "site.toml", sink.port))
    db = bot.db
    down = bot.run()
    assert down.status == 0, down.err
    assert "0 sent, 1 waiting to be sent" in down.err
    rows = db_rows(db, "SELECT status, attempts, reason FROM outbox")
    assert [(r["status"], r["attempts"]) for r in rows] == [("pending", 1)]
    assert "unreachable" in rows[0]["reason"]
    sink.start()
    try:
        up = bot.run()
        assert up.status == 0, up.err
        assert len(sink.mails) == 1
        assert bot.run().status == 0
        assert len(sink.mails) == 1
    finally:
        sink.stop()
    assert [r["status"] for r in db_rows(db, "SELECT status FROM outbox")] == ["sent"]


def test_malformed_mail_is_reported_and_the_others_reviewed(
        tmp_path: Path, inbox: PublicInbox, sink: SmtpSink, via: str) -> None:
    inbox.deliver(mails.mangled_patch("m1"), *mails.series("s5"))
    bot = Watcher(via, inbox, tmp_path / "state.db",
                  write_config(tmp_path / "site.toml", sink.port))
    db = bot.db
    run = bot.run()
    assert run.status == 0, run.err
    assert "skipped m1.mangled@example.org: malformed: " in run.err
    assert "malformed diff" in run.err
    row = db_rows(db, "SELECT kind, status, reason FROM messages WHERE msgid = ?",
                  ("m1.mangled@example.org",))[0]
    assert (row["kind"], row["status"]) == ("malformed", "failed")
    assert len(sink.mails) == 1
    assert_reply_to_patch2(parse(sink.mails[0].data), "s5")
    # Reported once, not again.
    again = bot.run()
    assert "mangled" not in again.err


def test_human_already_raised_it_so_the_bot_stays_quiet(
        tmp_path: Path, inbox: PublicInbox, sink: SmtpSink) -> None:
    inbox.deliver(*mails.series("s6"))
    inbox.deliver(mails.reply("s6", 1, 2, "This return leaks the NOFS scope: restore it "
                              "first.", quote="+\tif (!blk)\n+\t\treturn -ENOMEM;"))
    inbox.start()
    db, cfg = tmp_path / "state.db", write_config(tmp_path / "site.toml", sink.port)
    assert watch(inbox, db, cfg).status == 0
    assert sink.mails == []
    rows = db_rows(db, "SELECT f.status, r.action FROM findings f JOIN reviews r ON "
                       "r.id = f.review_id")
    assert [(r["status"], r["action"]) for r in rows] == [("already-raised", "no-mail")]


def test_false_positive_and_opt_out_replies_are_recorded(
        tmp_path: Path, inbox: PublicInbox, sink: SmtpSink) -> None:
    inbox.deliver(*mails.series("s7"))
    inbox.start()
    db, cfg = tmp_path / "state.db", write_config(tmp_path / "site.toml", sink.port)
    assert watch(inbox, db, cfg).status == 0
    bot_reply = parse(sink.mails[0].data)["Message-ID"].strip("<>")
    inbox.deliver(mails.reply("s7", 1, 2, "reviewbot: false-positive MEMALLOC-001\n\n"
                              "The caller restores it.", author=mails.ALICE,
                              parent=bot_reply, subject="Re: [PATCH 2/3] foofs: x"))
    inbox.deliver(mails.reply("s7", 1, 3, "reviewbot: opt-out", author=mails.ALICE))
    assert watch(inbox, db, cfg).status == 0
    fps = db_rows(db, "SELECT rule, reporter_email, outbox_id, finding_id, fingerprint "
                      "FROM false_positives")
    assert len(fps) == 1
    assert (fps[0]["rule"], fps[0]["reporter_email"]) == ("MEMALLOC-001", "alice@example.org")
    assert fps[0]["outbox_id"] is not None and fps[0]["finding_id"] is not None
    assert [r["address"] for r in db_rows(db, "SELECT address FROM opt_outs")] == [
        "alice@example.org"]
    # Alice opted out: her next series is reviewed but not mailed.
    inbox.deliver(*mails.series("s8", fs="barfs"))
    assert watch(inbox, db, cfg).status == 0
    assert len(sink.mails) == 1
    actions = db_rows(db, "SELECT action FROM reviews r JOIN series s ON s.id = r.series_id "
                          "WHERE s.title LIKE 'barfs%' ORDER BY r.id")
    assert [a["action"] for a in actions] == ["clean", "opted-out", "clean"]


def test_muted_list_is_reviewed_but_not_mailed(
        tmp_path: Path, inbox: PublicInbox, sink: SmtpSink) -> None:
    inbox.deliver(*mails.series("s9"))
    inbox.start()
    db = tmp_path / "state.db"
    cfg = write_config(tmp_path / "site.toml", sink.port)
    cfg.write_text(cfg.read_text().replace('mode = "lists"', 'mode = "muted"'))
    assert watch(inbox, db, cfg).status == 0
    assert sink.mails == []
    actions = [r["action"] for r in db_rows(db, "SELECT action FROM reviews ORDER BY id")]
    assert actions == ["clean", "muted", "clean"]


def test_kill_switch_holds_everything_until_released(
        tmp_path: Path, inbox: PublicInbox, sink: SmtpSink) -> None:
    inbox.deliver(*mails.series("s10"))
    inbox.start()
    db = tmp_path / "state.db"
    kill = tmp_path / "STOP"
    kill.touch()
    cfg = write_config(tmp_path / "site.toml", sink.port,
                       f'[policy]\nkill_file = "{kill}"\n')
    assert watch(inbox, db, cfg).status == 0
    assert sink.mails == []
    assert [r["status"] for r in db_rows(db, "SELECT status FROM outbox")] == ["pending"]
    kill.unlink()
    assert watch(inbox, db, cfg).status == 0
    assert len(sink.mails) == 1
