"""The sendemail-validate hook under a real git send-email (--dry-run: nothing leaves)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reviewbot.hookenv import (
    ALLOC_IN_TXN,
    DROP_ALLOC,
    EARLY_RETURN,
    HARMLESS,
    WRITEBACK_IN_EVICT,
    commit,
    git_dir_hooks,
    reviewbot,
    run,
    send_email,
)
from tests.reviewbot.kernelrepo import KernelRepo, git


@pytest.fixture
def repo(tmp_path: Path) -> KernelRepo:
    """A kernel-like tree with reviewbot's hooks installed."""
    repo = KernelRepo(tmp_path / "linux")
    done = reviewbot(repo.path, "hook", "install")
    assert done.returncode == 0, done.stdout
    return repo


def test_an_error_level_hazard_is_refused_with_the_findings(
        repo: KernelRepo, tmp_path: Path) -> None:
    commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    patches = repo.format_patch("HEAD~1..HEAD", tmp_path / "out")
    sent = send_email(repo.path, *map(str, patches))
    assert sent.returncode != 0
    assert "rejected by sendemail-validate hook" in sent.stdout
    assert "no patches were sent" in sent.stdout
    assert "fs/foofs/dir.c:42: error: [MEMALLOC-001 save-without-restore-on-path]" in sent.stdout
    assert "foofs_add_entry()" in sent.stdout
    assert "git send-email --no-validate" in sent.stdout
    assert "git config reviewbot.hooks.failOn" in sent.stdout
    assert "Dry-Sent" not in sent.stdout


def test_a_clean_patch_goes_through_quietly(repo: KernelRepo, tmp_path: Path) -> None:
    commit(repo, HARMLESS, "foofs: log directory touches")
    patches = repo.format_patch("HEAD~1..HEAD", tmp_path / "out")
    sent = send_email(repo.path, *map(str, patches))
    assert sent.returncode == 0, sent.stdout
    assert "Dry-Sent [PATCH] foofs: log directory touches" in sent.stdout
    assert "reviewbot" not in sent.stdout


def test_no_validate_sends_anyway(repo: KernelRepo, tmp_path: Path) -> None:
    commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    patches = repo.format_patch("HEAD~1..HEAD", tmp_path / "out")
    sent = send_email(repo.path, "--no-validate", *map(str, patches))
    assert sent.returncode == 0, sent.stdout
    assert "Dry-Sent" in sent.stdout and "MEMALLOC-001" not in sent.stdout


def test_send_email_of_a_revision_range_reviews_each_commit(repo: KernelRepo) -> None:
    commit(repo, HARMLESS, "foofs: log directory touches")
    commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    sent = send_email(repo.path, "HEAD~2")
    assert sent.returncode != 0 and "MEMALLOC-001" in sent.stdout
    assert "--- foofs: bail out when the insert fails" in sent.stdout


def test_warnings_pass_by_default_and_fail_on_tunes_the_policy(
        repo: KernelRepo, tmp_path: Path) -> None:
    commit(repo, WRITEBACK_IN_EVICT, "foofs: write back before eviction")
    patches = [str(p) for p in repo.format_patch("HEAD~1..HEAD", tmp_path / "out")]
    sent = send_email(repo.path, *patches)
    assert sent.returncode == 0, sent.stdout
    assert "warning: [EVICT-002" in sent.stdout and "not blocking" in sent.stdout
    assert "Dry-Sent" in sent.stdout

    refused = send_email(repo.path, *patches, extra_env={"REVIEWBOT_HOOKS_FAIL_ON": "warning"})
    assert refused.returncode != 0 and "hooks.fail_on = warning" in refused.stdout

    git(repo.path, "config", "reviewbot.hooks.failOn", "warning")
    assert send_email(repo.path, *patches).returncode != 0
    git(repo.path, "config", "reviewbot.hooks.enabled", "false")
    quiet = send_email(repo.path, *patches)
    assert quiet.returncode == 0 and "EVICT-002" not in quiet.stdout


