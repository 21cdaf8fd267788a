"""Synthetic patch mails for the list-bot tests: a fictional foofs, written here.

``series(tag)`` is a cover letter and three patches; patch 2 saves a NOFS scope
and returns on the error path without restoring it (MEMALLOC-001), unless
``fixed``. Patches 1 and 3 are clean. Every mail carries a ``Received:`` header
with the current time, as a list server's MTA would add, so public-inbox's
``rt:`` search sees it as just received.
"""

from __future__ import annotations

import email.utils
import time

LIST = "linux-foofs@lists.example.org"
LIST_ID = "linux-foofs.lists.example.org"
ALICE = ("Alice Developer", "alice@example.org")
BLANK = " "  # a blank context line of a hunk
BOB = ("Bob Reviewer", "bob@example.org")


def msgid(tag: str, version: int, counter: int) -> str:
    """The Message-ID (without <>) of one mail of a generated series."""
    return f"{tag}.v{version}.{counter}@example.org"


def mail(*, mid: str, subject: str, body: str, author: tuple[str, str] = ALICE,
         in_reply_to: str | None = None, references: tuple[str, ...] = (),
         to: str = LIST, extra: dict[str, str] | None = None, when: float | None = None
         ) -> bytes:
    """One raw mail (LF line ends) with the headers a list delivers."""
    now = time.time() if when is None else when
    date = email.utils.formatdate(now)
    lines = [
        f"Received: from mx.example.org by lists.example.org; {date}",
        f"From: {author[0]} <{author[1]}>",
        f"To: {to}",
        f"Subject: {subject}",
        f"Date: {date}",
        f"Message-ID: <{mid}>",
        f"List-Id: <{LIST_ID}>",
        "MIME-Version: 1.0",
        "Content-Type: text/plain; charset=utf-8",
    ]
    if in_reply_to:
        lines.append(f"In-Reply-To: <{in_reply_to}>")
    if references:
        lines.append("References: " + " ".join(f"<{r}>" for r in references))
    for name, value in (extra or {}).items():
        lines.append(f"{name}: {value}")
    return ("\n".join(lines) + "\n\n" + body).encode("utf-8")


def _patch_body(message: str, diff: str) -> str:
    return (f"{message}\n\nSigned-off-by: {ALICE[0]} <{ALICE[1]}>\n---\n{diff}-- \n2.47.0\n")


def diff_cache(fs: str) -> str:
    """Patch 1: a small allocation helper (clean)."""
    return f"""diff --git a/fs/{fs}/dir.c b/fs/{fs}/dir.c
index 1111111..2222222 100644
--- a/fs/{fs}/dir.c
+++ b/fs/{fs}/dir.c
@@ -20,6 +20,14 @@ struct {fs}_dir_cache {{
 \tstruct list_head blocks;
 }};
{BLANK}
+static struct {fs}_dir_cache *{fs}_dir_cache_new(void)
+{{
+\tstruct {fs}_dir_cache *cache = kzalloc(sizeof(*cache), GFP_KERNEL);
+
+\tif (cache)
+\t\tINIT_LIST_HEAD(&cache->blocks);
+\treturn cache;
+}}
 static int {fs}_dir_hash(const char *name, int len)
 {{
 \treturn full_name_hash(NULL, name, len);
"""


def diff_scope(fs: str, fixed: bool) -> str:
    """Patch 2: a NOFS scope; leaked on the error path unless ``fixed``."""
    if fixed:
        added = ("+\tnofs = memalloc_nofs_save();\n"
                 "+\tblk = kmalloc(sizeof(*blk), GFP_KERNEL);\n"
                 "+\tif (!blk) {\n"
                 "+\t\tmemalloc_nofs_restore(nofs);\n"
                 "+\t\treturn -ENOMEM;\n"
                 "+\t}\n")
        new_len = 13
    else:
        added = ("+\tnofs = memalloc_nofs_save();\n"
                 "+\tblk = kmalloc(sizeof(*blk), GFP_KERNEL);\n"
                 "+\tif (!blk)\n"
                 "+\t\treturn -ENOMEM;\n")
        new_len = 11
    return f"""diff --git a/fs/{fs}/dir.c b/fs/{fs}/dir.c
index 2222222..3333333 100644
--- a/fs/{fs}/dir.c
+++ b/fs/{fs}/dir.c
@@ -60,9 +60,{new_len} @@ static int {fs}_add_entry(struct inode *dir, const struct qstr *name)
 \tstruct {fs}_dir_block *blk;
 \tunsigned int nofs;
 \tint err;
{BLANK}
-\tblk = kmalloc(sizeof(*blk), GFP_NOFS);
-\tif (!blk)
-\t\treturn -ENOMEM;
{added} \terr = {fs}_insert_block(dir, blk, name);
+\tmemalloc_nofs_restore(nofs);
 \treturn err;
 }}
"""


