"""Reading mails, mbox threads, format-patch files, plain diffs and directories."""

from __future__ import annotations

import email.policy
from email.message import EmailMessage
from pathlib import Path

from reviewbot.ingest import read_bytes, read_paths
from reviewbot.series import assemble

DIFF = """\
diff --git a/fs/foofs/dir.c b/fs/foofs/dir.c
--- a/fs/foofs/dir.c
+++ b/fs/foofs/dir.c
@@ -10,6 +10,7 @@ static int foofs_add(struct inode *dir)
 	int err;
 
 	foofs_lock(dir);
+	err = foofs_insert(dir);
 	foofs_unlock(dir);
 	return err;
 }
"""


def mail(subject: str, body: str, msgid: str, *, cte: str | None = None,
         charset: str = "utf-8", reply_to: str | None = None, date: str | None = None
         ) -> bytes:
    """A synthetic patch mail built with the email package."""
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Alice Developer <alice@example.org>"
    msg["To"] = "linux-fsdevel@vger.kernel.org"
    msg["Subject"] = subject
    msg["Message-ID"] = f"<{msgid}>"
    msg["Date"] = date or "Mon, 02 Nov 2026 10:00:00 +0000"
    if reply_to:
        msg["In-Reply-To"] = f"<{reply_to}>"
        msg["References"] = f"<{reply_to}>"
    msg.set_content(body, charset=charset, cte=cte)
    return msg.as_bytes()


def body(text: str = "Insert under the lock.") -> str:
    return f"{text}\n\nSigned-off-by: Alice Developer <alice@example.org>\n---\n{DIFF}-- \n2.47.0\n"


def test_plain_mail_is_one_patch() -> None:
    got = read_bytes(mail("[PATCH] foofs: insert", body(), "p1@example.org"), "p.eml")
    assert got.errors == []
    [patch] = got.patches
    assert patch.title == "foofs: insert"
    assert patch.message_id == "p1@example.org"
    assert [f.path for f in patch.files] == ["fs/foofs/dir.c"]
    assert "Insert under the lock." in patch.commit_message
    assert [ln.new_no for ln in patch.files[0].added_lines()] == [13]


def test_quoted_printable_and_base64_decode_to_the_same_diff() -> None:
    plain = read_bytes(mail("[PATCH] a", body(), "a@x"), "a").patches[0]
    for cte in ("quoted-printable", "base64"):
        raw = mail("[PATCH] a", body(), "a@x", cte=cte)
        assert f"Content-Transfer-Encoding: {cte}".encode() in raw
        patch = read_bytes(raw, cte).patches[0]
        assert patch.files == plain.files


def test_latin1_charset_and_crlf() -> None:
    text = body("Fix from J\u00f6rg \u2013 no behaviour change.").replace("\u2013", "-")
    raw = mail("[PATCH] f\u00f6\u00f6", text, "l@x", charset="iso-8859-1", cte="8bit")
    raw = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
    got = read_bytes(raw, "latin1")
    [patch] = got.patches
    assert "J\u00f6rg" in patch.commit_message
    assert patch.subject == "[PATCH] f\u00f6\u00f6"
    assert patch.files[0].hunks[0].lines[0].text == "\tint err;"


def test_undecodable_bytes_are_replaced_not_fatal() -> None:
    raw = mail("[PATCH] x", body(), "u@x").replace(b"Insert under", b"Insert \xff\xfe under")
    got = read_bytes(raw, "bad-utf8")
    assert got.errors == [] and len(got.patches) == 1


def test_patch_as_attachment() -> None:
    msg = EmailMessage(policy=email.policy.SMTP)
    msg["Subject"] = "[PATCH] foofs: attached"
    msg["From"] = "a@example.org"
    msg["Message-ID"] = "<att@x>"
    msg.set_content("See the attached patch.")
    msg.add_attachment(DIFF.encode(), maintype="text", subtype="x-patch", filename="0001.patch")
    [patch] = read_bytes(msg.as_bytes(), "att").patches
    assert patch.files[0].path == "fs/foofs/dir.c"


