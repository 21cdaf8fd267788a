"""Benchmark: how long the sendemail-validate hook takes on one typical patch.

Builds a synthetic kernel-like tree (bench_tree's generator) with real git,
commits one typical patch (a hazard-free change of about 20 added lines: a
new helper and changes to two functions of the fake filesystem), installs
the hook with ``reviewbot hook install`` and times, in fresh processes as git runs them:

* ``git hook run sendemail-validate -- PATCH``: the hook alone (the figure
  the < 1 s target is about; the patch's commit is in the repository, so it
  is reviewed against its parent with whole files),
* the same for a patch whose commit is not in the repository (applied in a
  temporary worktree: a checkout of the tree is part of the cost),
* the same with hooks.tree = false (hunks only),
* ``git send-email --dry-run`` with and without ``--no-validate``.

Usage: python benchmarks/bench_hooks.py [--files 5000] [--rounds 5] [--keep DIR]
Prints figures; it is not a test.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench_tree import ENV, build_repo, git

TARGET_SECONDS = 1.0


def typical_patch(repo: Path) -> None:
    """One commit like most patches on a filesystem list: a new helper and two callers changed."""
    path = repo / "fs" / "foofs" / "part3.c"
    text = path.read_text()
    text = text.replace(
        "\tfoofs3_commit(inode, buf);\n",
        "\terr = foofs3_reserve(inode);\n\tif (err)\n\t\tgoto out;\n"
        "\tfoofs3_commit(inode, buf);\n\tfoofs3_release(inode);\nout:\n", 1)
    text = text.replace(
        "\tinfo->flags |= 7;\n",
        "\tinfo->flags |= 7;\n\tif (info->flags & 0x10) {\n\t\tfoofs3_trace(inode, 7);\n"
        "\t\tinfo->flags &= ~0x10;\n\t}\n", 1)
    text = text.replace(
        "static int foofs3_update(struct inode *inode)\n",
        "static int foofs3_reserve(struct inode *inode)\n{\n\tstruct foofs3_info *info;\n\n"
        "\tinfo = foofs3_info_of(inode);\n\tif (!info)\n\t\treturn -EINVAL;\n"
        "\treturn foofs3_account(info, 1);\n}\n\n"
        "static int foofs3_update(struct inode *inode)\n", 1)
    path.write_text(text)
    git(repo, "commit", "--quiet", "-am", "foofs: reserve space before committing\n\n"
        "Reserve before the commit so that a full device fails early.\n\n"
        "Signed-off-by: Bench <bench@example.org>")


def timed(cmd: Sequence[str], cwd: Path, env: dict[str, str], rounds: int
          ) -> tuple[list[float], subprocess.CompletedProcess[str]]:
    """Wall-clock seconds of ``rounds`` runs (after one warm-up run)."""
    done = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True,
                          check=False)
    times = []
    for _ in range(rounds):
        t0 = time.perf_counter()
        done = subprocess.run(list(cmd), cwd=cwd, env=env, capture_output=True, text=True,
                              check=False)
        times.append(time.perf_counter() - t0)
    return times, done


def show(label: str, times: list[float], done: subprocess.CompletedProcess[str]) -> None:
    """One line of figures."""
    print(f"{label}: median {statistics.median(times):.3f} s, best {min(times):.3f} s, "
          f"worst {max(times):.3f} s (exit {done.returncode})")


def main() -> int:
    """Build, time and print."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=5000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--keep", type=Path, help="build in DIR and keep it")
    args = parser.parse_args()

    root = args.keep or Path(tempfile.mkdtemp(prefix="reviewbot-bench-hooks-"))
    root.mkdir(parents=True, exist_ok=True)
    home = root / "home"
    home.mkdir(exist_ok=True)
    bindir = str(Path(sys.executable).parent)
    env = {**os.environ, **ENV, "HOME": str(home), "XDG_CONFIG_HOME": str(home / ".config"),
           "PATH": f"{bindir}{os.pathsep}{os.environ.get('PATH', '')}"}
    try:
        repo = build_repo(root, args.files)
        typical_patch(repo)
        patch = Path(git(repo, "format-patch", "-1", "-o", str(root / "out")).strip())
        stat = git(repo, "diff", "--shortstat", "HEAD~1", "HEAD").strip()
        tracked = len(git(repo, "ls-files").splitlines())
        print(f"tree: {tracked} files; patch: {patch.name} ({stat})")
        subprocess.run([sys.executable, "-m", "reviewbot", "hook", "install", "--hook",
                        "sendemail-validate"], cwd=repo, env=env, check=True,
                       capture_output=True)

        hook = ["git", "hook", "run", "sendemail-validate", "--", str(patch)]
        times, done = timed(hook, repo, env, args.rounds)
        show("sendemail-validate hook, commit in the repository (tree mode)", times, done)
        main_median = statistics.median(times)
        show("  same, hooks.tree = false (hunks only)",
             *timed(hook, repo, {**env, "REVIEWBOT_HOOKS_TREE": "false"}, args.rounds))

        foreign = root / "foreign.patch"
        foreign.write_text(patch.read_text().replace(
            patch.read_text().split()[1], "0" * 40, 1))  # a commit id the repository lacks
        git(repo, "reset", "--quiet", "--hard", "HEAD~1")
        show("  patch from elsewhere, applied in a temporary worktree",
             *timed(["git", "hook", "run", "sendemail-validate", "--", str(foreign)],
                    repo, env, args.rounds))
        git(repo, "reset", "--quiet", "--hard", "HEAD@{1}")

        send = ["git", "send-email", "--dry-run", "--to=list@example.org",
                "--from=Bench <bench@example.org>", "--confirm=never", "--suppress-cc=all",
                "--smtp-server=/bin/false", "--quiet", str(patch)]
        with_hook, _ = timed(send, repo, env, args.rounds)
        without, _ = timed([*send[:2], "--no-validate", *send[2:]], repo, env, args.rounds)
        print(f"git send-email --dry-run: median {statistics.median(with_hook):.3f} s with the "
              f"hook, {statistics.median(without):.3f} s with --no-validate")
        verdict = "meets" if main_median < TARGET_SECONDS else "MISSES"
        print(f"target: the hook on a typical single patch < {TARGET_SECONDS:.0f} s: {verdict}")
        return 0
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
