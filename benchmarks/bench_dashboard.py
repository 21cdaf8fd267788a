#!/usr/bin/env python3
"""Time `reviewbot dashboard build` on a large state database.

Writes a database with N series (default 10,000) through the store API, as the
list bot records them: 1-6 patches each on five lists over a year, a third of
the patches with 1-3 findings (every rule, category and severity), the quoted
hunks, mailed replies, rerolls (a fifth of the series have a later version,
which fixes most findings), false-positive reports, and a synthetic
MAINTAINERS file of 400 entries covering the files. Setup is not timed. Then
times one `reviewbot dashboard build` in a fresh process (the command the
operator runs) and prints the seconds, pages, site size and the builder's
peak RSS. The target: under 30 s for 10,000 series.

Usage: benchmarks/bench_dashboard.py [--series N] [--keep DIR]
Needs reviewbot installed in the running Python.
"""

from __future__ import annotations

import argparse
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from heuristics.registry import all_rules
from reviewbot.store import Store

LISTS = [f"linux-{name}@lists.example.org" for name in ("foofs", "barfs", "mm", "block", "md")]
DIRS = [f"fs/fs{i:02d}" for i in range(60)] + ["mm", "block", "drivers/block", "drivers/md",
                                                "include/linux"]
DAY = 86400.0
QUOTE = "\n".join([
    "> diff --git a/fs/foo/dir.c b/fs/foo/dir.c",
    "> @@ -60,9 +60,11 @@ static int foo_add_entry(struct inode *dir, const [...]",
    "[ ... ]",
    "> +\tnofs = memalloc_nofs_save();",
    "> +\tblk = kmalloc(sizeof(*blk), GFP_KERNEL);",
    "> +\tif (!blk)",
    "> +\t\treturn -ENOMEM;",
])


def maintainers_file(path: Path) -> None:
    """400 entries: one per directory and file group, people shared between them."""
    blocks = []
    for i in range(400):
        where = DIRS[i % len(DIRS)]
        patterns = [f"F:\t{where}/"] if i < len(DIRS) else [
            f"F:\t{where}/file{i % 7}*.c", f"X:\t{where}/file{i % 7}9.c"]
        if i % 50 == 0:
            patterns.append(f"N:\tfile{i % 10}[0-9]")
        blocks.append("\n".join([
            f"SUBSYSTEM {i:03d}", f"M:\tMaintainer {i % 120} <m{i % 120}@example.org>",
            f"R:\tReviewer {i % 80} <r{i % 80}@example.org>", f"L:\t{LISTS[i % 5]}",
            "S:\tMaintained", *patterns]))
    blocks.append("THE REST\nM:\tLinus Example <linus@example.org>\nS:\tBuried\nF:\t*\nF:\t*/")
    path.write_text("List of maintainers\n\n" + "\n\n".join(blocks) + "\n", encoding="utf-8")


