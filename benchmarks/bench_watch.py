#!/usr/bin/env python3
"""Throughput of the list bot, end to end, on a backlog in a local public-inbox.

Builds a public-inbox v2 inbox holding N synthetic patch mails (default 1,000:
series of four patches to fs/benchN/, a sixth of them with a memory-reclaim
hazard), imports them with git fast-import and indexes them with
public-inbox-index (setup, not timed), serves it with public-inbox-httpd on
127.0.0.1, then times one ``reviewbot watch lore --once --outbox-dir DIR`` in a
fresh process: fetch, intake, series assembly, review, reply rendering and
writing the .eml files. The same backlog is then read through
``reviewbot watch public-inbox-git``. Prints mails/s and the watcher's peak RSS.

Usage: benchmarks/bench_watch.py [--mails N] [--keep DIR]
Needs Debian's public-inbox and reviewbot installed in the running Python.
"""

from __future__ import annotations

import argparse
import difflib
import email.utils
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

LIST = "bench@lists.example.org"
LIST_ID = "bench.lists.example.org"
PER_SERIES = 4


def c_file(fs: str, name: str, functions: int) -> list[str]:
    """A synthetic kernel-style C file."""
    lines = ["// SPDX-License-Identifier: GPL-2.0", "#include <linux/fs.h>",
             "#include <linux/slab.h>", "#include <linux/sched/mm.h>", ""]
    for k in range(functions):
        lines += [f"static int {fs}_{name}_fn{k}(struct inode *inode, int arg)", "{",
                  "\tint err = 0;", "", "\tif (!inode)", "\t\treturn -EINVAL;",
                  f"\terr = {fs}_helper(inode, arg + {k});", "\tif (err)", "\t\tgoto out;",
                  f"\tinode->i_generation += {k};", "out:", "\treturn err;", "}", ""]
    return lines


def mutate(fs: str, name: str, before: list[str], rng: random.Random, hazard: str | None
           ) -> list[str]:
    """The same file after a plausible change (with one hazard if asked)."""
    after = list(before)
    starts = [i for i, line in enumerate(after) if line.startswith("static int ")]
    for _ in range(rng.randint(1, 4)):
        at = rng.choice(starts) + 2  # after "int err = 0;"
        extra = [f"\tatomic_inc(&{fs.upper()}_SB(inode->i_sb)->stat_{rng.randint(0, 99)});"]
        if rng.random() < 0.5:
            extra += ["\tif (arg > 4096)", "\t\targ = 4096;"]
        if rng.random() < 0.3:
            extra += ["\tbuf = kzalloc(64, GFP_KERNEL);", "\tif (!buf)", "\t\treturn -ENOMEM;",
                      "\tkfree(buf);"]
        after[at:at] = extra
    if rng.random() < 0.3:
        k = len(starts) + rng.randint(0, 999)
        after += [f"static int {fs}_{name}_new{k}(struct super_block *sb)", "{"] + [
            f"\tsb->s_flags |= {1 << (j % 16)};" for j in range(rng.randint(3, 60))] + [
            "\treturn 0;", "}", ""]
    if hazard == "scope":
        at = starts[0] + 2
        after[at:at] = ["\tunsigned int nofs = memalloc_nofs_save();", "",
                        "\tif (arg < 0)", "\t\treturn -EINVAL;",
                        "\tmemalloc_nofs_restore(nofs);"]
    elif hazard == "evict":
        after += [f"static void {fs}_evict_inode(struct inode *inode)", "{",
                  "\tfilemap_write_and_wait(inode->i_mapping);",
                  "\ttruncate_inode_pages_final(&inode->i_data);", "\tclear_inode(inode);",
                  "}", ""]
    return after


def unified(path: str, before: list[str], after: list[str]) -> str:
    body = "\n".join(difflib.unified_diff(before, after, f"a/{path}", f"b/{path}", n=3,
                                          lineterm=""))
    return f"diff --git a/{path} b/{path}\nindex 1111111..2222222 100644\n{body}\n"


def make_mails(count: int, seed: int = 1) -> list[bytes]:
    """``count`` patch mails in series of four, each threaded under its first patch."""
    rng = random.Random(seed)
    now = time.time()
    date = email.utils.formatdate(now)
    out: list[bytes] = []
    series = 0
    while len(out) < count:
        fs = f"bench{series}"
        root = f"s{series}.1@bench.example.org"
        total = min(PER_SERIES, count - len(out))
        for n in range(1, total + 1):
            name = ("dir", "inode", "super", "namei")[n % 4]
            before = c_file(fs, name, rng.randint(3, 12))
            hazard = rng.choice(["scope", "evict"]) if rng.random() < 1 / 6 else None
            diff = unified(f"fs/{fs}/{name}.c", before, mutate(fs, name, before, rng, hazard))
            mid = f"s{series}.{n}@bench.example.org"
            refs = "" if n == 1 else f"In-Reply-To: <{root}>\nReferences: <{root}>\n"
            head = (f"Received: from mx.example.org by lists.example.org; {date}\n"
                    f"From: Dev {series % 37} <dev{series % 37}@example.org>\nTo: {LIST}\n"
                    f"Subject: [PATCH {n}/{total}] {fs}: change {name}.c ({n})\n"
                    f"Date: {date}\nMessage-ID: <{mid}>\n{refs}List-Id: <{LIST_ID}>\n"
                    "Content-Type: text/plain; charset=utf-8\n\n")
            body = (f"Change {name}.c.\n\nSigned-off-by: Dev <dev@example.org>\n---\n{diff}"
                    "-- \n2.47.0\n")
            out.append((head + body).encode())
        series += 1
    return out


