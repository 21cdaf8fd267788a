"""The hostile-input corpus: builders for every kind of bad mail, patch and C the bot may meet.

Everything here is synthetic (a fictional foofs). Large inputs are generated
at test time into the test's temp directory, never committed.
"""

from __future__ import annotations

import email.utils
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

# A hazard every reviewer of this code base knows: a writeback wait in evict_inode.
HAZARD = """\
diff --git a/fs/foofs/inode.c b/fs/foofs/inode.c
--- a/fs/foofs/inode.c
+++ b/fs/foofs/inode.c
@@ -10,5 +10,6 @@ static void foofs_evict_inode(struct inode *inode)
 {
+\tfilemap_write_and_wait(inode->i_mapping);
 \ttruncate_inode_pages_final(&inode->i_data);
 \tclear_inode(inode);
 }
"""
HAZARD_RULE = "EVICT-002"

CLEAN = """\
diff --git a/fs/foofs/super.c b/fs/foofs/super.c
--- a/fs/foofs/super.c
+++ b/fs/foofs/super.c
@@ -40,6 +40,7 @@ static int foofs_count(struct foofs_sb *sbi)
 \tint n = 0;
 
 \tspin_lock(&sbi->lock);
+\tn = sbi->count;
 \tspin_unlock(&sbi->lock);
 \treturn n;
 }
"""

MBOX_FROM = b"From mboxrd@z Thu Jan  1 00:00:00 1970\n"


def mail(subject: str = "[PATCH] foofs: sync on evict", msgid: str = "p1@example.org",
         body: str | bytes | None = None, headers: Sequence[tuple[str, str]] = (),
         author: str = "Alice Developer <alice@example.org>",
         to: str = "linux-foofs@lists.example.org") -> bytes:
    """One raw mail (LF line ends). ``msgid`` is written between <> as given."""
    lines = [f"From: {author}", f"To: {to}", f"Subject: {subject}",
             f"Date: {email.utils.formatdate(1_700_000_000)}",
             f"Message-ID: <{msgid}>", "MIME-Version: 1.0"]
    if not any(name.lower() == "content-type" for name, _ in headers):
        lines.append("Content-Type: text/plain; charset=utf-8")
    lines += [f"{name}: {value}" for name, value in headers]
    if body is None:
        body = "Wait for writeback when the inode goes.\n\nSigned-off-by: Alice\n---\n" + HAZARD
    raw_body = body.encode("utf-8") if isinstance(body, str) else body
    return ("\n".join(lines) + "\n\n").encode("utf-8") + raw_body


def mbox(*mails: bytes) -> bytes:
    """An mboxrd file of ``mails``."""
    return b"".join(MBOX_FROM + m + (b"" if m.endswith(b"\n") else b"\n") for m in mails)


def nested_multipart(depth: int) -> bytes:
    """A mail whose multipart parts nest ``depth`` deep, a patch at the bottom."""
    head = [f'Content-Type: multipart/mixed; boundary="b{i}"\n\n--b{i}\n' for i in range(depth)]
    tail = "".join(f"--b{i}--\n" for i in reversed(range(depth)))
    body = ("".join(head) + "Content-Type: text/plain\n\nSync.\n---\n" + HAZARD + tail)
    # The outermost Content-Type goes in the header block.
    first, rest = body.split("\n\n", 1)
    return mail(body=rest.encode(), headers=[("Content-Type", first.split(": ", 1)[1])])


def wide_multipart(parts: int) -> bytes:
    """A mail of ``parts`` tiny text parts (a parse-time bomb)."""
    body = "".join("--b\nContent-Type: text/plain\n\nx\n" for _ in range(parts)) + "--b--\n"
    return mail(body=body, headers=[("Content-Type", "multipart/mixed; boundary=b")])


@dataclass
class Child:
    """What a reviewbot child process did."""

    status: int
    out: str
    err: str
    max_rss_mb: float
    seconds: float


# Started from a small launcher: a child exec'd straight from pytest (vfork) would
# inherit pytest's own peak RSS as the start of its ru_maxrss.
_LAUNCHER = """
import os, subprocess, sys
proc = subprocess.Popen(sys.argv[2:])
_, status, usage = os.wait4(proc.pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{os.waitstatus_to_exitcode(status)} {usage.ru_maxrss}")
"""


def run_reviewbot(args: Sequence[str], env: dict[str, str] | None = None, timeout: float = 600,
                  stdin: bytes | None = None) -> Child:
    """Run ``python -m reviewbot ARGS`` in a child; its own peak RSS from wait4()."""
    start = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="reviewbot-rusage-") as tmp:
        report = Path(tmp) / "rusage"
        done = subprocess.run(
            [sys.executable, "-c", _LAUNCHER, str(report), sys.executable, "-m", "reviewbot",
             *args], input=stdin if stdin is not None else b"", capture_output=True,
            timeout=timeout, cwd=ROOT, env=env if env is not None else dict(os.environ),
            check=False)
        status, maxrss = report.read_text().split()
    return Child(int(status), done.stdout.decode("utf-8", "replace"),
                 done.stderr.decode("utf-8", "replace"), int(maxrss) / 1024,
                 time.monotonic() - start)


def build_inbox(root: Path, raws: Sequence[bytes]) -> Path:
    """A public-inbox v2 inbox (public-inbox-init) whose epoch 0 holds ``raws``, one commit
    per message with the blob ``m``, imported with git fast-import as public-inbox writes
    them (public-inbox-mda would take a second per mail and refuse some hostile ones)."""
    from tests.listbot.harness import PublicInbox

    inbox = PublicInbox(root).init()
    epoch = inbox.dir / "git" / "0.git"
    if not epoch.is_dir():
        subprocess.run(["git", "init", "--quiet", "--bare", str(epoch)], check=True)
    stamp = int(time.time())  # within [lore] backfill_hours of the first poll
    chunks: list[bytes] = []
    for index, raw in enumerate(raws):
        subject = f"message {index}".encode()
        chunks += [b"commit refs/heads/master\n",
                   b"author Dev <dev@example.org> %d +0000\n" % stamp,
                   b"committer inbox <inbox@example.org> %d +0000\n" % stamp,
                   b"data %d\n%s\n" % (len(subject), subject),
                   b"M 100644 inline m\n", b"data %d\n%s\n" % (len(raw), raw)]
    subprocess.run(["git", "-C", str(epoch), "fast-import", "--quiet"],
                   input=b"".join(chunks), check=True)
    return inbox.dir
