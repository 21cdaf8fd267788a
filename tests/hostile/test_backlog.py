"""A 1,000-message backlog with 5% hostile messages, through the real watcher in a child.

950 benign messages (237 series of a cover letter and three patches, a third of
the patches with a hazard, some with odd but harmless headers, plus two single
patches) and 50 hostile ones, in a public-inbox v2 epoch read by ``reviewbot
watch public-inbox-git --once --outbox-dir``, with [limits] max_memory_mb = 400.
Every benign patch is reviewed exactly once, every hostile message is recorded
as failed or skipped with its reason, a second run adds nothing, and the
watcher's peak RSS (wait4) stays under 500 MB.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from reviewbot.watch.intake import synthetic_msgid
from tests.hostile.corpus import (
    CLEAN,
    HAZARD,
    build_inbox,
    mail,
    nested_multipart,
    run_reviewbot,
    wide_multipart,
)
from tests.listbot import mails

pytestmark = pytest.mark.slow

LIST = mails.LIST
CONFIG = f"""
[bot]
address = "reviewbot@bot.example.net"
[scope]
lists = ["{LIST}"]
[policy.lists."{LIST}"]
mode = "lists"
max_per_hour = 100000
max_per_thread = 100
[limits]
max_memory_mb = 400
max_patch_lines = 150000
max_seconds_per_message = 3
"""


def benign() -> tuple[list[bytes], list[str]]:
    """(messages, message ids of the patches that must be reviewed)."""
    raws: list[bytes] = []
    patches: list[str] = []
    for i in range(237):
        author = (f"Dev {i}", f"dev{i}@example.org")
        raws += mails.series(f"b{i}", fs=f"fs{i}", author=author)
        patches += [mails.msgid(f"b{i}", 1, n) for n in (1, 2, 3)]
    odd = [("To", f"undisclosed: <a;b@example.org>, {LIST}"),
           ("Subject", "[PATCH] foofs: \x1b]0;owned\x07escape"),
           ("From", "=?utf-8?q?Eve=0D=0ABcc:_victim@evil.example?= <eve@example.org>")]
    for j, header in enumerate(odd[:2]):
        msgid = f"odd{j}@example.org"
        raw = mail(msgid=msgid, to=LIST, subject=f"[PATCH] oddfs{j}: evict",
                   body="Sync.\n---\n" + HAZARD.replace("foofs", f"oddfs{j}"),
                   headers=[header] if header[0] != "Subject" else [])
        if header[0] == "Subject":
            raw = raw.replace(f"[PATCH] oddfs{j}: evict".encode(), header[1].encode())
        raws.append(raw)
        patches.append(msgid)
    return raws, patches


def dense_patch(lines: int, msgid: str) -> bytes:
    body = ["static int foofs_fn(struct inode *inode)", "{",
            "\tunsigned int nofs = memalloc_nofs_save();"]
    body += [f"\tp{i} = kmalloc(sizeof(*p{i}) + {i}, GFP_KERNEL | __GFP_ZERO);"
             for i in range(lines)]
    body += ["\tmemalloc_nofs_restore(nofs);", "\treturn 0;", "}"]
    diff = (f"--- a/fs/bomb/gen.c\n+++ b/fs/bomb/gen.c\n@@ -1,0 +1,{len(body)} @@\n"
            + "".join(f"+{line}\n" for line in body))
    return mail(msgid=msgid, to=LIST, subject=f"[PATCH] bomb: {msgid}", body="Big.\n---\n" + diff)


def hostile() -> list[tuple[bytes, str, str, str]]:
    """(message, key it is recorded under, expected status, expected reason fragment)."""
    out: list[tuple[bytes, str, str, str]] = []

    def add(raw: bytes, key: str, status: str, reason: str) -> None:
        out.append((raw, key, status, reason))

    for i in range(2):  # over max_message_bytes (8 MiB)
        add(mail(msgid=f"huge{i}@x", to=LIST, body=b"x" * (9 * 1024 * 1024)), f"huge{i}@x",
            "skipped", "over [limits] max_message_bytes")
    add(dense_patch(110_000, "membomb@x"), "membomb@x", "failed",
        "out of memory ([limits] max_memory_mb)")
    for i in range(2):
        diff = (f"--- a/fs/long{i}/x.c\n+++ b/fs/long{i}/x.c\n@@ -1,0 +1,160000 @@\n"
                + "+\tx();\n" * 160_000)
        add(mail(msgid=f"lines{i}@x", to=LIST, subject=f"[PATCH] long{i}: lines",
                 body="Long.\n---\n" + diff), f"lines{i}@x", "skipped",
            "over [limits] max_patch_lines")
    for i in range(2):
        saves = "".join(f"c{k} = memalloc_nofs_save();" for k in range(40_000))
        diff = (f"--- a/fs/slow{i}/x.c\n+++ b/fs/slow{i}/x.c\n@@ -1,0 +1,3 @@\n"
                f"+static int f(void)\n+{{{saves}\n+}}\n")
        add(mail(msgid=f"slow{i}@x", to=LIST, subject=f"[PATCH] slow{i}: scopes",
                 body="Scopes.\n---\n" + diff), f"slow{i}@x", "skipped",
            "longer than [limits] max_seconds_per_message")
    for i in range(4):
        raw = nested_multipart(3000).replace(b"<p1@example.org>", f"<nest{i}@x>".encode())
        add(raw, f"nest{i}@x", "failed", "MIME parts nested deeper than 16")
    for i in range(3):
        raw = wide_multipart(20_000).replace(b"<p1@example.org>", f"<wide{i}@x>".encode())
        add(raw, f"wide{i}@x", "failed", "more than 256 MIME parts")
    for i in range(4):
        raw = mail(msgid=f"none{i}", to=LIST).replace(f"Message-ID: <none{i}>\n".encode(), b"")
        raw = raw.replace(b"evict", f"evict {i}".encode())
        add(raw, synthetic_msgid(raw), "failed", "no Message-ID header")
    for i in range(3):  # a CR ends the header line: the id is cut to "<cr", i.e. none
        raw = mail(msgid=f"cr{i}\rBcc: v@evil@x", to=LIST)
        add(raw, synthetic_msgid(raw), "failed", "no Message-ID header")
    for i in range(4):
        raw = bytes(range(256)) * 8 + str(i).encode()
        add(raw, synthetic_msgid(raw), "failed", "")
    for i in range(9):
        raw = mails.mangled_patch(f"mangled{i}").replace(b"To: ", f"X-N: {i}\nTo: ".encode())
        add(raw, f"mangled{i}.mangled@example.org", "failed", "DiffError")
    for i in range(3):
        add(mail(msgid=f"pull{i}@x", to=LIST, subject=f"[GIT PULL] foofs fixes {i}"),
            f"pull{i}@x", "skipped", "[GIT PULL]")
    for i in range(3):
        add(mail(msgid=f"hint{i}@x", to=LIST, headers=[("X-Patchwork-Hint", "ignore")]),
            f"hint{i}@x", "skipped", "X-Patchwork-Hint: ignore")
    for i in range(3):
        add(mail(msgid=f"many{i}@x", to=LIST, subject=f"[PATCH {250 + i}/300] foofs: part"),
            f"many{i}@x", "skipped", "beyond [scope] max_series_patches")
    for i in range(7):
        body = f"=?utf-8?B?!!!?= no patch here {i}, only {CLEAN[:40]!r}\n"
        add(mail(msgid=f"nopatch{i}@x", to=LIST, subject="=?utf-8?B?!!!not*base64?=",
                 body=body), f"nopatch{i}@x", "skipped", "no patch in the mail")
    assert len(out) == 50
    return out


def _rows(db: Path, sql: str) -> list[sqlite3.Row]:
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql))
    finally:
        conn.close()


def test_backlog_of_1000_with_5_percent_hostile(tmp_path: Path) -> None:
    good, patch_ids = benign()
    bad = hostile()
    assert len(good) == 950 and len(good) + len(bad) == 1000
    order = list(good)
    for index, item in enumerate(bad):  # spread the hostile ones through the backlog
        order.insert(index * 19 + 7, item[0])
    inbox = build_inbox(tmp_path / "pi", order)
    cfg = tmp_path / "site.toml"
    cfg.write_text(CONFIG)
    db, outbox = tmp_path / "state.db", tmp_path / "outbox"
    args = ["watch", "public-inbox-git", "--repo", str(inbox), "--once", "--db", str(db),
            "--config", str(cfg), "--outbox-dir", str(outbox)]
    first = run_reviewbot(args, timeout=900)
    assert first.status == 0, first.err[-3000:]

    reviews = _rows(db, "SELECT msgid, COUNT(*) AS n, MAX(error) AS error FROM reviews "
                        "GROUP BY msgid")
    counts = {r["msgid"]: r["n"] for r in reviews}
    assert all(counts.get(m) == 1 for m in patch_ids), [m for m in patch_ids
                                                         if counts.get(m) != 1][:5]
    assert all(r["error"] is None for r in reviews if r["msgid"] in set(patch_ids))
    messages = {r["msgid"]: r for r in _rows(db, "SELECT msgid, kind, status, reason "
                                                 "FROM messages")}
    assert len(messages) == 1000
    for _, key, status, reason in bad:
        row = messages[key]
        assert row["status"] == status, (key, row["status"], row["reason"])
        assert row["reason"] and reason in row["reason"], (key, row["reason"])
    series = _rows(db, "SELECT status, COUNT(*) AS n FROM series GROUP BY status")
    replies = sorted(outbox.iterdir())
    assert len(replies) == 237 + 2  # one per hazardous patch (patch 2 of each series, odd)
    peak = first.max_rss_mb
    print(f"\nbacklog: 1000 messages, {len(patch_ids)} benign patches reviewed once, "
          f"{sum(1 for b in bad if b[2] == 'failed')} hostile failed, "
          f"{sum(1 for b in bad if b[2] == 'skipped')} hostile skipped, "
          f"{len(replies)} replies, series {[(r['status'], r['n']) for r in series]}, "
          f"peak RSS {peak:.0f} MiB, {first.seconds:.1f} s")
    assert peak < 500, f"peak RSS {peak:.0f} MiB"

    again = run_reviewbot(args, timeout=300)
    assert again.status == 0, again.err[-2000:]
    assert _rows(db, "SELECT COUNT(*) AS n FROM reviews")[0]["n"] == sum(counts.values())
    assert sorted(outbox.iterdir()) == replies
