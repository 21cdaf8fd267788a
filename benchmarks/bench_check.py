#!/usr/bin/env python3
"""Benchmark: patches/s for check, lines/s for scan, peak RSS. Prints figures.

Generates kernel-like C (functions with locks, allocations, scopes, error
paths, ops tables) and unified diffs of 1 to 400 changed lines, then times the
same pipeline ``reviewbot check`` and ``reviewbot scan`` use, in one process.
Patch sizes are drawn two ways: "realistic" (log-uniform over 1..400, median
about 20 changed lines, like list traffic) and "uniform" (1..400, a stress
mix). ``--mbox-dir DIR`` also times every *.mbox under DIR (e.g. real traffic).

    python benchmarks/bench_check.py [--patches 400] [--scan-lines 200000] [--seed 1]
"""

from __future__ import annotations

import argparse
import math
import random
import resource
import sys
import tempfile
import time
from pathlib import Path

from reviewbot.ingest import read_bytes
from reviewbot.pipeline import Options, review_ingested, scan_paths

ALLOCS = ["kmalloc(sizeof(*{v}), GFP_KERNEL)", "kzalloc(len, GFP_NOFS)",
          "kmem_cache_alloc(foo_cache, GFP_NOFS | __GFP_NOFAIL)", "kvmalloc(size, GFP_KERNEL)",
          "alloc_page(GFP_NOIO)", "kcalloc(n, sizeof(*{v}), GFP_KERNEL)"]
LOCKS = [("mutex_lock(&{o}->lock);", "mutex_unlock(&{o}->lock);"),
         ("spin_lock(&{o}->lock);", "spin_unlock(&{o}->lock);"),
         ("down_write(&{o}->sem);", "up_write(&{o}->sem);"),
         ("trans = btrfs_start_transaction(root, 1);", "btrfs_end_transaction(trans);"),
         ("nofs = memalloc_nofs_save();", "memalloc_nofs_restore(nofs);")]
CALLS = ["foo_update_{n}({o});", "err = foo_check_{n}({o}, {v});",
         "list_add(&{v}->list, &{o}->head);", "foo_stats_inc({o}, {n});",
         "wake_up(&{o}->wait);", "trace_foo_{n}({o});"]


def function(rng: random.Random, index: int) -> list[str]:
    """One kernel-like function of 10 to 60 lines."""
    o, v = rng.choice(["sbi", "inode", "fi", "ctx"]), rng.choice(["ent", "blk", "node", "buf"])
    lines = [f"static int foo_op_{index}(struct foo_info *{o}, size_t len)", "{",
             f"\tstruct foo_entry *{v};", "\tunsigned int nofs;", "\tint err = 0;", ""]
    for _ in range(rng.randint(1, 6)):
        lock, unlock = rng.choice(LOCKS)
        lines.append("\t" + lock.format(o=o))
        lines.append(f"\t{v} = " + rng.choice(ALLOCS).format(v=v) + ";")
        lines.append(f"\tif (!{v}) {{")
        lines.append("\t\terr = -ENOMEM;")
        lines.append("\t\tgoto out;")
        lines.append("\t}")
        for _ in range(rng.randint(1, 5)):
            lines.append("\t" + rng.choice(CALLS).format(o=o, v=v, n=rng.randint(0, 99)))
        lines.append("\t" + unlock.format(o=o))
    lines += ["out:", "\treturn err;", "}", ""]
    return lines


def c_file(rng: random.Random, nlines: int) -> list[str]:
    """Kernel-like C source of about ``nlines`` lines with an ops table."""
    out = ["// SPDX-License-Identifier: GPL-2.0", "#include <linux/fs.h>", ""]
    i = 0
    while len(out) < nlines:
        out += function(rng, i)
        i += 1
    out += ["static const struct super_operations foo_sops = {",
            "\t.evict_inode\t= foo_op_0,", "};"]
    return out


