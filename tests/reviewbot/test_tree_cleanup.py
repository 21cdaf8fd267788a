"""The temporary worktree goes away on signals too, and the small helpers behave."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from reviewbot.gitsource import GitError, check_rev, makefile_version
from reviewbot.tree import _mboxrd
from tests.reviewbot.kernelrepo import KernelRepo, makefile
from tests.reviewbot.test_tree import as_json, series


def _long_series(repo: KernelRepo, tmp_path: Path, count: int) -> Path:
    edits = []
    for i in range(count):
        anchor = f"\tfoofs_step{i}(dir);\n"
        edits.append(("fs/foofs/dir.c", anchor, anchor + f"\tfoofs_extra{i}(dir);\n"))
    return series(repo, tmp_path, edits)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_during_review_leaves_the_repository_as_it_was(
        tmp_path: Path, signum: signal.Signals) -> None:
    repo = KernelRepo(tmp_path / "linux")
    mbox = _long_series(repo, tmp_path, 25)
    before = repo.snapshot()
    admin = repo.path / ".git" / "worktrees"
    proc = subprocess.Popen(
        [sys.executable, "-m", "reviewbot", "check", "--tree", str(repo.path), str(mbox)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 30
    while not admin.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.005)
    assert proc.poll() is None, "the review finished before the worktree was seen"
    time.sleep(0.05)
    os.killpg(proc.pid, signum)  # like Ctrl-C: the whole process group, git children too
    _, err = proc.communicate(timeout=30)
    assert proc.returncode == 128 + signum, err
    assert b"Traceback" not in err
    assert repo.snapshot() == before


def test_makefile_version() -> None:
    assert makefile_version(makefile("5.10")) == "5.10"
    assert makefile_version("VERSION = 6\nPATCHLEVEL = 1\nSUBLEVEL = 55\n") == "6.1"
    assert makefile_version("VERSION = 6\n") is None
    assert makefile_version("# VERSION = 6\nPATCHLEVEL = 1\n") is None


@pytest.mark.parametrize("rev", ["-p", "--output=x", "", "a b", "HEAD..main", "x;y", "a\nb"])
def test_check_rev_rejects(rev: str) -> None:
    with pytest.raises(GitError):
        check_rev(rev)


@pytest.mark.parametrize("rev", ["HEAD", "v6.1", "main~2", "HEAD^", "origin/main", "a" * 40])
def test_check_rev_accepts(rev: str) -> None:
    assert check_rev(rev) == rev


def test_mboxrd_escapes_from_lines() -> None:
    raw = b"Subject: x\r\n\r\nFrom here on\r\n>From there\r\nplain\r\n"
    out = _mboxrd(raw)
    assert out.startswith(b"From ")
    assert out.split(b"\n")[1:] == [b"Subject: x", b"", b">From here on", b">>From there",
                                    b"plain", b""]


def test_patch_with_a_from_line_in_its_message_applies(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = KernelRepo(tmp_path / "linux")
    start = repo.head()
    repo.edit("fs/foofs/dir.c", "\tfoofs_touch(dir);\n", "\tfoofs_touch(dir);\n\tfoofs_log(dir);\n")
    repo.commit("foofs: log", "From now on every touch is logged.\n>From the log, too.")
    mbox = repo.mbox(f"{start}..HEAD", tmp_path / "one.mbox")
    repo.reset_to(start)
    _, reviews = as_json(capsys, "--tree", str(repo.path), str(mbox))
    assert reviews[0]["mode"] == "tree", reviews[0]["apply_error"]


def test_series_across_files_is_attributed_to_the_file_owner(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Patch 1 adds a helper that writes back; patch 2 wires it up as ->evict_inode.

    Neither patch alone shows the hazard; the end state does, and it is listed
    with the patch that last changed the file it is in (its lines are that
    patch's post-image lines).
    """
    repo = KernelRepo(tmp_path / "linux")
    helper = ("fs/foofs/inode.c", "static int foofs_update",
              "void foofs_flush_inode(struct inode *inode)\n{\n"
              "\tfilemap_write_and_wait(inode->i_mapping);\n\tclear_inode(inode);\n}\n\n"
              "static int foofs_update")
    wire = ("fs/foofs/super.c", "\t.evict_inode\t= foofs_teardown,",
            "\t.evict_inode\t= foofs_flush_inode,")
    mbox = series(repo, tmp_path, [helper, wire])
    status, reviews = as_json(capsys, "--tree", str(repo.path), str(mbox))
    hits = [(i, f["rule"], f["file"], f["line"]) for i, r in enumerate(reviews)
            for f in r["findings"]]
    assert hits == [(0, "EVICT-002", "fs/foofs/inode.c", 6)]
    assert status == 1
    assert json.dumps(reviews).count('"rule": "EVICT-002"') == 1


def test_git_hook_environment_cannot_redirect_git(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """Inside a hook, git exports GIT_DIR, GIT_WORK_TREE and GIT_INDEX_FILE of *its* repo."""
    repo = KernelRepo(tmp_path / "linux")
    mbox = series(repo, tmp_path, [("fs/foofs/dir.c", "\terr = foofs_insert(dir, name);\n",
                                    "\terr = foofs_insert(dir, name);\n\tif (err)\n"
                                    "\t\treturn err;\n")])
    other = KernelRepo(tmp_path / "other", files={"README": "other\n"})
    before, other_before = repo.snapshot(), other.snapshot()
    monkeypatch.setenv("GIT_DIR", str(other.path / ".git"))
    monkeypatch.setenv("GIT_WORK_TREE", str(other.path))
    monkeypatch.setenv("GIT_INDEX_FILE", str(other.path / ".git" / "index"))
    monkeypatch.chdir(other.path)

    status, reviews = as_json(capsys, "--tree", str(repo.path), str(mbox))
    assert [r["mode"] for r in reviews] == ["tree"]
    assert [f["rule"] for f in reviews[0]["findings"]] == ["MEMALLOC-001"]
    assert status == 1
    status, reviews = as_json(capsys, "--git", repo.base, "--repo", str(repo.path))
    assert reviews[0]["kernel_version"] == "6.12" and status == 1

    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE"):
        monkeypatch.delenv(name)
    assert repo.snapshot() == before
    assert other.snapshot() == other_before
