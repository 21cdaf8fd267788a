"""check --git A..B: commits already in a repository, each against its parent."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.reviewbot.kernelrepo import KernelRepo, git
from tests.reviewbot.test_tree import (
    ALLOC_IN_TXN,
    DROP_ALLOC,
    EARLY_RETURN,
    HARMLESS,
    as_json,
    cli,
    rules_of,
)


@pytest.fixture
def repo(tmp_path: Path) -> KernelRepo:
    """A 6.12 kernel-like tree with the fake foofs."""
    return KernelRepo(tmp_path / "linux")


def commit(repo: KernelRepo, edit: tuple[str, str, str], subject: str) -> str:
    """Apply one edit and commit it."""
    repo.edit(*edit)
    return repo.commit(subject)


def test_each_commit_is_reviewed_against_its_parent(
        repo: KernelRepo, capsys: pytest.CaptureFixture[str]) -> None:
    first = commit(repo, EARLY_RETURN, "foofs: bail out when the insert fails")
    second = commit(repo, HARMLESS, "foofs: log directory touches")
    before = repo.snapshot()
    status, reviews = as_json(capsys, "--git", f"{repo.base}..HEAD", "--repo", str(repo.path))
    assert [r["source"] for r in reviews] == [first[:12], second[:12]]
    assert [r["subject"] for r in reviews] == ["foofs: bail out when the insert fails",
                                               "foofs: log directory touches"]
    assert [r["mode"] for r in reviews] == ["tree", "tree"]
    assert (reviews[0]["kernel_version"], reviews[0]["kernel_version_source"]) == ("6.12", "tree")
    assert rules_of(reviews[0]) == ["MEMALLOC-001"] and rules_of(reviews[1]) == []
    assert reviews[0]["findings"][0]["introduced_by"] == "foofs: bail out when the insert fails"
    assert status == 1
    assert repo.snapshot() == before

    # The same commit as a mail, reviewed from its hunks, has no idea.
    (patch,) = repo.format_patch(f"{repo.base}..{first}", repo.path.parent / "out")
    _, hunk = as_json(capsys, str(patch))
    assert rules_of(hunk[0]) == []


def test_a_range_is_judged_by_its_end_state(
        repo: KernelRepo, capsys: pytest.CaptureFixture[str]) -> None:
    commit(repo, ALLOC_IN_TXN, "foofs: buffer the update")
    commit(repo, DROP_ALLOC, "foofs: no buffer after all")
    status, reviews = as_json(capsys, "--git", f"{repo.base}..", "--repo", str(repo.path))
    assert [r["findings"] for r in reviews] == [[], []]
    assert rules_of(reviews[0], "fixed_later_in_series") == ["NOFS-007"]
    assert status == 0

    # Reviewed alone, the first commit is guilty.
    status, reviews = as_json(capsys, "--git", "HEAD~1", "--repo", str(repo.path))
    assert rules_of(reviews[0]) == ["NOFS-007"]
    assert status == 1


def test_root_commit_and_default_repo(repo: KernelRepo, capsys: pytest.CaptureFixture[str],
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(repo.path / "fs")
    status, reviews = as_json(capsys, "--git", repo.base)
    assert [(f["file"], f["rule"]) for f in reviews[0]["findings"]] == [
        ("fs/foofs/legacy.c", "NOFS-007")]
    assert status == 1


def test_merges_are_left_out_and_branches_judged_alone(
        repo: KernelRepo, capsys: pytest.CaptureFixture[str]) -> None:
    git(repo.path, "checkout", "--quiet", "-b", "side")
    side = commit(repo, ALLOC_IN_TXN, "foofs: buffer the update")
    git(repo.path, "checkout", "--quiet", "main")
    main_commit = commit(repo, HARMLESS, "foofs: log directory touches")
    git(repo.path, "merge", "--quiet", "--no-edit", "side")
    _, reviews = as_json(capsys, "--git", f"{repo.base}..main", "--repo", str(repo.path))
    assert sorted(r["source"] for r in reviews) == sorted([side[:12], main_commit[:12]])
    assert all("not one chain" in " ".join(r["notes"]) for r in reviews)
    by_source = {r["source"]: rules_of(r) for r in reviews}
    assert by_source[side[:12]] == ["NOFS-007"]


@pytest.mark.parametrize("args", [
    ["--git", "HEAD", "some.patch"],
    ["--git=-p", "--repo", "."],
    ["--git", "HEAD...main"],
    ["--git", "nosuch..HEAD"],
    ["--repo", ".", "some.patch"],
    ["--base", "HEAD", "some.patch"],
    ["--git", "HEAD", "--tree", "."],
    [],
])
def test_usage_errors(repo: KernelRepo, capsys: pytest.CaptureFixture[str],
                      monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    monkeypatch.chdir(repo.path)
    before = repo.snapshot()
    status, out, err = cli(capsys, "check", *args)
    assert status == 2
    assert err.startswith("reviewbot: ") and "Traceback" not in err
    assert out == ""
    assert repo.snapshot() == before


def test_empty_range_and_not_a_repository(repo: KernelRepo, tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = cli(capsys, "check", "--git", "HEAD..HEAD", "--repo", str(repo.path))
    assert status == 0 and "no commits in the range" in err
    empty = tmp_path / "empty"
    empty.mkdir()
    status, _, err = cli(capsys, "check", "--git", "HEAD", "--repo", str(empty))
    assert status == 2 and "not a git repository" in err
