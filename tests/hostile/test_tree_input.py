"""Hostile patches in tree mode: paths that climb out, .git/hooks, symlinks, malicious refs.

The series is applied with real git in a temporary worktree under a TMPDIR of
the test's own, so every path a patch could reach is inside the test's temp
directory and can be checked afterwards: nothing is written outside the
worktree, the worktree is gone, no hook ran, the user's repository is unchanged.
"""

from __future__ import annotations

import json
import os
import stat
import tempfile
from pathlib import Path
from typing import Any

import pytest

from reviewbot.cli import main
from reviewbot.gitsource import GitError, GitSource, check_rev
from tests.hostile.corpus import mail, mbox
from tests.reviewbot.kernelrepo import KernelRepo

HOOKS = ("applypatch-msg", "pre-applypatch", "post-applypatch", "pre-commit",
         "prepare-commit-msg", "commit-msg", "post-commit", "post-checkout", "post-rewrite",
         "reference-transaction", "post-index-change", "pre-auto-gc")


class Sandbox:
    """A repository with a hook for every event, and a private TMPDIR for the worktree."""

    def __init__(self, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.root = root
        self.repo = KernelRepo(root / "linux")
        self.marker = root / "hook-ran"
        hooks = self.repo.path / ".git" / "hooks"
        for name in HOOKS:
            hook = hooks / name
            hook.write_text(f"#!/bin/sh\necho {name} >> '{self.marker}'\n")
            hook.chmod(0o755)
        self.tmp = root / "t" / "a"
        self.tmp.mkdir(parents=True)
        monkeypatch.setenv("TMPDIR", str(self.tmp))
        monkeypatch.setattr(tempfile, "tempdir", None)
        self.before = self.repo.snapshot()
        self.files_before = self.files()

    def files(self) -> set[str]:
        """Every file and symlink under the test's root, outside the repository and inputs."""
        out = set()
        for path in self.root.rglob("*"):
            rel = path.relative_to(self.root).as_posix()
            if rel.split("/")[0] in ("linux", "in"):
                continue
            if path.is_symlink() or path.is_file():
                out.add(rel)
        return out

    def check(self, capsys: pytest.CaptureFixture[str], *paths: Path,
              extra: tuple[str, ...] = ()) -> tuple[int, list[dict[str, Any]], str]:
        status = main(["check", "--format", "json", "--tree", str(self.repo.path), *extra,
                       *map(str, paths)])
        out = capsys.readouterr()
        return status, json.loads(out.out)["reviews"] if out.out else [], out.err

    def assert_untouched(self, *allowed: str) -> None:
        """Nothing new outside the repository but ``allowed``; no hook ran; repo intact."""
        assert self.files() - self.files_before == set(allowed)
        assert not self.marker.exists(), self.marker.read_text()
        assert list(self.tmp.iterdir()) == []  # the worktree went away
        assert self.repo.snapshot() == self.before


@pytest.fixture
def box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Sandbox:
    return Sandbox(tmp_path, monkeypatch)


def _patch_file(box: Sandbox, name: str, diff: str, subject: str = "[PATCH] foofs: add") -> Path:
    path = box.root / "in" / name
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(mbox(mail(subject=subject, body="Add.\n---\n" + diff)))
    return path


def _new_file(path: str, text: str = "owned\n", mode: str = "100644") -> str:
    return (f"diff --git a/{path} b/{path}\nnew file mode {mode}\nindex 0000000..1111111\n"
            f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1 @@\n+{text}")


CLIMBING = {
    "relative ../../etc/passwd": "../../etc/passwd",
    "deeper climb": "../../../../victim.c",
    "climb inside a path": "fs/foofs/../../../../victim.c",
    "absolute": "/ABS/victim.c",
}


@pytest.mark.parametrize("case", sorted(CLIMBING))
def test_paths_that_climb_out_are_refused(case: str, box: Sandbox,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = CLIMBING[case].replace("/ABS", str(box.root / "abs"))
    patch = _patch_file(box, "climb.patch", _new_file(path))
    status, reviews, err = box.check(capsys, patch)
    [review] = reviews
    assert review["mode"] == "hunk" and review["apply_error"]  # git refused to apply it
    assert err == "" and status == 0
    box.assert_untouched()


def test_traditional_diff_with_absolute_paths_stays_in_the_worktree(
        box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    """``--- /abs/x`` / ``+++ /abs/x`` (no diff --git): git strips one component, so the file
    would land inside the worktree, which is then removed."""
    target = box.root / "abs" / "victim.c"
    diff = f"--- /dev/null\n+++ {target}\n@@ -0,0 +1 @@\n+owned\n"
    status, reviews, _ = box.check(capsys, _patch_file(box, "abs.patch", diff))
    assert len(reviews) == 1 and status == 0
    assert not target.exists()
    box.assert_untouched()


def test_symlink_then_write_through_it_is_refused(box: Sandbox,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    outside = box.root / "outside"
    outside.mkdir()
    link = (f"diff --git a/fs/foofs/escape b/fs/foofs/escape\nnew file mode 120000\n"
            f"index 0000000..1111111\n--- /dev/null\n+++ b/fs/foofs/escape\n@@ -0,0 +1 @@\n"
            f"+{outside}\n\\ No newline at end of file\n")
    first = mail(subject="[PATCH 1/2] foofs: link", msgid="l1@example.org",
                 body="Link.\n---\n" + link)
    second = mail(subject="[PATCH 2/2] foofs: write", msgid="l2@example.org",
                  body="Write.\n---\n" + _new_file("fs/foofs/escape/pwned.c"),
                  headers=[("In-Reply-To", "<l1@example.org>"),
                           ("References", "<l1@example.org>")])
    path = box.root / "in" / "symlink.mbox"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(mbox(first, second))
    status, reviews, _ = box.check(capsys, path)
    assert all(r["apply_error"] for r in reviews) and status == 0
    assert list(outside.iterdir()) == []
    box.assert_untouched()


GIT_DIR_PATHS = [".git/hooks/post-applypatch", ".git/hooks/pre-commit", ".GIT/hooks/post-commit",
                 "fs/foofs/.git/hooks/post-applypatch", ".git/config"]


@pytest.mark.parametrize("path", GIT_DIR_PATHS)
def test_patches_to_git_hooks_are_never_written_or_run(path: str, box: Sandbox,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    payload = f"#!/bin/sh\\necho PAYLOAD >> '{box.marker}'"
    diff = _new_file(path, text=payload, mode="100755").replace("+#!/bin/sh\\n", "+#!/bin/sh\n+")
    status, reviews, _ = box.check(capsys, _patch_file(box, "hook.patch", diff))
    [review] = reviews
    assert review["apply_error"], "git applied a patch into .git"
    assert status == 0
    box.assert_untouched()


def test_users_own_hooks_do_not_run_when_a_series_applies(box: Sandbox,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    """A clean apply (git am, commits, checkouts, resets) with every hook installed."""
    start = box.repo.head()
    box.repo.edit("fs/foofs/dir.c", "\tfoofs_touch(dir);\n", "\tfoofs_touch(dir);\n\tx();\n")
    box.repo.commit("foofs: one more step")
    (box.root / "in").mkdir()
    series = box.repo.mbox(f"{start}..HEAD", box.root / "in" / "series.mbox")
    box.repo.reset_to(start)
    box.marker.unlink()  # the test's own commit and reset ran the hooks, as they should
    box.before = box.repo.snapshot()
    box.files_before = box.files()
    status, reviews, _ = box.check(capsys, series)
    assert [r["mode"] for r in reviews] == ["tree"] and reviews[0]["apply_error"] is None
    assert status == 0
    box.assert_untouched()


def _with_base(box: Sandbox, base: str) -> Path:
    body = f"Add.\n---\n{_new_file('fs/foofs/new.c', 'int x;')}\nbase-commit: {base}\n"
    path = box.root / "in" / "base.mbox"
    path.parent.mkdir(exist_ok=True)
    path.write_bytes(mbox(mail(body=body)))
    return path


@pytest.mark.parametrize("base", ["--upload-pack=touch${IFS}/tmp/owned", "-x", "--output=x",
                                  "HEAD;touch owned", "$(touch owned)", "main", "HEAD~1"])
def test_base_commit_trailer_that_is_no_commit_id_is_ignored(base: str, box: Sandbox,
                                                              capsys: pytest.CaptureFixture[str]
                                                              ) -> None:
    """Only 7 to 64 hex digits are read as a base-commit: anything else never reaches git."""
    status, reviews, _ = box.check(capsys, _with_base(box, base))
    [review] = reviews
    assert review["mode"] == "tree" and review["apply_error"] is None
    assert not any("base-commit" in n for n in review["notes"])  # not read at all: HEAD
    assert status == 0
    box.assert_untouched()


def test_base_commit_that_is_not_in_the_tree_falls_back_to_head(
        box: Sandbox, capsys: pytest.CaptureFixture[str]) -> None:
    status, reviews, _ = box.check(capsys, _with_base(box, "deadbeef" * 5))
    [review] = reviews
    head = box.repo.head()[:12]
    assert review["notes"] == [f"base-commit {'deadbeef' * 5} is not in the tree; applied on "
                               f"HEAD ({head})"]
    assert status == 0
    box.assert_untouched()


@pytest.mark.parametrize("rev", ["--upload-pack=touch owned", "-x", "--output=owned",
                                 "HEAD --exec=x", "a..b", "HEAD\n--all", ""])
def test_malicious_revisions_on_the_command_line_are_usage_errors(
        rev: str, box: Sandbox, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(box.root)
    patch = _patch_file(box, "ok.patch", _new_file("fs/foofs/new.c", "int x;"))
    status, _, err = box.check(capsys, patch, extra=(f"--base={rev}",))
    assert status == 2 and "not a usable revision" in err
    status = main(["check", f"--git={rev}", "--repo", str(box.repo.path)])
    out = capsys.readouterr()
    assert status == 2 and out.err.startswith("reviewbot: ")
    assert not (box.root / "owned").exists()
    box.assert_untouched()


@pytest.mark.parametrize("rev", ["--upload-pack=x", "-x", "a b", "x\ny", "a;b", "$(x)"])
def test_check_rev_rejects_option_like_revisions(rev: str) -> None:
    with pytest.raises(GitError):
        check_rev(rev)


@pytest.mark.parametrize("rev", ["deadbeef", "HEAD:--output=owned", "main@{-x}"])
def test_resolve_reads_a_revision_after_end_of_options(rev: str, box: Sandbox,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(box.root)
    with GitSource(box.repo.path) as source, pytest.raises(GitError):
        source.resolve(rev)
    assert not (box.root / "owned").exists()
    box.assert_untouched()


def test_worktree_directory_is_private(box: Sandbox, capsys: pytest.CaptureFixture[str],
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """The worktree's parent is made by mkdtemp (mode 0700) and removed afterwards."""
    seen: list[int] = []
    real = tempfile.mkdtemp

    def spy(*args: Any, **kwargs: Any) -> str:
        made: str = real(*args, **kwargs)
        seen.append(stat.S_IMODE(os.stat(made).st_mode))
        return made

    monkeypatch.setattr(tempfile, "mkdtemp", spy)
    patch = _patch_file(box, "ok.patch", _new_file("fs/foofs/new.c", "int x;"))
    box.check(capsys, patch)
    assert seen == [0o700]
    box.assert_untouched()


def test_nul_in_subject_and_author_after_long_headers(box: Sandbox,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    """A NUL past the first 8 KiB (where the binary check looks) reached `git commit -m`
    as an argument and crashed check --tree with ValueError."""
    refs = " ".join(f"<r{i}@example.org>" for i in range(600))
    start = box.repo.head()
    box.repo.edit("fs/foofs/dir.c", "\tfoofs_touch(dir);\n", "\tfoofs_touch(dir);\n\tx();\n")
    box.repo.commit("foofs: one more step")
    (box.root / "in").mkdir()
    text = box.repo.mbox(f"{start}..HEAD", box.root / "in" / "one.mbox").read_bytes()
    box.repo.reset_to(start)
    box.marker.unlink()
    box.before, box.files_before = box.repo.snapshot(), box.files()
    head, body = text.split(b"\n\n", 1)
    head = head.replace(b"\nFrom: ", f"\nReferences: {refs}\nFrom: Ev\x00e ".encode(), 1)
    head = head.replace(b"Subject: [PATCH] ", b"Subject: [PATCH] x\x00y ", 1)
    assert head.index(b"\x00") > 8192
    mail_path = box.root / "in" / "nul.mbox"
    mail_path.write_bytes(head + b"\n\n" + body)
    status, reviews, err = box.check(capsys, mail_path)
    [review] = reviews
    assert review["mode"] == "tree" and review["apply_error"] is None, review["apply_error"]
    assert "\x00" not in review["subject"] and err == "" and status == 0
    box.assert_untouched()
