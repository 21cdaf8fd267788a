"""check --tree: a series applied in a temporary worktree of a real git repository.

Every test builds a small kernel-like repository with real git, turns commits
into format-patch mails, resets the repository to the base and reviews the
mails against it.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reviewbot.cli import main
from reviewbot.ingest import read_paths
from reviewbot.pipeline import Options
from reviewbot.treereview import review_in_tree
from tests.reviewbot.kernelrepo import BASE_FILES, KernelRepo, git

EARLY_RETURN = ("fs/foofs/dir.c", "\terr = foofs_insert(dir, name);\n",
                "\terr = foofs_insert(dir, name);\n\tif (err)\n\t\treturn err;\n")
ALLOC_IN_TXN = ("fs/foofs/inode.c", "\tfoofs_commit(inode, buf);\n",
                "\tbuf = kmalloc(64, GFP_KERNEL);\n\tfoofs_commit(inode, buf);\n")
WRITEBACK_IN_EVICT = ("fs/foofs/super.c", "\ttruncate_inode_pages_final(&inode->i_data);\n",
                      "\tfilemap_write_and_wait(inode->i_mapping);\n"
                      "\ttruncate_inode_pages_final(&inode->i_data);\n")
VMALLOC_GFP_VAR = ("fs/foofs/table.c", "\tsbi->table = NULL;\n",
                   "\tsbi->table = __vmalloc(size, gfp);\n")
VMALLOC_NOFS = ("fs/foofs/table.c", "\tsbi->table = NULL;\n",
                "\tsbi->table = __vmalloc(size, GFP_NOFS);\n")


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    """Run reviewbot in-process: (status, stdout, stderr)."""
    status = main(list(args))
    out, err = capsys.readouterr()
    return status, out, err


def as_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[dict[str, Any]]]:
    """Run reviewbot with JSON output: (status, reviews)."""
    status, out, _ = cli(capsys, "check", "--format", "json", "--min-severity", "advice", *args)
    return status, json.loads(out)["reviews"]


def rules_of(review: dict[str, Any], key: str = "findings") -> list[str]:
    """Rule ids in one list of a review."""
    return [f["rule"] for f in review[key]]


def series(repo: KernelRepo, tmp_path: Path, edits: list[tuple[str, str, str]],
           name: str = "series.mbox", *extra: str) -> Path:
    """Commit one patch per edit on top of the base, write the mbox, reset to the base."""
    start = repo.head()
    for i, (path, old, new) in enumerate(edits, start=1):
        repo.edit(path, old, new)
        repo.commit(f"foofs: change {i} in {Path(path).name}")
    mbox = repo.mbox(f"{start}..HEAD", tmp_path / name, *extra)
    repo.reset_to(start)
    return mbox


@pytest.fixture
def repo(tmp_path: Path) -> KernelRepo:
    """A 6.12 kernel-like tree with the fake foofs."""
    return KernelRepo(tmp_path / "linux")


# -- the four families: only full context reveals these --------------------------


@pytest.mark.parametrize(("edit", "rule", "severity"), [
    (EARLY_RETURN, "MEMALLOC-001", "error"),
    (ALLOC_IN_TXN, "NOFS-007", "warning"),
    (WRITEBACK_IN_EVICT, "EVICT-002", "warning"),
], ids=["memalloc-save-far-above", "nofs-txn-far-above", "evict-ops-table-far-away"])
def test_full_context_hazard_needs_the_tree(repo: KernelRepo, tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str],
                                            edit: tuple[str, str, str], rule: str,
                                            severity: str) -> None:
    mbox = series(repo, tmp_path, [edit])
    status, hunk = as_json(capsys, str(mbox))
    assert hunk[0]["mode"] == "hunk"
    assert rule not in rules_of(hunk[0])
    assert status == 0

    status, tree = as_json(capsys, "--tree", str(repo.path), str(mbox))
    assert tree[0]["mode"] == "tree"
    found = [f for f in tree[0]["findings"] if f["rule"] == rule]
    assert len(found) == 1 and found[0]["severity"] == severity
    assert found[0]["file"] == edit[0]
    assert found[0]["added"] is True
    assert status == 1


def test_vmalloc_gfp_from_far_above_on_an_old_tree(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    repo = KernelRepo(tmp_path / "linux", version="5.10")
    mbox = series(repo, tmp_path, [VMALLOC_GFP_VAR])
    _, hunk = as_json(capsys, str(mbox))
    assert "VMALLOC-001" not in rules_of(hunk[0])

    status, tree = as_json(capsys, "--tree", str(repo.path), str(mbox))
    found = [f for f in tree[0]["findings"] if f["rule"] == "VMALLOC-001"]
    assert [f["severity"] for f in found] == ["error"]
    assert "5.10" in found[0]["message"] or "5.17" in found[0]["message"]
    assert (tree[0]["kernel_version"], tree[0]["kernel_version_source"]) == ("5.10", "tree")
    assert status == 1


def test_target_kernel_comes_from_the_tree_makefile(tmp_path: Path,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    old = KernelRepo(tmp_path / "old", version="5.10")
    mbox = series(old, tmp_path, [VMALLOC_NOFS])
    new = KernelRepo(tmp_path / "new", version="6.12")

    _, on_old = as_json(capsys, "--tree", str(old.path), str(mbox))
    _, on_new = as_json(capsys, "--tree", str(new.path), str(mbox))
    _, forced = as_json(capsys, "--tree", str(old.path), "--kernel-version", "6.12", str(mbox))

    def vmalloc(reviews: list[dict[str, Any]]) -> str:
        (hit,) = [f for f in reviews[0]["findings"] if f["rule"] == "VMALLOC-001"]
        return str(hit["severity"])

    assert vmalloc(on_old) == "error"
    assert on_old[0]["kernel_version"] == "5.10"
    assert vmalloc(on_new) != "error"
    assert on_new[0]["kernel_version"] == "6.12"
    assert vmalloc(forced) != "error"
    assert forced[0]["kernel_version_source"] == "flag"


# -- differential reporting -------------------------------------------------------


def test_preexisting_hazard_in_a_touched_file_is_not_blamed(
        repo: KernelRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mbox = series(repo, tmp_path, [("fs/foofs/legacy.c", "\tfoofs_count(inode);\n",
                                    "\tfoofs_count(inode);\n\tfoofs_count(inode->i_sb);\n")])
    status, reviews = as_json(capsys, "--tree", str(repo.path), str(mbox))
    assert reviews[0]["findings"] == []
    pre = reviews[0]["preexisting"]
    assert [(f["rule"], f["function"], f["preexisting"]) for f in pre] == [
        ("NOFS-007", "foofs_legacy", True)]
    assert status == 0

    status, text, _ = cli(capsys, "check", "--tree", str(repo.path), str(mbox))
    assert "NOFS-007" not in text and "foofs_legacy" not in text
    assert status == 0


# -- series end state ---------------------------------------------------------------

MOVE_ALLOC_OUT = ("fs/foofs/inode.c",
                  "\tsb_start_intwrite(inode->i_sb);\n", "\tbuf = kmalloc(64, GFP_KERNEL);\n"
                  "\tsb_start_intwrite(inode->i_sb);\n")
DROP_ALLOC = ("fs/foofs/inode.c", "\tbuf = kmalloc(64, GFP_KERNEL);\n", "")
HARMLESS = ("fs/foofs/dir.c", "\tfoofs_touch(dir);\n", "\tfoofs_touch(dir);\n\tfoofs_log(dir);\n")


def test_hazard_fixed_later_in_the_series_is_not_reported(
        repo: KernelRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mbox = series(repo, tmp_path, [HARMLESS, ALLOC_IN_TXN, DROP_ALLOC])
    status, reviews = as_json(capsys, "--tree", str(repo.path), str(mbox))
    assert [r["mode"] for r in reviews] == ["tree"] * 3
    assert [r["findings"] for r in reviews] == [[], [], []]
    fixed = reviews[1]["fixed_later_in_series"]
    assert [(f["rule"], f["fixed_later_in_series"]) for f in fixed] == [("NOFS-007", True)]
    assert fixed[0]["introduced_by"] == reviews[1]["message_id"]
    assert status == 0

    status, text, _ = cli(capsys, "check", "--tree", str(repo.path), str(mbox))
    assert "NOFS-007" not in text
    assert status == 0


def test_hazard_introduced_by_the_last_patch_is_reported_against_it(
        repo: KernelRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mbox = series(repo, tmp_path, [HARMLESS, VMALLOC_GFP_VAR, ALLOC_IN_TXN])
    status, reviews = as_json(capsys, "--tree", str(repo.path), str(mbox))
    assert rules_of(reviews[0]) == [] and "NOFS-007" not in rules_of(reviews[1])
    (hit,) = [f for f in reviews[2]["findings"] if f["rule"] == "NOFS-007"]
    assert hit["introduced_by"] == reviews[2]["message_id"]
    assert reviews[2]["subject"].startswith("[PATCH 3/3]")
    assert all(not r["fixed_later_in_series"] for r in reviews)
    assert status == 1


def test_hazard_moved_out_of_the_transaction_later_is_dropped(
        repo: KernelRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    second = ("fs/foofs/inode.c", "\tbuf = kmalloc(64, GFP_KERNEL);\n\tfoofs_commit",
              "\tfoofs_commit")
    mbox = series(repo, tmp_path, [ALLOC_IN_TXN, MOVE_ALLOC_OUT, second])
    status, reviews = as_json(capsys, "--tree", str(repo.path), str(mbox))
    assert [r["findings"] for r in reviews] == [[], [], []]
    assert rules_of(reviews[0], "fixed_later_in_series") == ["NOFS-007"]
    assert status == 0


# -- a series that does not apply ---------------------------------------------------


def test_series_that_does_not_apply_falls_back_to_hunks(
        repo: KernelRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mbox = series(repo, tmp_path, [VMALLOC_NOFS, EARLY_RETURN])
    # The tree moved on: the line patch 1 changes is gone.
    repo.edit("fs/foofs/table.c", "\tsbi->table = NULL;\n", "\tsbi->table = foofs_table(sbi);\n")
    repo.commit("foofs: build the table elsewhere")
    before = repo.snapshot()

    plain_status, plain = as_json(capsys, str(mbox))
    status, reviews = as_json(capsys, "--tree", str(repo.path), str(mbox))
    assert [r["mode"] for r in reviews] == ["hunk", "hunk"]
    assert all(r["apply_error"] and "patch 1/2" in r["apply_error"] for r in reviews)
    assert "does not apply" in reviews[0]["apply_error"]
    assert [rules_of(r) for r in reviews] == [rules_of(r) for r in plain]
    assert reviews[0]["kernel_version_source"] == "tree"
    assert status == plain_status

    status, text, _ = cli(capsys, "check", "--tree", str(repo.path), str(mbox))
    assert text.count("series did not apply") == 1
    assert "reviewed hunks only" in text
    assert status == plain_status
    assert repo.snapshot() == before


# -- the user's repository stays exactly as it was ------------------------------------


def test_user_checkout_is_byte_for_byte_unchanged(
        repo: KernelRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mbox = series(repo, tmp_path, [HARMLESS, ALLOC_IN_TXN])
    # A busy checkout: a branch, a stash-worthy edit, a staged file, an untracked file,
    # another worktree and a stale one whose directory is gone.
    git(repo.path, "branch", "topic")
    git(repo.path, "worktree", "add", "--quiet", str(tmp_path / "other"), "topic")
    git(repo.path, "worktree", "add", "--quiet", "--detach", str(tmp_path / "stale"))
    git(repo.path, "worktree", "lock", str(tmp_path / "other"))
    import shutil
    shutil.rmtree(tmp_path / "stale")
    repo.edit("fs/foofs/dir.c", "\tint err;\n", "\tint err = 0;\n")
    repo.write("fs/foofs/new.c", "int x;\n")
    git(repo.path, "add", "fs/foofs/new.c")
    repo.write("notes.txt", "untracked\n")
    before = repo.snapshot()
    assert "prunable" in str(before["worktrees"])

    status, reviews = as_json(capsys, "--tree", str(repo.path), str(mbox))
    assert [r["mode"] for r in reviews] == ["tree", "tree"]
    assert status == 1
    assert repo.snapshot() == before


def test_bad_base_is_a_usage_error_and_changes_nothing(
        repo: KernelRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mbox = series(repo, tmp_path, [HARMLESS])
    before = repo.snapshot()
    for bad in (f"--output={tmp_path / 'x'}", "-h", "no-such-branch", "HEAD..main", "a b"):
        status, _, err = cli(capsys, "check", "--tree", str(repo.path), f"--base={bad}", str(mbox))
        assert status == 2, bad
        assert err.startswith("reviewbot: ") and "Traceback" not in err
    status, _, err = cli(capsys, "check", "--tree", str(tmp_path / "nowhere"), str(mbox))
    assert status == 2 and "not a git repository" in err
    assert repo.snapshot() == before
    assert not (tmp_path / "x").exists()


def test_interrupt_while_reviewing_removes_the_worktree(repo: KernelRepo, tmp_path: Path) -> None:
    mbox = series(repo, tmp_path, [HARMLESS, ALLOC_IN_TXN])
    before = repo.snapshot()
    seen: list[str] = []

    def interrupt(done: int, total: int, label: str) -> None:
        seen.append(git(repo.path, "worktree", "list", "--porcelain"))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        review_in_tree(read_paths([str(mbox)]), Options(progress=interrupt), repo.path)
    assert seen and seen[0].count("worktree ") == 2  # it existed while we reviewed
    assert repo.snapshot() == before


# -- choosing the base ------------------------------------------------------------------


def test_base_commit_trailer_then_base_option_then_head(
        repo: KernelRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    base = repo.head()
    with_trailer = series(repo, tmp_path, [VMALLOC_NOFS], "trailer.mbox", "--base", base)
    without = series(repo, tmp_path, [VMALLOC_NOFS], "plain.mbox")
    # HEAD moves on and conflicts with the series.
    repo.edit("fs/foofs/table.c", "\tsbi->table = NULL;\n", "\tsbi->table = foofs_table(sbi);\n")
    repo.commit("foofs: build the table elsewhere")

    _, reviews = as_json(capsys, "--tree", str(repo.path), str(with_trailer))
    assert reviews[0]["mode"] == "tree"
    _, reviews = as_json(capsys, "--tree", str(repo.path), str(without))
    assert reviews[0]["mode"] == "hunk" and reviews[0]["apply_error"]
    _, reviews = as_json(capsys, "--tree", str(repo.path), "--base", base, str(without))
    assert reviews[0]["mode"] == "tree"
    _, reviews = as_json(capsys, "--tree", str(repo.path), "--base", "HEAD", str(with_trailer))
    assert reviews[0]["mode"] == "hunk"


def test_unknown_base_commit_trailer_applies_on_head(
        repo: KernelRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    mbox = series(repo, tmp_path, [HARMLESS])
    text = mbox.read_text().replace("\n-- \n", "\nbase-commit: " + "ab" * 20 + "\n-- \n", 1)
    mbox.write_text(text)
    _, reviews = as_json(capsys, "--tree", str(repo.path), str(mbox))
    assert reviews[0]["mode"] == "tree"
    assert any("not in the tree" in n for n in reviews[0]["notes"])


def test_bare_diff_is_applied_with_git_apply(
        repo: KernelRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path, old, new = EARLY_RETURN
    repo.edit(path, old, new)
    diff = tmp_path / "change.diff"
    diff.write_text(git(repo.path, "diff"))
    git(repo.path, "checkout", "--quiet", "--", path)
    status, reviews = as_json(capsys, "--tree", str(repo.path), str(diff))
    assert reviews[0]["mode"] == "tree"
    assert rules_of(reviews[0]) == ["MEMALLOC-001"]
    assert status == 1


def test_several_series_share_one_worktree(
        repo: KernelRepo, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first = series(repo, tmp_path, [EARLY_RETURN], "a.mbox")
    second = series(repo, tmp_path, [ALLOC_IN_TXN], "b.mbox")
    # Different threads, so two series; the second must not see the first applied.
    text = second.read_text().replace("Message-ID: <", "Message-ID: <b-")
    second.write_text(text)
    status, reviews = as_json(capsys, "--tree", str(repo.path), str(first), str(second))
    assert sorted(rules_of(r)[0] for r in reviews) == ["MEMALLOC-001", "NOFS-007"]
    assert all(r["mode"] == "tree" for r in reviews)
    assert status == 1


def test_base_files_are_clean_on_their_own(tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    """The fixtures' base tree has exactly one hazard: the legacy one."""
    tree = tmp_path / "t"
    for name, text in BASE_FILES.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_text(text)
    _, out, _ = cli(capsys, "scan", "--format", "json", "--root", str(tree), str(tree / "fs"))
    found = [(f["file"], f["rule"]) for r in json.loads(out)["reviews"] for f in r["findings"]]
    assert found == [("fs/foofs/legacy.c", "NOFS-007")]