def fill(db: Path, count: int, seed: int = 1) -> tuple[int, int]:
    """Write ``count`` series; (patches, findings)."""
    rng = random.Random(seed)
    rules = all_rules()
    start = time.time() - 365 * DAY
    patches = findings = 0
    with Store.open(db) as store, store.tx():
        ex = store.execute
        previous: dict[int, int] = {}
        for s in range(1, count + 1):
            when = start + 365 * DAY * s / count
            author = rng.randrange(500)
            version = 1
            prev = None
            if s > 10 and rng.random() < 0.2:
                prev = rng.randrange(max(1, s - 200), s)
                if prev in previous:
                    prev = None
                else:
                    previous[prev] = s
                    version = 2
            n = rng.randint(1, 6)
            root = f"{s}.0@bench.example.org"
            ex("INSERT INTO series(id, key, thread_root, version, expected, title, family, "
               "author_name, author_email, cover_msgid, source, status, previous_id, "
               "first_seen, reviewed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'bench', "
               "'reviewed', ?, ?, ?)",
               (s, f"{root}|v{version}|{n}", root, version, n, f"fs{s % 60:02d}: change {s}",
                f"fam{s}", f"Author {author}", f"a{author}@example.org",
                root if n > 1 else None, prev, when, when + 60))
            for name in rng.sample(LISTS, rng.randint(1, 2)):
                ex("INSERT INTO series_lists VALUES (?, ?)", (s, name))
            for k in range(1, n + 1):
                msgid = f"{s}.{k}@bench.example.org"
                has = rng.random() < 0.33
                action = "mailed" if has else "clean"
                cur = ex("INSERT INTO reviews(series_id, msgid, subject, counter, mode, "
                         "kernel_version, action, reviewed_at) VALUES (?, ?, ?, ?, 'hunk', "
                         "'6.12', ?, ?)",
                         (s, msgid, f"[PATCH {k}/{n}] fs{s % 60:02d}: part {k} of change {s}",
                          k, action, when + 60))
                review_id = cur.lastrowid
                patches += 1
                if not has:
                    continue
                ex("INSERT INTO outbox(message_id, in_reply_to, thread_root, series_id, "
                   "review_id, recipients, subject, raw, draft, status, created_at, "
                   "not_before, next_attempt_at, sent_at) VALUES (?, ?, ?, ?, ?, '[]', ?, x'', "
                   "'{}', 'sent', ?, ?, ?, ?)",
                   (f"reviewbot.{s}.{k}@bot.example.org", msgid, root, s, review_id,
                    f"Re: part {k}", when, when, when, when + 120))
                for _ in range(rng.randint(1, 3)):
                    rule = rng.choice(rules)
                    where = rng.choice(DIRS)
                    fixed = previous.get(s) if rng.random() < 0.7 else None
                    ex("INSERT INTO findings(review_id, series_id, msgid, rule, name, category, "
                       "severity, confidence, file, line, function, message, snippet, "
                       "fingerprint, docs_url, status, mailed, quote, fixed_in_series_id) "
                       "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                       (review_id, s, msgid, rule.id, rule.meta.name,
                        rule.meta.category.value, rule.meta.severity.value,
                        rule.meta.confidence.value, f"{where}/file{rng.randrange(100)}.c",
                        rng.randint(10, 3000), f"func_{rng.randrange(1000)}",
                        f"{rule.meta.summary} (bench finding in series {s})",
                        "return -ENOMEM;", f"fp{rng.getrandbits(64):x}",
                        f"https://reviewbot.invalid/rules/{rule.id}.html", "new", QUOTE,
                        fixed))
                    findings += 1
                    if rng.random() < 0.02:
                        ex("INSERT INTO false_positives(report_msgid, rule, reporter_name, "
                           "reporter_email, series_id, finding_id, reported_at) VALUES "
                           "(?, ?, 'Reporter', 'rep@example.org', ?, last_insert_rowid(), ?)",
                           (f"fp.{s}.{k}.{findings}@example.org", rule.id, s, when + DAY))
    return patches, findings


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, default=10_000)
    parser.add_argument("--keep", type=Path, help="keep the database and site in DIR")
    args = parser.parse_args()
    work = args.keep or Path(tempfile.mkdtemp(prefix="bench-dashboard-"))
    work.mkdir(parents=True, exist_ok=True)
    db, site, maint = work / "state.db", work / "site", work / "MAINTAINERS"
    try:
        for stale in (db, db.with_name("state.db-wal"), db.with_name("state.db-shm")):
            stale.unlink(missing_ok=True)
        t0 = time.perf_counter()
        patches, findings = fill(db, args.series)
        maintainers_file(maint)
        print(f"setup: {args.series} series, {patches} patches, {findings} findings in "
              f"{time.perf_counter() - t0:.1f} s ({db.stat().st_size / 1e6:.1f} MB database)")
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "reviewbot", "dashboard", "build",
                               "--db", str(db), "--out", str(site), "--maintainers",
                               str(maint)], capture_output=True, text=True, check=False)
        seconds = time.perf_counter() - t0
        if done.returncode != 0:
            print(done.stderr, file=sys.stderr)
            return 1
        rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        files = [p for p in site.rglob("*") if p.is_file()]
        size = sum(p.stat().st_size for p in files)
        print(done.stderr.strip())
        print(f"dashboard build: {seconds:.1f} s wall for {args.series} series "
              f"({len(files)} files, {size / 1e6:.1f} MB), peak RSS {rss:.0f} MB "
              f"-> {'OK' if seconds < 30 else 'SLOWER THAN'} 30 s target")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