def diff_stats(fs: str) -> str:
    """Patch 3: count lookups (clean)."""
    return f"""diff --git a/fs/{fs}/namei.c b/fs/{fs}/namei.c
index 4444444..5555555 100644
--- a/fs/{fs}/namei.c
+++ b/fs/{fs}/namei.c
@@ -40,6 +40,7 @@ static struct dentry *{fs}_lookup(struct inode *dir, struct dentry *dentry,
 \tstruct inode *inode = NULL;
 \tino_t ino;
{BLANK}
+\tatomic_inc(&{fs.upper()}_SB(dir->i_sb)->lookups);
 \tino = {fs}_inode_by_name(dir, &dentry->d_name);
 \tif (ino)
 \t\tinode = {fs}_iget(dir->i_sb, ino);
"""


def series(tag: str, version: int = 1, fixed: bool = False, fs: str = "foofs",
           author: tuple[str, str] = ALICE, cover: bool = True, prefix: str = "PATCH"
           ) -> list[bytes]:
    """A cover letter (optional) and three patches, threaded under the cover."""
    vtag = f" v{version}" if version > 1 else ""
    vtag = prefix[len("PATCH"):] + vtag
    root = msgid(tag, version, 0) if cover else msgid(tag, version, 1)
    out = []
    if cover:
        out.append(mail(
            mid=root, author=author,
            subject=f"[PATCH{vtag} 0/3] {fs}: cache directory blocks",
            body=f"This series adds a directory block cache to {fs}.\n\n"
                 f"{author[0]} (3):\n  {fs}: add a directory block cache\n"
                 f"  {fs}: allocate dir blocks in a NOFS scope\n  {fs}: count lookups\n\n"
                 "base-commit: 0123456789abcdef0123456789abcdef01234567\n-- \n2.47.0\n"))
    bodies = [
        (f"{fs}: add a directory block cache", "Keep recently used blocks in a cache.",
         diff_cache(fs)),
        (f"{fs}: allocate dir blocks in a NOFS scope",
         "Allocate the block inside a NOFS scope instead of passing GFP_NOFS.",
         diff_scope(fs, fixed)),
        (f"{fs}: count lookups", "Count lookups for the stats file.", diff_stats(fs)),
    ]
    for counter, (title, message, diff) in enumerate(bodies, start=1):
        mid = msgid(tag, version, counter)
        refs = () if mid == root else (root,)
        out.append(mail(mid=mid, author=author,
                        subject=f"[PATCH{vtag} {counter}/3] {title}",
                        body=_patch_body(message, diff),
                        in_reply_to=None if mid == root else root, references=refs))
    return out


def reply(tag: str, version: int, counter: int, text: str, author: tuple[str, str] = BOB,
          quote: str = "", subject: str = "", parent: str | None = None,
          root: str | None = None) -> bytes:
    """A reply to one patch of a generated series (or to ``parent``)."""
    parent = parent or msgid(tag, version, counter)
    root = root or msgid(tag, version, 0)
    quoted = "".join(f"> {line}\n" for line in quote.splitlines()) if quote else ""
    return mail(mid=f"reply.{tag}.{version}.{counter}.{abs(hash(text)) % 10**8}@example.org",
                author=author, subject=subject or f"Re: [PATCH {counter}/3] a patch",
                body=f"On Mon, Alice wrote:\n{quoted}\n{text}\n", in_reply_to=parent,
                references=(root, parent) if root != parent else (parent,))


def mangled_patch(tag: str) -> bytes:
    """A [PATCH] whose hunk body was lost in transit: a malformed diff."""
    diff = ("--- a/fs/foofs/super.c\n+++ b/fs/foofs/super.c\n@@ -1,2 +1,2 @@\n"
            "@@ -1 +1 @@\n")
    return mail(mid=f"{tag}.mangled@example.org", subject="[PATCH] foofs: tidy super.c",
                body=_patch_body("Tidy up.", diff))
