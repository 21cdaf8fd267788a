"""The pre-push hook, pushing to a real bare repository on disk."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reviewbot.hookenv import (
    ALLOC_IN_TXN,
    DROP_ALLOC,
    EARLY_RETURN,
    HARMLESS,
    commit,
    git_dir_hooks,
    reviewbot,
    run,
)
from tests.reviewbot.kernelrepo import KernelRepo, git


@pytest.fixture
def repo(tmp_path: Path) -> KernelRepo:
    """A kernel-like tree whose main is already on a bare "origin"; hooks installed after."""
    repo = KernelRepo(tmp_path / "linux")
    bare = tmp_path / "origin.git"
    git(tmp_path, "init", "--quiet", "--bare", str(bare))
    git(repo.path, "remote", "add", "origin", str(bare))
    git(repo.path, "push", "--quiet", "origin", "main")
    done = reviewbot(repo.path, "hook", "install", "--hook", "pre-push")
    assert done.returncode == 0, done.stdout
    return repo


def remote_head(repo: KernelRepo, ref: str) -> str:
    out = git(repo.path, "ls-remote", "origin", ref).split()
    return out[0] if out else ""


def push(repo: KernelRepo, *args: str, extra_env: dict[str, str] | None = None
         ) -> tuple[int, str]:
    done = run(repo.path, "git", "push", "origin", *args, extra_env=extra_env)
    return done.returncode, done.stdout


def test_a_hazard_is_refused_and_the_remote_stays(repo: KernelRepo) -> None:
    before = remote_head(repo, "refs/heads/main")
    commit(repo, HARMLESS, "foofs: log directory touches")
    commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    status, out = push(repo, "main")
    assert status != 0
    assert "fs/foofs/dir.c:42: error: [MEMALLOC-001" in out
    assert "--- foofs: bail out when the insert fails" in out
    assert "git push --no-verify" in out and "failed to push" in out
    assert remote_head(repo, "refs/heads/main") == before

    status, out = push(repo, "--no-verify", "main")
    assert status == 0 and remote_head(repo, "refs/heads/main") == repo.head()


def test_a_clean_push_is_accepted_quietly(repo: KernelRepo) -> None:
    commit(repo, HARMLESS, "foofs: log directory touches")
    status, out = push(repo, "main")
    assert status == 0, out
    assert "reviewbot" not in out
    assert remote_head(repo, "refs/heads/main") == repo.head()


def test_a_new_branch_reviews_only_what_no_remote_branch_has(repo: KernelRepo) -> None:
    git(repo.path, "checkout", "--quiet", "-b", "topic")
    commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    status, out = push(repo, "topic")
    assert status != 0 and "MEMALLOC-001" in out
    assert remote_head(repo, "refs/heads/topic") == ""

    git(repo.path, "checkout", "--quiet", "-b", "clean", "main")
    commit(repo, HARMLESS, "foofs: log directory touches")
    status, out = push(repo, "clean")
    assert status == 0, out
    assert "root commit" not in out  # main's history is on origin already: not reviewed


def test_a_hazard_fixed_later_in_the_same_push_is_not_refused(repo: KernelRepo) -> None:
    commit(repo, ALLOC_IN_TXN, "foofs: allocate")
    commit(repo, DROP_ALLOC, "foofs: do not allocate")
    strict = {"REVIEWBOT_HOOKS_FAIL_ON": "warning"}
    status, out = push(repo, "main", extra_env=strict)
    assert status == 0, out
    git(repo.path, "reset", "--quiet", "--hard", "HEAD~1")
    status, out = push(repo, "--force", "main", extra_env=strict)
    assert status == 0, out  # HEAD~1 is on origin already: nothing new


def test_deleting_a_branch_is_not_reviewed(repo: KernelRepo) -> None:
    git(repo.path, "checkout", "--quiet", "-b", "topic")
    commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    assert push(repo, "--no-verify", "topic")[0] == 0
    status, out = push(repo, "--delete", "topic")
    assert status == 0, out
    assert remote_head(repo, "refs/heads/topic") == ""


def test_a_first_push_skips_the_root_commit_and_caps_the_count(tmp_path: Path) -> None:
    """No remote-tracking branch at all: the newest max_commits, never the root."""
    solo = KernelRepo(tmp_path / "solo")
    assert reviewbot(solo.path, "hook", "install").returncode == 0
    empty = tmp_path / "empty.git"
    git(tmp_path, "init", "--quiet", "--bare", str(empty))
    done = run(solo.path, "git", "push", str(empty), "main")
    assert done.returncode == 0, done.stdout
    assert f"root commit {solo.base[:12]} not reviewed" in done.stdout
    for i in range(3):
        solo.write(f"fs/foofs/note{i}.c", f"int foofs_note{i};\n")
        solo.commit(f"foofs: note {i}")
    done = run(solo.path, "git", "push", str(empty), "main:other",
               extra_env={"REVIEWBOT_HOOKS_MAX_COMMITS": "2"})
    assert done.returncode == 0, done.stdout
    assert "more than 2 new commits; reviewed the newest 2" in done.stdout


def test_a_chained_user_pre_push_hook_gets_the_same_input(repo: KernelRepo) -> None:
    assert reviewbot(repo.path, "hook", "uninstall").returncode == 0
    hooks = git_dir_hooks(repo.path)
    user = hooks / "pre-push"
    user.write_text('#!/bin/sh\ncat > "$(git rev-parse --git-dir)/user-pre-push.in"\n'
                    'echo "user pre-push: $1"\nexit "${USER_HOOK_STATUS:-0}"\n')
    user.chmod(0o755)
    assert reviewbot(repo.path, "hook", "install", "--hook", "pre-push").returncode == 0
    commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    status, out = push(repo, "main")
    assert status != 0 and "user pre-push: origin" in out and "MEMALLOC-001" in out
    seen = (repo.path / ".git" / "user-pre-push.in").read_text()
    assert seen.startswith(f"refs/heads/main {repo.head()} refs/heads/main ")

    git(repo.path, "reset", "--quiet", "--hard", "HEAD~1")
    commit(repo, HARMLESS, "foofs: log directory touches")
    status, out = push(repo, "main", extra_env={"USER_HOOK_STATUS": "1"})
    assert status != 0 and "user pre-push: origin" in out  # the user's verdict still counts
    assert push(repo, "main")[0] == 0