def patch(rng: random.Random, index: int, sizes: str = "uniform") -> bytes:
    """A mail with one diff of 1 to 400 changed lines against generated C."""
    base = c_file(rng, rng.randint(200, 1500))
    if sizes == "realistic":
        changed = min(400, max(1, round(math.exp(rng.uniform(0, math.log(400))))))
    else:
        changed = rng.randint(1, 400)
    start = rng.randint(0, max(0, len(base) - changed - 10))
    new_chunk = [ln for f in (function(rng, 1000 + k) for k in range(changed // 20 + 1))
                 for ln in f][:changed]
    removed = base[start + 3:start + 3 + rng.randint(0, changed // 3)]
    ctx_before, ctx_after = base[start:start + 3], base[start + 3 + len(removed):
                                                        start + 6 + len(removed)]
    body = ([" " + ln for ln in ctx_before] + ["-" + ln for ln in removed]
            + ["+" + ln for ln in new_chunk] + [" " + ln for ln in ctx_after])
    old_len = len(ctx_before) + len(removed) + len(ctx_after)
    new_len = len(ctx_before) + len(new_chunk) + len(ctx_after)
    header = (f"From: Dev <dev@example.org>\nSubject: [PATCH] foo: change {index}\n"
              f"Message-ID: <bench-{index}@example.org>\n\nBenchmark patch.\n---\n"
              f"--- a/fs/foo/file{index % 50}.c\n+++ b/fs/foo/file{index % 50}.c\n"
              f"@@ -{start + 1},{old_len} +{start + 1},{new_len} @@ static int foo_op_x(void)\n")
    return (header + "\n".join(body) + "\n").encode()


def time_check(label: str, inputs: list[tuple[str, bytes]], options: Options) -> None:
    """Review every input once, in this process; print patches/s."""
    review_ingested(read_bytes(inputs[0][1], "warmup"), options)  # imports, tables, parser
    changed = sum(raw.count(b"\n+") + raw.count(b"\n-") for _, raw in inputs)
    t0 = time.perf_counter()
    patches = findings = 0
    for source, raw in inputs:
        report = review_ingested(read_bytes(raw, source), options)
        patches += sum(1 for r in report.reviews if not r.error)
        findings += sum(len(r.findings) for r in report.reviews)
    seconds = time.perf_counter() - t0
    print(f"{label}: {patches} patches ({changed} changed lines) in {seconds:.2f} s = "
          f"{patches / seconds:.0f} patches/s, {findings} findings")


def peak_rss_mb() -> float:
    """Peak resident set size of this process, in MiB."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--patches", type=int, default=400)
    parser.add_argument("--scan-lines", type=int, default=200_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--mbox-dir", type=Path, help="also time every *.mbox under DIR")
    args = parser.parse_args()
    rng = random.Random(args.seed)
    options = Options()

    for sizes in ("realistic", "uniform"):
        mails = [patch(rng, i, sizes) for i in range(args.patches)]
        time_check(f"check ({sizes} sizes)", [(f"bench-{i}", m) for i, m in enumerate(mails)],
                   options)
    if args.mbox_dir is not None:
        files = sorted(args.mbox_dir.rglob("*.mbox"))
        time_check(f"check ({args.mbox_dir.name}, {len(files)} mboxes)",
                   [(str(f), f.read_bytes()) for f in files], options)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "fs" / "foo"
        root.mkdir(parents=True)
        total = 0
        i = 0
        while total < args.scan_lines:
            lines = c_file(rng, min(5000, args.scan_lines - total))
            (root / f"scan{i}.c").write_text("\n".join(lines) + "\n")
            total += len(lines)
            i += 1
        t0 = time.perf_counter()
        report = scan_paths([str(root)], options, Path(tmp))
        scan_s = time.perf_counter() - t0
        found = sum(len(r.findings) for r in report.reviews)
    print(f"scan: {total} lines in {i} files in {scan_s:.2f} s = {total / scan_s:.0f} lines/s, "
          f"{found} findings")
    print(f"peak RSS: {peak_rss_mb():.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