# -- context that only the whole file shows: helpers of callbacks and callers ------------

HELPER_FILES = {
    "fs/foofs/evict.c": (
        "// SPDX-License-Identifier: GPL-2.0\n#include <linux/fs.h>\n\n"
        "static void foofs_release_blocks(struct inode *inode)\n{\n"
        "\tfoofs_free_extents(inode);\n}\n\n"
        + "".join(f"static int foofs_pad{i}(int x)\n{{\n\treturn x + {i};\n}}\n\n"
                  for i in range(10))
        + "static void foofs_evict_inode(struct inode *inode)\n{\n"
          "\ttruncate_inode_pages_final(&inode->i_data);\n"
          "\tfoofs_release_blocks(inode);\n\tclear_inode(inode);\n}\n"),
    "fs/foofs/alloc.c": (
        "// SPDX-License-Identifier: GPL-2.0\n#include <linux/fs.h>\n\n"
        "static int foofs_grow_table(struct inode *inode)\n{\n"
        "\tfoofs_mark(inode);\n\treturn 0;\n}\n\n"
        + "".join(f"static int foofs_pad{i}(int x)\n{{\n\treturn x + {i};\n}}\n\n"
                  for i in range(10))
        + "int foofs_resize(struct inode *inode)\n{\n\tint err;\n\n"
          "\tsb_start_intwrite(inode->i_sb);\n\terr = foofs_grow_table(inode);\n"
          "\tsb_end_intwrite(inode->i_sb);\n\treturn err;\n}\n"),
}