def thread() -> bytes:
    parts = [
        mail("[PATCH v2 0/2] foofs: two fixes", "Cover text.\n\nbase-commit: 0123456789ab\n",
             "c@x"),
        mail("[PATCH v2 2/2] foofs: second", body(), "p2@x", reply_to="c@x"),
        mail("[PATCH v2 1/2] foofs: first", body(), "p1@x", reply_to="c@x"),
        mail("Re: [PATCH v2 1/2] foofs: first", "> quoted\n\nLooks fine.\n", "r@x",
             reply_to="p1@x"),
    ]
    return b"".join(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + p.replace(b"\r\n", b"\n")
                    + b"\n" for p in parts)


def test_thread_mbox_orders_patches_and_skips_replies() -> None:
    got = read_bytes(thread(), "thread.mbox")
    assert got.errors == []
    assert len(got.covers) == 1 and len(got.patches) == 2
    assert got.skipped == ["thread.mbox#4"]
    [series] = assemble(got)
    assert [p.counter for p in series.patches] == [1, 2]
    assert series.version == 2 and series.complete
    assert series.base_commit == "0123456789ab"


def test_reply_with_inline_patch_alone_is_reviewed() -> None:
    raw = mail("Re: foofs deadlock", "Can you try this?\n\n" + DIFF, "r2@x", reply_to="q@x")
    got = read_bytes(raw, "reply.eml")
    [series] = assemble(got)
    assert series.patches[0].is_reply


def test_newest_version_wins_unless_all_versions() -> None:
    v1 = mail("[PATCH 1/1] foofs: insert", body(), "v1@x")
    v3 = mail("[PATCH v3 1/1] foofs: insert", body(), "v3@x")
    raw = b"".join(b"From x Thu Jan  1 00:00:00 1970\n" + m.replace(b"\r\n", b"\n") + b"\n"
                   for m in (v3, v1))
    got = read_bytes(raw, "versions")
    [newest] = assemble(got)
    assert newest.version == 3 and newest.superseded == [1]
    assert sorted(s.version for s in assemble(got, all_versions=True)) == [1, 3]


def test_format_patch_file_keeps_commit_id(tmp_path: Path) -> None:
    sha = "a" * 40
    raw = (f"From {sha} Mon Sep 17 00:00:00 2001\n").encode() + mail(
        "[PATCH] foofs: insert", body(), "fp@x").replace(b"\r\n", b"\n")
    path = tmp_path / "0001-foofs-insert.patch"
    path.write_bytes(raw)
    [patch] = read_paths([str(path)]).patches
    assert patch.commit == sha


def test_plain_diff_and_directory(tmp_path: Path) -> None:
    (tmp_path / "a.diff").write_text(DIFF)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "b.eml").write_bytes(mail("[PATCH] b", body(), "b@x"))
    (tmp_path / ".hidden").write_text("not read")
    got = read_paths([str(tmp_path)])
    assert sorted(p.subject for p in got.patches) == ["[PATCH] b", "a.diff"]
    assert got.errors == []


def test_stable_prefix_names_the_kernel() -> None:
    patch = read_bytes(mail("[PATCH 6.1.y 3/9] foofs: x", body(), "s@x"), "s").patches[0]
    assert patch.stable_version == "6.1"
    patch = read_bytes(mail("[PATCH 5.15 230/246] foofs: x", body(), "t@x"), "t").patches[0]
    assert patch.stable_version == "5.15"
    patch = read_bytes(mail("[PATCH v2] foofs: x", body(), "u@x"), "u").patches[0]
    assert patch.stable_version is None


def test_garbage_and_binary_inputs_are_errors_not_crashes() -> None:
    got = read_bytes(b"\x00\x01\x02 binary junk \xff" * 100, "junk.bin")
    assert len(got.errors) == 1 and "binary" in got.errors[0].error
    got = read_bytes(b"just some words, no diff here\n", "words.txt")
    assert len(got.errors) == 1 and "no unified diff" in got.errors[0].error