def test_without_tree_mode_only_the_hunks_are_reviewed(repo: KernelRepo, tmp_path: Path) -> None:
    """The save is 30 lines above the hunk: only the whole function shows the leak."""
    commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    patches = [str(p) for p in repo.format_patch("HEAD~1..HEAD", tmp_path / "out")]
    sent = send_email(repo.path, *patches, extra_env={"REVIEWBOT_HOOKS_TREE": "false"})
    assert sent.returncode == 0 and "MEMALLOC-001" not in sent.stdout


def test_a_patch_whose_commit_is_gone_is_applied_to_the_tree(
        repo: KernelRepo, tmp_path: Path) -> None:
    """Patch files from elsewhere: applied on HEAD in a temporary worktree, whole files seen."""
    commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    patches = [str(p) for p in repo.format_patch("HEAD~1..HEAD", tmp_path / "out")]
    repo.reset_to(repo.base)
    git(repo.path, "reflog", "expire", "--expire=now", "--all")
    git(repo.path, "gc", "--quiet", "--prune=now")
    before = repo.snapshot()
    sent = send_email(repo.path, *patches)
    assert sent.returncode != 0 and "MEMALLOC-001" in sent.stdout
    assert repo.snapshot() == before


def _hook(repo: KernelRepo, mail: Path, counter: int, total: int, **extra: str
          ) -> tuple[int, str]:
    """Run the installed hook as git does when it sets the file counters."""
    hook = git_dir_hooks(repo.path) / "sendemail-validate"
    done = run(repo.path, "git", "hook", "run", "sendemail-validate", "--", str(mail),
               extra_env={"GIT_SENDEMAIL_FILE_COUNTER": str(counter),
                          "GIT_SENDEMAIL_FILE_TOTAL": str(total), **extra})
    assert hook.exists()
    return done.returncode, done.stdout


def test_with_file_counters_the_series_is_judged_as_a_whole(
        repo: KernelRepo, tmp_path: Path) -> None:
    """Patch 2 adds GFP_KERNEL under sb_start_intwrite (a warning), patch 3 removes it."""
    for edit, subject in ((HARMLESS, "foofs: log"), (ALLOC_IN_TXN, "foofs: allocate"),
                          (DROP_ALLOC, "foofs: do not allocate")):
        commit(repo, edit, subject)
    files = repo.format_patch("HEAD~3..HEAD", tmp_path / "out", "--cover-letter")
    assert len(files) == 4
    strict = {"REVIEWBOT_HOOKS_FAIL_ON": "warning"}
    results = [_hook(repo, f, i, len(files), **strict) for i, f in enumerate(files, start=1)]
    assert results == [(0, "")] * 4
    assert not list((repo.path / ".git").glob("reviewbot-sendemail*"))

    # Each file alone (no counters, as git 2.39 calls the hook): patch 2 is refused.
    alone = run(repo.path, "git", "hook", "run", "sendemail-validate", "--", str(files[2]),
                extra_env=strict)
    assert alone.returncode == 1 and "NOFS-007" in alone.stdout


def test_with_file_counters_a_hazard_is_reported_on_the_last_call(
        repo: KernelRepo, tmp_path: Path) -> None:
    commit(repo, HARMLESS, "foofs: log")
    commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    files = repo.format_patch("HEAD~2..HEAD", tmp_path / "out")
    first = _hook(repo, files[0], 1, 2)
    assert first == (0, "")
    status, out = _hook(repo, files[1], 2, 2)
    assert status == 1 and "MEMALLOC-001" in out
    assert "--- foofs: bail out when the insert fails" in out


def test_a_broken_setting_is_reported_and_does_not_hold_the_mail(
        repo: KernelRepo, tmp_path: Path) -> None:
    commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    patches = [str(p) for p in repo.format_patch("HEAD~1..HEAD", tmp_path / "out")]
    git(repo.path, "config", "reviewbot.hooks.failOn", "fatal")
    sent = send_email(repo.path, *patches)
    assert sent.returncode == 0, sent.stdout
    assert "sendemail-validate hook could not review: git config reviewbot.hooks.failon" in \
        sent.stdout
    assert "(not blocking)" in sent.stdout and "Dry-Sent" in sent.stdout
