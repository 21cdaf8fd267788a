"""reviewbot hook install / uninstall: user hooks kept and chained, round trips byte for byte."""

from __future__ import annotations

import os
import shlex
import stat
import sys
from pathlib import Path

import pytest

from reviewbot.hooks import CHAINED_SUFFIX, hook_script, install, uninstall
from tests.reviewbot.hookenv import (
    HARMLESS,
    commit,
    git_dir_hooks,
    hooks_snapshot,
    reviewbot,
    run,
    send_email,
)
from tests.reviewbot.kernelrepo import KernelRepo, git

USER_HOOK = """#!/bin/sh
# the user's own hook: leaves a trace and fails when asked to
echo "user hook ran: $*" >> "$(git rev-parse --git-dir)/user-hook.log"
cat >> "$(git rev-parse --git-dir)/user-hook.stdin"
exit "${USER_HOOK_STATUS:-0}"
"""


@pytest.fixture
def repo(tmp_path: Path) -> KernelRepo:
    return KernelRepo(tmp_path / "linux")


def write_hook(path: Path, text: str, mode: int = 0o755) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(mode)


def test_install_writes_executable_hooks_and_twice_changes_nothing(repo: KernelRepo) -> None:
    hooks = git_dir_hooks(repo.path)
    before = hooks_snapshot(hooks)
    done = reviewbot(repo.path, "hook", "install")
    assert done.returncode == 0, done.stdout
    assert "sendemail-validate" in done.stdout and "pre-push" in done.stdout
    for name in ("sendemail-validate", "pre-push"):
        mode = (hooks / name).stat().st_mode
        assert mode & stat.S_IXUSR and stat.S_IMODE(mode) == 0o755
    installed = hooks_snapshot(hooks)
    assert set(installed) - set(before) == {"sendemail-validate", "pre-push"}
    again = reviewbot(repo.path, "hook", "install")
    assert again.returncode == 0 and again.stdout.count("already installed") == 2
    assert hooks_snapshot(hooks) == installed
    status = reviewbot(repo.path, "hook", "status")
    assert "sendemail-validate" in status.stdout and ": installed" in status.stdout
    assert reviewbot(repo.path, "hook", "uninstall").returncode == 0
    assert hooks_snapshot(hooks) == before


def test_existing_hooks_are_kept_chained_and_restored_byte_for_byte(
        repo: KernelRepo, tmp_path: Path) -> None:
    hooks = git_dir_hooks(repo.path)
    write_hook(hooks / "sendemail-validate", USER_HOOK, 0o750)
    target = tmp_path / "shared-pre-push"
    write_hook(target, USER_HOOK)
    (hooks / "pre-push").symlink_to(os.path.relpath(target, hooks))
    write_hook(hooks / "commit-msg", "#!/bin/sh\nexit 0\n", 0o644)  # not ours, not touched
    before = hooks_snapshot(hooks)

    done = reviewbot(repo.path, "hook", "install")
    assert done.returncode == 0 and done.stdout.count("the existing hook runs first") == 2
    assert (hooks / f"sendemail-validate{CHAINED_SUFFIX}").read_text() == USER_HOOK
    assert (hooks / f"pre-push{CHAINED_SUFFIX}").is_symlink()
    assert (hooks / f"pre-push{CHAINED_SUFFIX}").read_text() == USER_HOOK  # link still resolves
    chained = hooks_snapshot(hooks)
    assert reviewbot(repo.path, "hook", "install").stdout.count("already installed") == 2
    assert hooks_snapshot(hooks) == chained
    assert "chained" in reviewbot(repo.path, "hook", "status").stdout

    done = reviewbot(repo.path, "hook", "uninstall")
    assert done.returncode == 0 and done.stdout.count("previous hook is back") == 2
    assert hooks_snapshot(hooks) == before


def test_the_chained_user_hook_still_runs_and_its_failure_counts(
        repo: KernelRepo, tmp_path: Path) -> None:
    hooks = git_dir_hooks(repo.path)
    write_hook(hooks / "sendemail-validate", USER_HOOK)
    assert reviewbot(repo.path, "hook", "install").returncode == 0
    commit(repo, HARMLESS, "foofs: log directory touches")
    patches = repo.format_patch("HEAD~1..HEAD", tmp_path / "out")

    sent = send_email(repo.path, *map(str, patches))
    assert sent.returncode == 0, sent.stdout
    log = (repo.path / ".git" / "user-hook.log").read_text()
    assert "user hook ran:" in log and patches[0].name in log

    refused = send_email(repo.path, *map(str, patches), extra_env={"USER_HOOK_STATUS": "3"})
    assert refused.returncode != 0
    assert "rejected by sendemail-validate hook" in refused.stdout
    assert len((repo.path / ".git" / "user-hook.log").read_text().splitlines()) == 2


