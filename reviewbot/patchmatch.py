"""Find the commits a series of patch mails was made from, by ``git patch-id``.

A patch mail written by ``git format-patch`` names its commit on the
``From <sha>`` line; that commit is used when it exists and has the same
patch id as the mail (the file may have been edited since). Otherwise the
newest commits on HEAD that no remote-tracking branch has are searched.
"""

from __future__ import annotations

from collections.abc import Sequence

from reviewbot.gitcmd import run_git
from reviewbot.gitsource import CommitInfo, GitError, GitSource
from reviewbot.ingest import PatchMail

SEARCH_DEPTH = 64


def patch_ids(text: str) -> dict[str, str]:
    """patch id -> commit id (all zeros when the input names none) of ``git patch-id --stable``."""
    try:
        done = run_git(["patch-id", "--stable"],
                       input_bytes=text.encode("utf-8", "surrogateescape"))
    except FileNotFoundError:
        return {}
    out: dict[str, str] = {}
    for line in done.stdout.decode("ascii", "replace").splitlines():
        parts = line.split()
        if len(parts) == 2:
            out.setdefault(parts[0], parts[1])
    return out


def _mail_patch_id(patch: PatchMail) -> str | None:
    ids = patch_ids(patch.diff)
    return next(iter(ids), None) if len(ids) == 1 else None


def _commit_ids(source: GitSource, revs: Sequence[str]) -> dict[str, str]:
    """patch id -> commit for ``revs`` (a ``git log`` argument list)."""
    try:
        log = source.run("log", "-p", "--no-merges", "--pretty=format:commit %H", *revs)
    except GitError:
        return {}
    return patch_ids(log)


def match_commits(source: GitSource, patches: Sequence[PatchMail]) -> list[CommitInfo] | None:
    """The commit of every patch, in order; None when any patch has none."""
    wanted: list[str] = []
    for patch in patches:
        pid = _mail_patch_id(patch)
        if pid is None:
            return None
        wanted.append(pid)
    named = [p.commit for p in patches if p.commit and source.has_commit(p.commit)]
    found = _commit_ids(source, ["--no-walk=unsorted", *named, "--"]) if named else {}
    if not all(pid in found for pid in wanted):
        searched = _commit_ids(source, [f"--max-count={SEARCH_DEPTH}", "HEAD", "--not",
                                        "--remotes", "--"])
        found = {**searched, **found}
    if not all(pid in found for pid in wanted):
        return None
    return [source.commit_info(found[pid]) for pid in wanted]
