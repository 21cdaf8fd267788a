"""Build small kernel-like git repositories for tests, with real git."""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path

FILLER = 30  # lines between a scope/transaction opener and the hunk: out of hunk reach


def git(repo: Path, *args: str, input_bytes: bytes | None = None) -> str:
    """Run git in ``repo``; return stdout (raise on failure)."""
    env = {**os.environ, "GIT_OPTIONAL_LOCKS": "0"}  # status must not refresh the index
    done = subprocess.run(["git", "-C", str(repo), *args], input=input_bytes,
                          capture_output=True, check=True, env=env)
    return done.stdout.decode("utf-8", "replace")


def makefile(version: str) -> str:
    """A top Makefile like the kernel's for ``version`` ("6.12")."""
    major, minor = version.split(".")
    return (f"# SPDX-License-Identifier: GPL-2.0\nVERSION = {major}\nPATCHLEVEL = {minor}\n"
            "SUBLEVEL = 0\nEXTRAVERSION =\nNAME = Test Kernel\n")


def steps(indent: str, arg: str, count: int = FILLER) -> str:
    """``count`` lines of unremarkable calls."""
    return "".join(f"{indent}foofs_step{i}({arg});\n" for i in range(count))


def helpers(count: int = 8) -> str:
    """Unrelated static functions that push things apart."""
    return "".join(f"static int foofs_helper{i}(int x)\n{{\n\treturn x * {i + 2};\n}}\n\n"
                   for i in range(count))


SUPER_C = f"""// SPDX-License-Identifier: GPL-2.0
#include <linux/fs.h>

static void foofs_teardown(struct inode *inode)
{{
\ttruncate_inode_pages_final(&inode->i_data);
\tclear_inode(inode);
}}

{helpers()}static const struct super_operations foofs_sops = {{
\t.evict_inode\t= foofs_teardown,
\t.statfs\t\t= simple_statfs,
}};
"""

DIR_C = f"""// SPDX-License-Identifier: GPL-2.0
#include <linux/sched/mm.h>

static int foofs_add_entry(struct inode *dir, const char *name)
{{
\tunsigned int nofs_flag;
\tint err;

\tnofs_flag = memalloc_nofs_save();
{steps(chr(9), "dir")}\terr = foofs_insert(dir, name);
\tfoofs_touch(dir);
\tmemalloc_nofs_restore(nofs_flag);
\treturn err;
}}
"""

INODE_C = f"""// SPDX-License-Identifier: GPL-2.0
#include <linux/fs.h>

static int foofs_update(struct inode *inode)
{{
\tvoid *buf = NULL;

\tsb_start_intwrite(inode->i_sb);
{steps(chr(9), "inode")}\tfoofs_commit(inode, buf);
\tsb_end_intwrite(inode->i_sb);
\treturn 0;
}}
"""

TABLE_C = f"""// SPDX-License-Identifier: GPL-2.0
#include <linux/vmalloc.h>

static int foofs_load_table(struct foofs_sb *sbi, size_t size)
{{
\tgfp_t gfp = GFP_NOFS;

{steps(chr(9), "sbi")}\tsbi->table = NULL;
\treturn 0;
}}
"""

# A hazard that predates every patch: GFP_KERNEL under the internal freeze protection.
LEGACY_C = f"""// SPDX-License-Identifier: GPL-2.0
#include <linux/fs.h>

static int foofs_legacy(struct inode *inode)
{{
\tvoid *p;

\tsb_start_intwrite(inode->i_sb);
\tp = kmalloc(128, GFP_KERNEL);
\tfoofs_use(inode, p);
\tsb_end_intwrite(inode->i_sb);
\treturn 0;
}}

{helpers()}static int foofs_tidy(struct inode *inode)
{{
\tfoofs_count(inode);
\treturn 0;
}}
"""

BASE_FILES = {
    "fs/foofs/super.c": SUPER_C,
    "fs/foofs/dir.c": DIR_C,
    "fs/foofs/inode.c": INODE_C,
    "fs/foofs/table.c": TABLE_C,
    "fs/foofs/legacy.c": LEGACY_C,
    "fs/foofs/Makefile": "obj-$(CONFIG_FOOFS_FS) += foofs.o\n",
}


class KernelRepo:
    """A git repository with a kernel-like layout."""

    def __init__(self, path: Path, version: str = "6.12",
                 files: dict[str, str] | None = None) -> None:
        self.path = path
        path.mkdir(parents=True, exist_ok=True)
        git(path, "init", "--quiet", "--initial-branch=main")
        self.write("Makefile", makefile(version))
        for name, text in (files if files is not None else BASE_FILES).items():
            self.write(name, text)
        self.base = self.commit("Initial tree")

    def write(self, name: str, text: str) -> None:
        """Write a file (creating directories)."""
        target = self.path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)

    def read(self, name: str) -> str:
        """A file's text in the checkout."""
        return (self.path / name).read_text()

    def edit(self, name: str, old: str, new: str) -> None:
        """Replace exactly one occurrence of ``old``."""
        text = self.read(name)
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times in {name}"
        self.write(name, text.replace(old, new))

    def commit(self, subject: str, body: str = "") -> str:
        """Commit everything; return the commit id."""
        git(self.path, "add", "-A")
        message = subject + ("\n\n" + body if body else "") + "\n\nSigned-off-by: T <t@example.org>"
        git(self.path, "commit", "--quiet", "-m", message)
        return git(self.path, "rev-parse", "HEAD").strip()

    def head(self) -> str:
        """HEAD's commit id."""
        return git(self.path, "rev-parse", "HEAD").strip()

    def format_patch(self, rev_range: str, out: Path, *extra: str) -> list[Path]:
        """git format-patch into ``out``; returns the files in order."""
        out.mkdir(parents=True, exist_ok=True)
        names = git(self.path, "format-patch", "--quiet", "-o", str(out), *extra, rev_range)
        return [Path(n) for n in names.split()] or sorted(out.glob("*.patch"))

    def mbox(self, rev_range: str, out: Path, *extra: str) -> Path:
        """The patches of ``rev_range`` as one mbox file (a series with n/m subjects)."""
        text = git(self.path, "format-patch", "--stdout", "--thread", *extra, rev_range)
        out.write_text(text)
        return out

    def reset_to(self, rev: str) -> None:
        """Move the branch back (the series lives only in the patch files)."""
        git(self.path, "reset", "--quiet", "--hard", rev)

    def snapshot(self) -> dict[str, object]:
        """Everything that must not change: porcelain status, refs, worktrees, HEAD, files."""
        files = {}
        for item in sorted(self.path.rglob("*")):
            if item.is_file():
                files[item.relative_to(self.path).as_posix()] = hashlib.sha256(
                    item.read_bytes()).hexdigest()
        return {
            "status": git(self.path, "status", "--porcelain", "--ignored"),
            "refs": git(self.path, "for-each-ref", "--format=%(refname) %(objectname)"),
            "worktrees": git(self.path, "worktree", "list", "--porcelain"),
            "head": git(self.path, "rev-parse", "HEAD"),
            "symbolic": git(self.path, "symbolic-ref", "-q", "HEAD"),
            "files": files,
        }
