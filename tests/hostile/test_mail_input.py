"""Hostile mail: a 100 MB mbox, MIME bombs, broken charsets, odd headers, terminal escapes.

Each test states the exact safe behaviour: what is reviewed, what is reported
as unreadable (with which reason), and what never happens (a traceback, a
control character on the terminal, unbounded memory).
"""

from __future__ import annotations

import base64
import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from reviewbot.cli import main
from reviewbot.config import Settings
from reviewbot.ingest import read_bytes
from reviewbot.store import Store
from reviewbot.watch.intake import Intaker
from tests.hostile.corpus import (
    CLEAN,
    HAZARD,
    HAZARD_RULE,
    build_inbox,
    mail,
    mbox,
    nested_multipart,
    run_reviewbot,
    wide_multipart,
)

BOT = "reviewbot@bot.example.net"


def check_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any], str]:
    status = main(["check", "--format", "json", *args])
    out = capsys.readouterr()
    return status, json.loads(out.out), out.err


@pytest.fixture
def intaker(tmp_path: Path) -> Intaker:
    return Intaker(Store.open(tmp_path / "state.db"), Settings.model_validate(
        {"bot": {"address": BOT}}))


def write_giant_mbox(path: Path, size: int) -> None:
    """A patch, a ``size``-byte patch mail, a clean patch: streamed to disk, never in memory."""
    line = b"+\tfoofs_fill(inode, 0x0123456789abcdef, 0xfedcba9876543210, GFP_NOFS);\n"
    count = size // len(line)
    with path.open("wb") as out:
        out.write(mbox(mail(msgid="first@example.org")))
        head = mail(subject="[PATCH] foofs: generated table", msgid="giant@example.org",
                    body=f"Big.\n---\n--- /dev/null\n+++ b/fs/foofs/table.c\n"
                         f"@@ -0,0 +1,{count} @@\n")
        out.write(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + head)
        block = line * 4096
        for _ in range(count // 4096):
            out.write(block)
        out.write(line * (count % 4096))
        out.write(mbox(mail(subject="[PATCH] foofs: count", msgid="last@example.org",
                            body="Count.\n---\n" + CLEAN)))


def test_100mb_mbox_is_read_message_by_message_within_bounds(tmp_path: Path) -> None:
    """The giant message is skipped with its size; its neighbours are reviewed; memory stays
    far below the mbox size because an over-limit message is counted, never kept."""
    big = tmp_path / "giant.mbox"
    write_giant_mbox(big, 100 * 1024 * 1024)
    assert big.stat().st_size > 100 * 1024 * 1024
    child = run_reviewbot(["check", "--format", "json", str(big)], timeout=300)
    assert child.status == 2, child.err
    data = json.loads(child.out)
    by_source = {r["source"]: r for r in data["reviews"]}
    assert [f["rule"] for f in by_source[f"{big}#1"]["findings"]] == [HAZARD_RULE]
    assert by_source[f"{big}#3"]["findings"] == [] and by_source[f"{big}#3"]["error"] is None
    error = by_source[f"{big}#2"]["error"]
    assert "over [limits] max_message_bytes (8388608); skipped" in error
    assert error.startswith("message is 1048")  # its full size was counted: > 100 MiB
    assert child.err.strip().splitlines() == [f"reviewbot: {big}#2: {error}"]
    assert child.max_rss_mb < 250, f"peak RSS {child.max_rss_mb:.0f} MiB"


def test_100mb_message_in_the_bot_is_skipped_and_not_stored(intaker: Intaker) -> None:
    raw = mail(msgid="giant@example.org", body=b"x" * (100 * 1024 * 1024))
    got = intaker.take(raw, "test")
    assert (got.msgid, got.kind, got.status) == ("giant@example.org", "too-large", "skipped")
    assert got.reason is not None and "over [limits] max_message_bytes (8388608)" in got.reason
    row = intaker.store.one("SELECT raw, reason FROM messages WHERE msgid = ?", (got.msgid,))
    assert row is not None and row["raw"] is None and row["reason"] == got.reason
    assert intaker.take(raw, "test").duplicate  # recorded once


def test_100mb_message_in_a_public_inbox_mirror_is_never_read_whole(tmp_path: Path) -> None:
    """watch public-inbox-git reads only the header block of an oversized blob."""
    giant = mail(msgid="giant@example.org", body=b"x" * (100 * 1024 * 1024))
    inbox = build_inbox(tmp_path / "pi", [giant, mail(msgid="after@example.org")])
    del giant
    db = tmp_path / "state.db"
    child = run_reviewbot(["watch", "public-inbox-git", "--repo", str(inbox), "--once",
                           "--db", str(db)])
    assert child.status == 0, child.err
    assert child.max_rss_mb < 150, f"peak RSS {child.max_rss_mb:.0f} MiB"
    conn = sqlite3.connect(db)
    try:
        rows = dict(conn.execute("SELECT msgid, status FROM messages").fetchall())
        raw = conn.execute("SELECT raw FROM messages WHERE msgid = 'giant@example.org'"
                           ).fetchone()[0]
    finally:
        conn.close()
    assert rows == {"giant@example.org": "skipped", "after@example.org": "seen"}
    assert raw is None
    assert "reviewbot: skipped giant@example.org: too-large: message is 104857" in child.err


def test_message_limit_is_configurable(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                       ) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text("[limits]\nmax_message_bytes = 500\nmax_patch_lines = 10\n")
    small, large = tmp_path / "small.patch", tmp_path / "large.eml"
    small.write_text(CLEAN)  # 11 diff lines
    large.write_bytes(mail())
    status, data, err = check_json(capsys, "--config", str(cfg), str(small), str(large))
    errors = {Path(r["source"]).name: r["error"] for r in data["reviews"]}
    assert errors == {
        "small.patch": "the patch has 11 lines, over [limits] max_patch_lines (10)",
        "large.eml": f"message is {len(mail())} bytes, over [limits] max_message_bytes "
                     "(500); skipped"}
    assert status == 2 and len(err.strip().splitlines()) == 2


@pytest.mark.parametrize("depth", [17, 200, 5000])
def test_deeply_nested_multipart_is_refused(depth: int, intaker: Intaker) -> None:
    raw = nested_multipart(depth)
    got = read_bytes(raw, "bomb.eml")
    assert got.patches == []
    assert [e.error for e in got.errors] == ["MIME parts nested deeper than 16"]
    taken = intaker.take(raw, "test")
    assert (taken.kind, taken.status, taken.reason) == (
        "malformed", "failed", "MIME parts nested deeper than 16")


def test_moderately_nested_multipart_is_reviewed() -> None:
    [patch] = read_bytes(nested_multipart(12), "nested.eml").patches
    assert [f.path for f in patch.files] == ["fs/foofs/inode.c"]


def test_wide_multipart_bomb_is_refused_quickly(intaker: Intaker) -> None:
    raw = wide_multipart(200_000)
    assert 6_000_000 < len(raw) < 8 * 1024 * 1024  # under the size limit: the shape decides
    got = read_bytes(raw, "wide.eml")
    assert [e.error for e in got.errors] == ["more than 256 MIME parts"]
    assert intaker.take(raw, "test").reason == "more than 256 MIME parts"


def test_mime_bomb_in_check_is_one_error_line(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "bomb.mbox"
    path.write_bytes(mbox(nested_multipart(3000), mail(msgid="ok@example.org")))
    status, data, err = check_json(capsys, str(path))
    assert status == 2
    assert err == f"reviewbot: {path}#1: MIME parts nested deeper than 16\n"
    assert [f["rule"] for r in data["reviews"] for f in r["findings"]] == [HAZARD_RULE]


def _charset_mail(charset: str, body: bytes, cte: str = "8bit") -> bytes:
    return mail(body=body, headers=[("Content-Type", f"text/plain; charset={charset}"),
                                    ("Content-Transfer-Encoding", cte)])


PATCH_BODY = ("Sync.\n---\n" + HAZARD).encode()
BROKEN_CHARSETS = {
    # The diff is ASCII: a wrong or unknown label still yields it (utf-8 fallback).
    "unknown charset": (_charset_mail("x-no-such-charset", PATCH_BODY), "reviewed"),
    "empty charset": (_charset_mail('""', PATCH_BODY), "reviewed"),
    "charset with NUL": (_charset_mail('"utf\\0-8"', PATCH_BODY), "reviewed"),
    "invalid utf-8 bytes": (_charset_mail("utf-8", b"Gr\xfc\xdf\xff\xfe.\n" + PATCH_BODY),
                            "reviewed"),
    "latin-1 labelled utf-8": (_charset_mail("utf-8", "Jörg\n".encode("latin-1")
                                             + PATCH_BODY), "reviewed"),
    # Undecodable base64 is left as it is: no diff in it, nothing to review.
    "truncated base64": (_charset_mail("utf-8", base64.b64encode(PATCH_BODY)[:-3], "base64"),
                         "skipped"),
    "garbage quoted-printable": (_charset_mail("utf-8", b"=ZZ=\n=4" + PATCH_BODY,
                                               "quoted-printable"), "reviewed"),
    "unknown transfer encoding": (_charset_mail("utf-8", PATCH_BODY, "x-rot13"), "reviewed"),
    # Labelled UTF-16 but ASCII: decoding garbles it, so there is no diff to review.
    "ascii labelled utf-16": (_charset_mail("utf-16", PATCH_BODY), "skipped"),
    "encoded-word, unknown charset": (
        mail(subject="=?x-unknown?B?W1BBVENIXSBmb29mczogeA==?=", body=PATCH_BODY), "reviewed"),
    "encoded-word, broken base64": (
        mail(subject="=?utf-8?B?!!!not*base64?=", body=PATCH_BODY), "reviewed"),
    "raw 8-bit header": (
        mail(body=PATCH_BODY).replace(b"Subject: [PATCH]", b"Subject: \xff\xfe[PATCH]"),
        "reviewed"),
    "raw 8-bit Message-ID and From": (
        mail(body=PATCH_BODY, msgid="\xe9t\xe9@example.org").replace(
            b"\xc3\xa9t\xc3\xa9", b"\xe9t\xe9").replace(b"Alice", b"Al\xefce"), "reviewed"),
}


@pytest.mark.parametrize("case", sorted(BROKEN_CHARSETS))
def test_broken_charsets(case: str, intaker: Intaker) -> None:
    raw, outcome = BROKEN_CHARSETS[case]
    got = read_bytes(raw, "mail.eml")
    assert got.errors == []
    if outcome == "reviewed":
        [patch] = got.patches
        assert [f.path for f in patch.files] == ["fs/foofs/inode.c"]
        for text in (patch.subject, patch.message_id or "", *patch.author):
            text.encode("utf-8")  # no lone surrogates: printable, storable, mailable
    else:
        assert got.patches == [] and got.skipped == ["mail.eml"]
    taken = intaker.take(raw, "test")
    assert taken.status == ("seen" if outcome == "reviewed" else "skipped")
    taken.msgid.encode("utf-8")


ODD_HEADERS = {
    # The email package raises AttributeError on this group (found by the fuzzer).
    "group with ; in an angle address": ("To", "undisclosed: <a;b@example.org>"),
    "unterminated group": ("Cc", "team: a@example.org, b@example.org"),
    "encoded-word address": ("From", "=?utf-8?q?=0D=0ABcc:_x@evil.example?= <a@example.org>"),
    "no address at all": ("From", "<>"),
    "huge References": ("References", " ".join(f"<r{i}@x>" for i in range(20000))),
    "broken Date": ("Date", "Mon, 99 Foo 99999 99:99:99 +9999"),
    "In-Reply-To without brackets": ("In-Reply-To", "$(reboot)"),
}


@pytest.mark.parametrize("case", sorted(ODD_HEADERS))
def test_odd_headers_do_not_stop_the_review(case: str, intaker: Intaker) -> None:
    name, value = ODD_HEADERS[case]
    raw = mail(msgid=f"odd-{abs(hash(case))}@example.org").replace(
        b"\nMIME-Version:", f"\n{name}: {value}\nMIME-Version:".encode(), 1)
    got = read_bytes(raw, "odd.eml")
    assert got.errors == []
    [patch] = got.patches
    assert [f.path for f in patch.files] == ["fs/foofs/inode.c"]
    assert intaker.take(raw, "test").status == "seen"


# OSC title, clear screen, colour, C1 CSI, backspace (a CR would end the header line).
ESCAPES = "\x1b]0;owned\x07\x1b[2J\x1b[31m\x9b1;1H\x08"


def test_terminal_escapes_in_subjects_never_reach_the_terminal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    raw = mail(subject=f"[PATCH] foofs: {ESCAPES}evict").replace(
        b"+\tfilemap_write_and_wait", f"+\t/* {ESCAPES} */ filemap_write_and_wait".encode())
    path = tmp_path / f"esc{ESCAPES[:4]}.eml"
    path.write_bytes(raw)
    for fmt in ("text", "terse"):
        status = main(["check", "--format", fmt, str(path)])
        out = capsys.readouterr()
        assert status == 1
        assert HAZARD_RULE in out.out
        for text in (out.out, out.err):
            assert not any(ch in text for ch in "\x1b\x07\x08\x9b"), repr(text)
    status, data, _ = check_json(capsys, str(path))
    assert data["reviews"][0]["subject"] == f"[PATCH] foofs: {ESCAPES}evict"  # JSON escapes it


def test_nul_in_the_headers_is_binary_for_check_and_failed_for_the_bot(intaker: Intaker
                                                                     ) -> None:
    raw = mail(msgid="nul@example.org").replace(b"\nMIME-Version:", b"\nTo: a\x00b@x\nMIME-Version:")
    assert [e.error for e in read_bytes(raw, "nul.eml").errors] == [
        "binary data, not a patch or mail"]
    assert intaker.take(raw, "test").status == "seen"  # the bot reads it; the NUL is data


def test_intake_records_the_escaped_subject_verbatim(intaker: Intaker) -> None:
    raw = mail(subject=f"[PATCH] foofs: {ESCAPES}evict", msgid="esc@example.org")
    assert intaker.take(raw, "test").status == "seen"
    row = intaker.store.one("SELECT subject FROM messages WHERE msgid = 'esc@example.org'")
    assert row is not None and "\x1b" in row["subject"]  # data, rendered safely on output


def test_store_is_plain_sqlite(tmp_path: Path, intaker: Intaker) -> None:
    """Hostile values go through bound parameters only: the database stays intact."""
    raw = mail(msgid="x'); DROP TABLE messages; --@example.org",
               subject="[PATCH] '; DELETE FROM series; --")
    assert intaker.take(raw, "test").status == "seen"
    conn = sqlite3.connect(tmp_path / "state.db")
    try:
        assert conn.execute("SELECT COUNT(*) FROM messages").fetchone()[0] == 1
        assert conn.execute("SELECT COUNT(*) FROM series").fetchone()[0] == 1
    finally:
        conn.close()


def test_the_watchers_own_lines_neutralise_escapes(tmp_path: Path) -> None:
    """A skipped message is echoed with its Message-ID and reason; log lines carry ids too."""
    import logging

    from reviewbot.commands.botopts import _SafeFormatter
    from reviewbot.pipeline import Options
    from reviewbot.watch.bot import Bot

    echoed: list[str] = []
    settings = Settings.model_validate({"bot": {"address": BOT}})
    bot = Bot(Store.open(tmp_path / "s.db"), settings, Options(settings=settings),
              echo=echoed.append)
    raw = mail(msgid=f"{ESCAPES}@example.org", subject="[PATCH] x",
               body="x\n---\n--- a/fs/x.c\n+++ b/fs/x.c\n@@ -1,2 +1,2 @@\n@@ -1 +1 @@\n")
    assert bot.take(raw, "test").status == "failed"
    assert echoed and not any(ch in echoed[0] for ch in "\x1b\x07\x08\x9b"), echoed
    record = logging.LogRecord("x", logging.WARNING, "f", 1, "%s: cannot parse", (ESCAPES,),
                               None)
    line = _SafeFormatter("reviewbot: %(levelname)s: %(message)s").format(record)
    assert not any(ch in line for ch in "\x1b\x07\x08\x9b") and "\\x1b" in line