def fast_import(epoch: Path, raws: list[bytes]) -> None:
    """Write each mail as one commit adding blob ``m``, as public-inbox v2 does."""
    stamp = int(time.time())
    chunks: list[bytes] = []
    for raw in raws:
        subject = raw.split(b"\nSubject: ", 1)[1].split(b"\n", 1)[0]
        chunks += [b"commit refs/heads/master\n",
                   b"author Dev <dev@example.org> %d +0000\n" % stamp,
                   b"committer bench <bench@example.org> %d +0000\n" % stamp,
                   b"data %d\n%s\n" % (len(subject), subject),
                   b"M 100644 inline m\n", b"data %d\n%s\n" % (len(raw), raw)]
    subprocess.run(["git", "-C", str(epoch), "fast-import", "--quiet"], input=b"".join(chunks),
                   check=True)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def timed(args: list[str], env: dict[str, str]) -> tuple[float, int, str]:
    """(seconds, peak RSS in MiB, stderr) of one reviewbot run in a fresh process."""
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "reviewbot", *args], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    err = proc.stderr.read().decode(errors="replace")
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"reviewbot exited {proc.returncode}:\n{err}")
    return elapsed, usage.ru_maxrss // 1024, err


def counts(db: Path, outdir: Path) -> str:
    conn = sqlite3.connect(db)
    try:
        def get(sql: str) -> int:
            return int(conn.execute(sql).fetchone()[0])

        return (f"{get('SELECT COUNT(*) FROM messages')} messages, "
                f"{get('SELECT COUNT(*) FROM series')} series, "
                f"{get('SELECT COUNT(*) FROM reviews')} reviews, "
                f"{get('SELECT COUNT(*) FROM findings')} findings, "
                f"{len(list(outdir.glob('*.eml')))} replies written")
    finally:
        conn.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mails", type=int, default=1000)
    parser.add_argument("--keep", type=Path, help="work in DIR and keep it")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-watch-"))
    work.mkdir(parents=True, exist_ok=True)
    home = work / "home"
    home.mkdir(exist_ok=True)
    env = dict(os.environ, HOME=str(home), PI_CONFIG=str(home / ".public-inbox" / "config"),
               XDG_DATA_HOME=str(home / "data"))
    inbox = work / "inbox"
    httpd = None
    try:
        t0 = time.perf_counter()
        raws = make_mails(args.mails)
        subprocess.run(["public-inbox-init", "-V2", "bench", str(inbox),
                        "http://127.0.0.1/bench", LIST], env=env, check=True)
        fast_import(inbox / "git" / "0.git", raws)
        subprocess.run(["public-inbox-index", str(inbox)], env=env, check=True)
        port = free_port()
        httpd = subprocess.Popen(["public-inbox-httpd", "-W0", "-l", f"http://127.0.0.1:{port}"],
                                 env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        url = f"http://127.0.0.1:{port}/bench"
        for _ in range(200):
            try:
                with urllib.request.urlopen(f"{url}/_/text/help/", timeout=2):
                    break
            except OSError:
                time.sleep(0.05)
        setup = time.perf_counter() - t0
        cfg = work / "site.toml"
        cfg.write_text(f'[bot]\naddress = "reviewbot@bench.example.net"\n[scope]\n'
                       f'lists = ["{LIST}"]\n[policy.lists."{LIST}"]\nmode = "lists"\n'
                       "max_per_hour = 100000\nmax_per_thread = 100\n")
        size = sum(len(r) for r in raws)
        print(f"backlog: {len(raws)} patch mails, {size / 1e6:.1f} MB, setup {setup:.1f} s "
              "(not timed)")
        for label, source in (("watch lore (public-inbox-httpd)", ["lore", "--url", url]),
                              ("watch public-inbox-git", ["public-inbox-git", "--repo",
                                                          str(inbox)])):
            tag = source[0]
            db, outdir = work / f"{tag}.db", work / f"{tag}-out"
            seconds, rss, err = timed(["watch", *source, "--once", "--db", str(db),
                                       "--config", str(cfg), "--outbox-dir", str(outdir)], env)
            print(f"{label}: {seconds:.2f} s, {len(raws) / seconds:.1f} mails/s, "
                  f"peak RSS {rss} MiB")
            print(f"  {counts(db, outdir)}")
            print(f"  {err.strip().splitlines()[-1] if err.strip() else ''}")
    finally:
        if httpd is not None:
            httpd.terminate()
            httpd.wait(timeout=10)
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
