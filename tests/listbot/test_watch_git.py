"""`reviewbot watch git` on a synthetic kernel-like repository (tree mode)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.listbot import mails
from tests.listbot.conftest import db_rows, parse, run_cli, write_config
from tests.listbot.harness import SmtpSink

DIR_C = """// SPDX-License-Identifier: GPL-2.0
#include <linux/fs.h>
#include <linux/sched/mm.h>
#include <linux/slab.h>

struct foofs_dir_block {
\tstruct list_head list;
};

static int foofs_insert_block(struct inode *dir, struct foofs_dir_block *blk,
\t\t\t      const struct qstr *name);

static int foofs_add_entry(struct inode *dir, const struct qstr *name)
{
\tstruct foofs_dir_block *blk;
\tunsigned int nofs;
\tint err;

\tblk = kmalloc(sizeof(*blk), GFP_NOFS);
\tif (!blk)
\t\treturn -ENOMEM;
\terr = foofs_insert_block(dir, blk, name);
\treturn err;
}
"""

LEAK = """\tnofs = memalloc_nofs_save();
\tblk = kmalloc(sizeof(*blk), GFP_KERNEL);
\tif (!blk)
\t\treturn -ENOMEM;
\terr = foofs_insert_block(dir, blk, name);
\tmemalloc_nofs_restore(nofs);
"""

FIXED = """\tnofs = memalloc_nofs_save();
\tblk = kmalloc(sizeof(*blk), GFP_KERNEL);
\tif (!blk) {
\t\tmemalloc_nofs_restore(nofs);
\t\treturn -ENOMEM;
\t}
\terr = foofs_insert_block(dir, blk, name);
\tmemalloc_nofs_restore(nofs);
"""

OLD = """\tblk = kmalloc(sizeof(*blk), GFP_NOFS);
\tif (!blk)
\t\treturn -ENOMEM;
\terr = foofs_insert_block(dir, blk, name);
"""


class Repo:
    """A small kernel-like tree: Makefile, fs/foofsN/dir.c."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.mkdir()
        self.git("init", "-q", "-b", "master")
        (path / "Makefile").write_text("VERSION = 6\nPATCHLEVEL = 12\nSUBLEVEL = 0\n")
        self.base = self.commit("Initial tree", files={"Makefile": None})

    def git(self, *args: str, author: tuple[str, str] = mails.ALICE) -> str:
        env = dict(os.environ, GIT_AUTHOR_NAME=author[0], GIT_AUTHOR_EMAIL=author[1])
        out = subprocess.run(["git", *args], cwd=self.path, env=env, check=True,
                             capture_output=True, text=True)
        return out.stdout.strip()

    def commit(self, message: str, files: dict[str, str | None],
               author: tuple[str, str] = mails.ALICE) -> str:
        for name, text in files.items():
            if text is not None:
                (self.path / name).parent.mkdir(parents=True, exist_ok=True)
                (self.path / name).write_text(text)
            self.git("add", name)
        self.git("commit", "-q", "--allow-empty", "-m", message, author=author)
        return self.git("rev-parse", "HEAD")

    def add_fs(self, fs: str) -> str:
        return self.commit(f"{fs}: add directory code",
                           {f"fs/{fs}/dir.c": DIR_C.replace("foofs", fs)})

    def change(self, fs: str, old: str, new: str, message: str) -> str:
        path = self.path / "fs" / fs / "dir.c"
        text = path.read_text()
        assert old.replace("foofs", fs) in text
        return self.commit(message, {f"fs/{fs}/dir.c": text.replace(
            old.replace("foofs", fs), new.replace("foofs", fs))})


def _watch(repo: Repo, db: Path, cfg: Path, *extra: str) -> list[str]:
    return ["watch", "git", "--repo", str(repo.path), "--ref", "master", "--db", str(db),
            "--config", str(cfg), "--list", mails.LIST, *extra]


def test_each_new_commit_is_reviewed_once_in_tree_mode(tmp_path: Path, sink: SmtpSink) -> None:
    repo = Repo(tmp_path / "linux")
    start = repo.add_fs("foofs")
    db, cfg = tmp_path / "state.db", write_config(tmp_path / "site.toml", sink.port)
    # The first run starts at the tip: nothing old is reviewed.
    first = run_cli(*_watch(repo, db, cfg, "--once"))
    assert first.status == 0, first.err
    assert db_rows(db, "SELECT * FROM reviews") == []
    assert start

    leak = repo.change("foofs", OLD, LEAK, "foofs: allocate dir blocks in a NOFS scope\n\n"
                       "Link: https://lore.kernel.org/r/leak.v3.2@example.org\n")
    repo.commit("foofs: empty commit", {})
    run = run_cli(*_watch(repo, db, cfg, "--once"))
    assert run.status == 0, run.err
    assert len(sink.mails) == 1
    msg = parse(sink.mails[0].data)
    assert msg["In-Reply-To"] == "<leak.v3.2@example.org>"
    assert msg["Subject"] == "Re: foofs: allocate dir blocks in a NOFS scope"
    assert msg["To"] == "Alice Developer <alice@example.org>"
    assert msg["Cc"] == mails.LIST
    body = msg.get_content()
    assert body.startswith(f'Commit {leak[:12]} ("foofs: allocate dir blocks in a NOFS '
                           f'scope") on master')
    assert ">  \t\treturn -ENOMEM;" in body and "(MEMALLOC-001, error)" in body
    reviews = db_rows(db, "SELECT mode, kernel_version, action FROM reviews")
    assert [(r["mode"], r["kernel_version"], r["action"]) for r in reviews] == [
        ("tree", "6.12", "mailed")]
    skipped = db_rows(db, "SELECT kind, status, reason FROM messages WHERE status = 'skipped'")
    assert [(r["kind"], r["status"]) for r in skipped] == [("commit", "skipped")]
    assert "no reviewable diff" in skipped[0]["reason"]

    # Nothing twice; and a fix is reviewed, clean, and not mailed.
    assert run_cli(*_watch(repo, db, cfg, "--once")).status == 0
    repo.change("foofs", LEAK, FIXED, "foofs: restore the NOFS scope on the error path")
    assert run_cli(*_watch(repo, db, cfg, "--once")).status == 0
    assert len(sink.mails) == 1
    actions = [r["action"] for r in db_rows(db, "SELECT action FROM reviews ORDER BY id")]
    assert actions == ["mailed", "clean"]


