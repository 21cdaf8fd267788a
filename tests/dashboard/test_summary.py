"""`reviewbot summary`: digests per scope, what changed since the last one, Markdown
escaping, a mail ready to send (and sent through a real SMTP server)."""

from __future__ import annotations

import email
import email.policy
import sqlite3
import textwrap
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pytest

from reviewbot.store import Store
from reviewbot.store.schema import MIGRATIONS, SCHEMA_VERSION
from tests.dashboard.filldb import HOSTILE_AUTHOR, HOSTILE_TITLE, Filled
from tests.listbot.conftest import run_cli
from tests.listbot.harness import SmtpSink

WEEK1 = ("--since", "2027-01-14", "--until", "2027-01-22")


def summary(filled: Filled, maintainers: Path, *args: str) -> str:
    done = run_cli("summary", "--db", str(filled.db), "--maintainers", str(maintainers), *args)
    assert done.status == 0, done.err
    return done.out


def ts(text: str) -> float:
    return datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()


def count(db: Path, sql: str, params: tuple[object, ...]) -> int:
    conn = sqlite3.connect(db)
    try:
        return int(conn.execute(sql, params).fetchone()[0])
    finally:
        conn.close()


def test_text_digest_for_a_maintainer(filled: Filled, maintainers: Path) -> None:
    out = summary(filled, maintainers, "--maintainer", "Alice@Example.org", "--since", "30d",
                  "--until", "2027-02-10", "--no-record")
    assert out.startswith("reviewbot digest: maintainer Alice Maintainer <alice@example.org>\n")
    assert "2027-01-11 00:00 UTC to 2027-02-10 00:00 UTC (30 days)" in out
    assert "First digest for this scope." in out
    assert "MEMALLOC-001 fs/foofs/dir.c:67 in foofs_add_entry()" in out
    assert "https://lore.kernel.org/r/s1.v1.2@example.org" in out
    assert "NOFS-004 drivers/md" not in out  # Bea's, not Alice's
    assert "1 fixed in a later version" in " ".join(out.split())
    first_error = out.index("[error]")
    assert "[warning]" not in out[:first_error]  # most severe first
    assert all(len(line) <= 100 for line in out.splitlines())


def test_what_changed_since_the_last_digest(filled: Filled, maintainers: Path) -> None:
    first = summary(filled, maintainers, *WEEK1)
    assert "First digest for this scope." in first
    reviewed = count(filled.db, "SELECT COUNT(*) FROM series WHERE status = 'reviewed' AND "
                     "reviewed_at > ? AND reviewed_at <= ?", (ts("2027-01-14"),
                                                               ts("2027-01-22")))
    assert f"Reviewed {reviewed} series" in first
    second = summary(filled, maintainers, "--since", "7d", "--until", "2027-02-05")
    new_series = count(filled.db, "SELECT COUNT(*) FROM series WHERE status = 'reviewed' AND "
                       "reviewed_at > ? AND reviewed_at <= ?", (ts("2027-01-22"),
                                                                ts("2027-02-05")))
    new_findings = count(filled.db, "SELECT COUNT(*) FROM findings f JOIN reviews r ON "
                         "r.id = f.review_id WHERE r.reviewed_at > ? AND r.reviewed_at <= ?",
                         (ts("2027-01-22"), ts("2027-02-05")))
    assert new_series > 3 and new_findings > 3
    assert (f"Since the last digest (2027-01-22 00:00 UTC): {new_series} new series, "
            f"{new_findings} new findings") in " ".join(second.split())
    rows = count(filled.db, "SELECT COUNT(*) FROM digests WHERE scope = 'all'", ())
    assert rows == 1
    other_scope = summary(filled, maintainers, "--list", "linux-foofs@lists.example.org",
                          "--until", "2027-02-05")
    assert "First digest for this scope." in other_scope


def test_no_record_leaves_no_trace(filled: Filled, maintainers: Path) -> None:
    summary(filled, maintainers, *WEEK1, "--no-record")
    again = summary(filled, maintainers, *WEEK1, "--no-record")
    assert "First digest for this scope." in again
    assert count(filled.db, "SELECT COUNT(*) FROM digests", ()) == 0


def test_subsystem_and_list_scopes(filled: Filled, maintainers: Path) -> None:
    shrinkers = summary(filled, maintainers, "--subsystem", "foofs shrinkers", "--since", "60d",
                        "--until", "2027-02-10", "--no-record")
    assert "subsystem FOOFS SHRINKERS" in shrinkers
    assert "EVICT-004" in shrinkers and "EVICT-006" in shrinkers
    assert "MEMALLOC" not in shrinkers
    barfs = summary(filled, maintainers, "--list", "linux-barfs.lists.example.org",
                    "--since", "60d", "--until", "2027-02-10", "--no-record")
    assert "list linux-barfs@lists.example.org" in barfs
    assert "fs/foofs/dir.c" not in barfs and "[PATCH] nofs nofs in block driver" in barfs


