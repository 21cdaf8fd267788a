"""Helpers for the hook tests: real git, real git send-email, the hooks as git runs them."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.reviewbot.kernelrepo import KernelRepo, git

BIN = Path(sys.executable).parent  # the venv's bin: python and the reviewbot script
TO = "list@example.org"

# A hazard only the whole function shows (the memalloc_nofs_save() is 30 lines up):
# MEMALLOC-001, an error, seen in tree mode only.
EARLY_RETURN = ("fs/foofs/dir.c", "\terr = foofs_insert(dir, name);\n",
                "\terr = foofs_insert(dir, name);\n\tif (err)\n\t\treturn err;\n")
# Writeback in ->evict_inode (the ops table is in the same file): EVICT-002, a warning.
WRITEBACK_IN_EVICT = ("fs/foofs/super.c", "\ttruncate_inode_pages_final(&inode->i_data);\n",
                      "\tfilemap_write_and_wait(inode->i_mapping);\n"
                      "\ttruncate_inode_pages_final(&inode->i_data);\n")
HARMLESS = ("fs/foofs/dir.c", "\tfoofs_touch(dir);\n", "\tfoofs_touch(dir);\n\tfoofs_log(dir);\n")
ALLOC_IN_TXN = ("fs/foofs/inode.c", "\tfoofs_commit(inode, buf);\n",
                "\tbuf = kmalloc(64, GFP_KERNEL);\n\tfoofs_commit(inode, buf);\n")
DROP_ALLOC = ("fs/foofs/inode.c", "\tbuf = kmalloc(64, GFP_KERNEL);\n", "")
# A scope leaked on an early return, all inside one new function: visible from the hunk.
NEW_LEAKY_FUNCTION = ("fs/foofs/dir.c", "static int foofs_add_entry(",
                      "static int foofs_rename_entry(struct inode *dir, const char *name)\n"
                      "{\n\tunsigned int flags;\n\tint err;\n\n"
                      "\tflags = memalloc_nofs_save();\n\terr = foofs_lookup(dir, name);\n"
                      "\tif (err)\n\t\treturn err;\n\tmemalloc_nofs_restore(flags);\n"
                      "\treturn 0;\n}\n\nstatic int foofs_add_entry(")


def env(**extra: str) -> dict[str, str]:
    """The test environment with the venv first on PATH (hooks and b4 find reviewbot)."""
    return {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", **extra}


def run(cwd: Path, *args: str, stdin: str | None = None,
        extra_env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """Run a command (no shell), capturing stdout+stderr together; never raises on failure."""
    return subprocess.run(list(args), cwd=cwd, input=stdin if stdin is not None else "",
                          stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          env=env(**(extra_env or {})), check=False, timeout=120)


def reviewbot(cwd: Path, *args: str, extra_env: dict[str, str] | None = None
              ) -> subprocess.CompletedProcess[str]:
    """The reviewbot command line in a fresh process."""
    return run(cwd, sys.executable, "-P", "-m", "reviewbot", *args, extra_env=extra_env)


def send_email(repo: Path, *what: str, extra_env: dict[str, str] | None = None
               ) -> subprocess.CompletedProcess[str]:
    """git send-email --dry-run: nothing is sent, nothing is asked."""
    return run(repo, "git", "send-email", "--dry-run", f"--to={TO}",
               "--from=Test Author <author@example.org>", "--confirm=never",
               "--suppress-cc=all", "--no-annotate", "--smtp-server=/bin/false",
               "--quiet", *what, extra_env=extra_env)


def commit(repo: KernelRepo, edit: tuple[str, str, str], subject: str) -> str:
    """Apply one edit and commit it; the commit id."""
    repo.edit(*edit)
    return repo.commit(subject)


def patch_files(repo: KernelRepo, rev_range: str, out: Path, *extra: str) -> list[Path]:
    """git format-patch files of ``rev_range``."""
    return repo.format_patch(rev_range, out, *extra)


def hooks_snapshot(directory: Path) -> dict[str, tuple[str, bytes | str, int]]:
    """Everything in a hooks directory: kind, bytes (or link target) and mode bits."""
    out: dict[str, tuple[str, bytes | str, int]] = {}
    if not directory.exists():
        return out
    for item in sorted(directory.iterdir()):
        st = item.lstat()
        if item.is_symlink():
            out[item.name] = ("link", os.readlink(item), st.st_mode)
        else:
            out[item.name] = ("file", item.read_bytes(), st.st_mode)
    return out


def git_dir_hooks(repo: Path) -> Path:
    """Where git runs this repository's hooks."""
    return Path(git(repo, "rev-parse", "--path-format=absolute", "--git-path", "hooks").strip())