def test_blocking_work_in_a_helper_of_evict_inode(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    repo = KernelRepo(tmp_path / "linux", files={**BASE_FILES, **HELPER_FILES})
    mbox = series(repo, tmp_path, [("fs/foofs/evict.c", "\tfoofs_free_extents(inode);\n",
                                    "\tfilemap_write_and_wait(inode->i_mapping);\n"
                                    "\tfoofs_free_extents(inode);\n")])
    _, hunk = as_json(capsys, str(mbox))
    assert "EVICT-002" not in rules_of(hunk[0])
    status, tree = as_json(capsys, "--tree", str(repo.path), str(mbox))
    [found] = [f for f in tree[0]["findings"] if f["rule"] == "EVICT-002"]
    assert found["function"] == "foofs_release_blocks"
    assert "is called from foofs_evict_inode() (->evict_inode)" in found["message"]
    assert status == 1


def test_allocation_in_a_helper_every_caller_calls_under_sb_internal(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    repo = KernelRepo(tmp_path / "linux", files={**BASE_FILES, **HELPER_FILES})
    mbox = series(repo, tmp_path, [("fs/foofs/alloc.c", "\tfoofs_mark(inode);\n",
                                    "\tinode->i_private = kzalloc(64, GFP_KERNEL);\n"
                                    "\tfoofs_mark(inode);\n")])
    _, hunk = as_json(capsys, str(mbox))
    assert "NOFS-007" not in rules_of(hunk[0])
    status, tree = as_json(capsys, "--tree", str(repo.path), str(mbox))
    [found] = [f for f in tree[0]["findings"] if f["rule"] == "NOFS-007"]
    assert found["function"] == "foofs_grow_table"
    assert "held by foofs_resize() around every call" in found["message"]
    assert status == 1