def test_core_hookspath_is_honoured_and_a_created_directory_goes_again(
        repo: KernelRepo) -> None:
    git(repo.path, "config", "core.hooksPath", "tools/hooks")
    hooks = repo.path / "tools" / "hooks"
    assert git_dir_hooks(repo.path) == hooks
    assert reviewbot(repo.path, "hook", "install").returncode == 0
    assert (hooks / "pre-push").is_file() and (hooks / "sendemail-validate").is_file()
    assert not (repo.path / ".git" / "hooks" / "pre-push").exists()
    assert reviewbot(repo.path, "hook", "uninstall", "--hook", "pre-push").returncode == 0
    assert (hooks / "sendemail-validate").is_file()  # the other hook keeps the directory
    assert reviewbot(repo.path, "hook", "uninstall").returncode == 0
    assert not (repo.path / "tools").exists()


def test_existing_hookspath_directory_and_files_stay(repo: KernelRepo) -> None:
    hooks = repo.path / "shared-hooks"
    write_hook(hooks / "pre-push", USER_HOOK)
    git(repo.path, "config", "core.hooksPath", str(hooks))
    before = hooks_snapshot(hooks)
    assert reviewbot(repo.path, "hook", "install", "--hook", "pre-push").returncode == 0
    assert not (hooks / "sendemail-validate").exists()
    assert reviewbot(repo.path, "hook", "uninstall").returncode == 0
    assert hooks_snapshot(hooks) == before


def test_a_leftover_chained_file_stops_the_install_before_any_change(
        repo: KernelRepo) -> None:
    hooks = git_dir_hooks(repo.path)
    write_hook(hooks / "pre-push", USER_HOOK)
    write_hook(hooks / f"pre-push{CHAINED_SUFFIX}", "#!/bin/sh\nexit 0\n")
    before = hooks_snapshot(hooks)
    done = reviewbot(repo.path, "hook", "install")
    assert done.returncode == 2 and "already exists" in done.stdout
    assert hooks_snapshot(hooks) == before


def test_uninstall_leaves_hooks_that_are_not_ours(repo: KernelRepo) -> None:
    hooks = git_dir_hooks(repo.path)
    write_hook(hooks / "pre-push", USER_HOOK)
    before = hooks_snapshot(hooks)
    done = reviewbot(repo.path, "hook", "uninstall")
    assert done.returncode == 0 and "not reviewbot's; left alone" in done.stdout
    assert "sendemail-validate" in done.stdout and "not installed" in done.stdout
    assert hooks_snapshot(hooks) == before


def test_install_outside_a_repository_is_a_usage_error(tmp_path: Path) -> None:
    done = reviewbot(tmp_path, "hook", "install", "--repo", str(tmp_path))
    assert done.returncode == 2 and "not a git repository" in done.stdout


def test_an_odd_interpreter_path_is_quoted_and_a_missing_one_never_blocks(
        repo: KernelRepo, tmp_path: Path) -> None:
    odd = tmp_path / "it's a $(dir) `with` \"quotes\""
    odd.mkdir()
    python = odd / "python"  # a wrapper: a symlinked venv python would lose its venv
    write_hook(python, f"#!/bin/sh\nexec {shlex.quote(sys.executable)} \"$@\"\n")
    install(repo.path, ["pre-push"], python=str(python))
    hook = git_dir_hooks(repo.path) / "pre-push"
    assert hook.read_text() == hook_script("pre-push", str(python))
    zero = "0" * 40
    line = f"refs/heads/gone {zero} refs/heads/gone {repo.head()}\n"
    done = run(repo.path, str(hook), "origin", "/nowhere", stdin=line)
    assert done.returncode == 0, done.stdout  # a deletion: nothing to review
    assert "No such file" not in done.stdout and "not found" not in done.stdout

    uninstall(repo.path, ["pre-push"])
    install(repo.path, ["pre-push"], python=str(tmp_path / "vanished" / "python"))
    done = run(repo.path, str(hook), "origin", "/nowhere", stdin=line)
    assert done.returncode == 0 and "is gone; pre-push review skipped" in done.stdout
