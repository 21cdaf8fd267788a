"""Bad input gets a clear result: a broken mbox, a binary diff, a huge patch, odd charsets, garbage C."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reviewbot.cli import main

HAZARD = """\
diff --git a/fs/foofs/inode.c b/fs/foofs/inode.c
--- a/fs/foofs/inode.c
+++ b/fs/foofs/inode.c
@@ -10,5 +10,6 @@ static void foofs_evict_inode(struct inode *inode)
 {
+	filemap_write_and_wait(inode->i_mapping);
 	truncate_inode_pages_final(&inode->i_data);
 	clear_inode(inode);
 }
"""


def check_json(capsys: pytest.CaptureFixture[str], *paths: Path) -> tuple[int, dict, str]:
    status = main(["check", "--format", "json", *map(str, paths)])
    out = capsys.readouterr()
    return status, json.loads(out.out), out.err


def test_broken_mbox_keeps_the_good_messages(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    good = ("From: a@example.org\nSubject: [PATCH 1/2] foofs: evict\nMessage-ID: <g@x>\n\n"
            "Sync on evict.\n---\n" + HAZARD)
    broken = ("From: a@example.org\nSubject: [PATCH 2/2] foofs: more\nMessage-ID: <b@x>\n\n"
              "---\n--- a/fs/foofs/x.c\n+++ b/fs/foofs/x.c\n@@ -1,3 +1,4 @@\n+half a hunk\n"
              "\x00\x00 truncated here")
    mbox = tmp_path / "broken.mbox"
    mbox.write_text(f"From x Thu Jan  1 00:00:00 1970\n{good}\nFrom x Thu Jan  1 00:00:00 1970\n"
                    f"{broken}")
    status, data, err = check_json(capsys, mbox)
    reviews = data["reviews"]
    assert [r["findings"][0]["rule"] for r in reviews if r["findings"]] == ["EVICT-002"]
    assert all(r["error"] is None for r in reviews)
    assert status == 1 and err == ""


def test_headerless_garbage_message_is_one_error_line(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    mbox = tmp_path / "garbage.mbox"
    mbox.write_bytes(b"From x Thu Jan  1 00:00:00 1970\n\n\xfe\xff garbage without headers\n")
    status, data, err = check_json(capsys, mbox)
    assert status == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith(f"reviewbot: {mbox}")
    assert data["reviews"][0]["error"]


def test_binary_diff_is_skipped_and_text_parts_reviewed(capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    patch = tmp_path / "bin.patch"
    patch.write_text(
        "diff --git a/firmware/blob.bin b/firmware/blob.bin\nindex 1111111..2222222 100644\n"
        "GIT binary patch\nliteral 12\nTcmZ?l00000000000000\n\nliteral 0\nHcmV?d00001\n\n"
        + HAZARD)
    status, data, _ = check_json(capsys, patch)
    [review] = data["reviews"]
    assert review["error"] is None
    assert [f["rule"] for f in review["findings"]] == ["EVICT-002"]
    assert status == 1


def test_huge_patch_is_reviewed(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    body = []
    for i in range(20000):
        body += [f"static int foofs_fn{i}(struct inode *inode)", "{",
                 f"\treturn foofs_helper(inode, {i});", "}", ""]
    body[-4] = "\tmapping_set_gfp_mask(inode->i_mapping, GFP_NOFS);"
    patch = tmp_path / "huge.patch"
    patch.write_text(f"--- /dev/null\n+++ b/fs/foofs/gen.c\n@@ -0,0 +1,{len(body)} @@\n"
                     + "".join(f"+{line}\n" for line in body))
    assert len(body) == 100000
    status, data, _ = check_json(capsys, patch)
    [review] = data["reviews"]
    assert review["error"] is None
    assert [(f["rule"], f["line"]) for f in review["findings"]] == [("NOFS-005", 99997)]
    assert status == 1


def test_non_utf8_mail(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    raw = ("From: =?iso-8859-1?q?J=F6rg?= <j@example.org>\nSubject: [PATCH] foofs: evict\n"
           "Message-ID: <n@x>\nContent-Type: text/plain; charset=iso-8859-1\n"
           "Content-Transfer-Encoding: 8bit\n\nGr\xfc\xdfe, sync on evict.\n---\n"
           + HAZARD).encode("latin-1")
    mail = tmp_path / "latin1.eml"
    mail.write_bytes(raw)
    status, data, _ = check_json(capsys, mail)
    [review] = data["reviews"]
    assert review["findings"][0]["rule"] == "EVICT-002" and status == 1
    mail.write_bytes(raw.replace(b"iso-8859-1", b"x-no-such-charset"))
    status, data, _ = check_json(capsys, mail)
    assert data["reviews"][0]["findings"][0]["rule"] == "EVICT-002"


def test_garbage_c_in_a_patch(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    junk = "".join(f"+{'{' * (i % 7)}))(( /* int ;; \"unterminated {'}' * (i % 5)}\n"
                   for i in range(300))
    patch = tmp_path / "junk.patch"
    patch.write_text(f"--- a/fs/foofs/junk.c\n+++ b/fs/foofs/junk.c\n@@ -1,0 +1,300 @@\n{junk}")
    status, data, _ = check_json(capsys, patch)
    [review] = data["reviews"]
    assert review["error"] is None and review["findings"] == [] and status == 0


def test_deep_nesting_and_one_long_line_scan(capsys: pytest.CaptureFixture[str],
                                             tmp_path: Path) -> None:
    src = tmp_path / "fs" / "deep.c"
    src.parent.mkdir()
    src.write_text("void f(void) {" + "if (x) {" * 3000 + "g();" + "}" * 3000 + "}\n"
                   + "int a[] = {" + "1," * 200000 + "};\n")
    status = main(["scan", "--format", "json", str(src)])
    data = json.loads(capsys.readouterr().out)
    assert status == 0 and data["reviews"][0]["error"] is None