def test_markdown_escapes_untrusted_text(filled: Filled, maintainers: Path) -> None:
    out = summary(filled, maintainers, "--format", "markdown", "--since", "60d", "--until",
                  "2027-02-10", "--no-record")
    assert out.startswith("# reviewbot digest: all lists\n")
    assert "<script>" not in out
    assert r"\<script\>alert\(\"x\"\)" not in out  # quotes are not special
    assert r"\<script\>alert(" not in out
    assert r"foofs: \<script\>alert\(" in out
    assert "## Top findings" in out and "(https://lore.kernel.org/r/" in out


def test_email_format_is_a_complete_mail(filled: Filled, maintainers: Path) -> None:
    out = summary(filled, maintainers, "--format", "email", "--maintainer", "alice@example.org",
                  "--since", "2027-01-27", "--until", "2027-01-28", "--no-record")
    msg = email.message_from_bytes(out.encode("utf-8"), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    assert str(msg["To"]) == "alice@example.org"
    assert str(msg["From"]) == "reviewbot <reviewbot@localhost>"
    assert str(msg["Subject"]).startswith("[reviewbot digest] maintainer Alice Maintainer")
    assert str(msg["Message-ID"]).endswith("@localhost>")
    assert msg["Auto-Submitted"] == "auto-generated" and msg["Date"]
    body = msg.get_content()
    flat = " ".join(body.split())
    assert "Top findings:" in body and HOSTILE_TITLE in flat and HOSTILE_AUTHOR[0] in flat
    assert all(len(line) <= 78 for line in body.splitlines()), body


def test_send_through_smtp(filled: Filled, maintainers: Path, tmp_path: Path) -> None:
    sink = SmtpSink().start()
    try:
        cfg = tmp_path / "site.toml"
        cfg.write_text(textwrap.dedent(f"""
            [bot]
            address = "reviewbot@bot.example.net"
            [smtp]
            host = "127.0.0.1"
            port = {sink.port}
            security = "none"
            """))
        done = run_cli("summary", "--db", str(filled.db), "--maintainers", str(maintainers),
                       "--config", str(cfg), "--format", "email", "--send", "--to",
                       "digest@example.org", "--subsystem", "FOOFS FILESYSTEM", "--since",
                       "60d", "--until", "2027-02-10")
        assert done.status == 0, done.err
        assert "digest sent to digest@example.org" in done.err and done.out == ""
        assert len(sink.mails) == 1
        mail = sink.mails[0]
        assert mail.sender == "reviewbot@bot.example.net"
        assert mail.recipients == ["digest@example.org"]
        assert b"subsystem FOOFS FILESYSTEM" in mail.data
    finally:
        sink.stop()


@pytest.mark.parametrize(("args", "message"), [
    (("--maintainer", "nobody@example.org"), "not in M: or R:"),
    (("--subsystem", "NO SUCH ENTRY"), "no MAINTAINERS entry"),
    (("--since", "yesterday"), "not a duration"),
    (("--since", "2027-02-10", "--until", "2027-02-01"), "before --until"),
    (("--send",), "--send needs --format email"),
    (("--format", "email"), "needs --to"),
    (("--format", "email", "--to", "not an address"), "not an address"),
])
def test_usage_errors(filled: Filled, maintainers: Path, args: tuple[str, ...],
                      message: str) -> None:
    done = run_cli("summary", "--db", str(filled.db), "--maintainers", str(maintainers), *args)
    assert done.status == 2 and message in done.err, done.err


def test_maintainer_scope_needs_maintainers(filled: Filled) -> None:
    done = run_cli("summary", "--db", str(filled.db), "--maintainer", "alice@example.org")
    assert done.status == 2 and "needs a MAINTAINERS file" in done.err


def test_a_schema_1_database_is_migrated_when_the_digest_is_recorded(tmp_path: Path) -> None:
    db = tmp_path / "old.db"
    Store.open(db, migrations=MIGRATIONS[:1]).close()
    done = run_cli("dashboard", "build", "--db", str(db), "--out", str(tmp_path / "site"))
    assert done.status == 0, done.err  # the dashboard reads schema 1 as it is
    assert count(db, "PRAGMA user_version", ()) == 1
    done = run_cli("summary", "--db", str(db))
    assert done.status == 0 and "First digest for this scope." in done.out
    assert count(db, "PRAGMA user_version", ()) == SCHEMA_VERSION == 2
    assert "Since the last digest" in run_cli("summary", "--db", str(db)).out