def test_rebased_branch_is_not_reviewed_again(tmp_path: Path, sink: SmtpSink) -> None:
    repo = Repo(tmp_path / "linux")
    repo.add_fs("foofs")
    base = repo.git("rev-parse", "HEAD")
    repo.change("foofs", OLD, LEAK, "foofs: allocate dir blocks in a NOFS scope")
    db, cfg = tmp_path / "state.db", write_config(tmp_path / "site.toml", sink.port)
    assert run_cli(*_watch(repo, db, cfg, "--once", "--since", base)).status == 0
    assert len(sink.mails) == 1
    repo.git("commit", "-q", "--amend", "-m", "foofs: allocate dir blocks (reworded)")
    run = run_cli(*_watch(repo, db, cfg, "--once"))
    assert run.status == 0, run.err
    assert len(sink.mails) == 1
    assert len(db_rows(db, "SELECT * FROM reviews")) == 1


def test_smtp_down_then_up(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "linux")
    repo.add_fs("foofs")
    base = repo.git("rev-parse", "HEAD")
    repo.change("foofs", OLD, LEAK, "foofs: allocate dir blocks in a NOFS scope")
    sink = SmtpSink()
    db, cfg = tmp_path / "state.db", write_config(tmp_path / "site.toml", sink.port)
    assert run_cli(*_watch(repo, db, cfg, "--once", "--since", base)).status == 0
    assert [r["status"] for r in db_rows(db, "SELECT status FROM outbox")] == ["pending"]
    sink.start()
    try:
        assert run_cli(*_watch(repo, db, cfg, "--once")).status == 0
        assert run_cli(*_watch(repo, db, cfg, "--once")).status == 0
        assert len(sink.mails) == 1
    finally:
        sink.stop()


def test_bad_ref_and_repo_are_usage_errors(tmp_path: Path) -> None:
    repo = Repo(tmp_path / "linux")
    cfg = write_config(tmp_path / "site.toml")
    db = tmp_path / "state.db"
    assert run_cli("watch", "git", "--repo", str(repo.path), "--ref", "--upload-pack=x",
                   "--db", str(db), "--config", str(cfg), "--once").status == 2
    missing = run_cli("watch", "git", "--repo", str(repo.path), "--ref", "nope", "--db",
                      str(db), "--config", str(cfg), "--once")
    assert missing.status == 2 and "no such ref" in missing.err
    notrepo = run_cli("watch", "git", "--repo", str(tmp_path), "--ref", "master", "--db",
                      str(db), "--config", str(cfg), "--once")
    assert notrepo.status == 2 and "not a git repository" in notrepo.err


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart(tmp_path: Path, sink: SmtpSink) -> None:
    repo = Repo(tmp_path / "linux")
    count = 5
    for i in range(count):
        repo.add_fs(f"foofs{i}")
    base = repo.git("rev-parse", "HEAD")
    for i in range(count):
        repo.change(f"foofs{i}", OLD, LEAK, f"foofs{i}: allocate dir blocks in a NOFS scope")
    db = tmp_path / "state.db"
    cfg = write_config(tmp_path / "site.toml", sink.port)
    cfg.write_text(cfg.read_text().replace("retry_seconds = 0",
                                           "retry_seconds = 0\nsend_interval_seconds = 0.5"))
    args = _watch(repo, db, cfg, "--once", "--since", base)
    with open(tmp_path / "watch.log", "ab") as log:
        proc = subprocess.Popen([sys.executable, "-m", "reviewbot", *args], stdout=log,
                                stderr=log, env=dict(os.environ))
    try:
        import time

        deadline = time.monotonic() + 60
        while len(sink.mails) < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert len(sink.mails) < count
    assert run_cli(*args).status == 0
    reviews = db_rows(db, "SELECT msgid, COUNT(*) AS n FROM reviews GROUP BY msgid")
    assert len(reviews) == count and {r["n"] for r in reviews} == {1}
    ids = [parse(m.data)["Message-ID"] for m in sink.mails]
    assert len(ids) == len(set(ids))
    statuses = [r["status"] for r in db_rows(db, "SELECT status FROM outbox")]
    assert len(statuses) == count and set(statuses) <= {"sent", "uncertain"}
    assert statuses.count("uncertain") <= 1
