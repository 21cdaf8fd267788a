"""Read-only access to a git repository: revisions, commits, diffs and file texts.

Every command goes through GitPython as an argument list (never a shell);
revisions given by a user are checked and resolved to object ids before
they reach any other git command. Nothing here writes to the repository.
"""

from __future__ import annotations

import datetime
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import git
from git.exc import GitCommandError, InvalidGitRepositoryError, NoSuchPathError

from heuristics.inputs import FileChange, with_texts
from reviewbot.diffs import DiffError, parse_diff
from reviewbot.ingest import PatchMail

# Options that keep a user's configuration from changing what git prints.
_DIFF_ARGS = ("-p", "-M", "--no-color", "--no-ext-diff", "--no-textconv",
              "--src-prefix=a/", "--dst-prefix=b/")
_QUIET_CONFIG = ("-c", "core.quotePath=false", "-c", "color.ui=false")
_REV_RE = re.compile(r"^[A-Za-z0-9_./@{}~^:+-]+$")
_VERSION_RE = re.compile(r"^VERSION\s*=\s*(\d+)\s*$", re.MULTILINE)
_PATCHLEVEL_RE = re.compile(r"^PATCHLEVEL\s*=\s*(\d+)\s*$", re.MULTILINE)


class GitError(Exception):
    """A repository or revision could not be used (a usage error for the caller)."""


def check_rev(rev: str) -> str:
    """Reject revisions that could be taken for options or carry odd characters."""
    if not rev or rev.startswith("-") or not _REV_RE.match(rev) or ".." in rev:
        raise GitError(f"not a usable revision: {rev!r}")
    return rev


def makefile_version(text: str) -> str | None:
    """"X.Y" from a kernel top-level Makefile's VERSION and PATCHLEVEL."""
    major = _VERSION_RE.search(text)
    minor = _PATCHLEVEL_RE.search(text)
    if major is None or minor is None:
        return None
    return f"{major.group(1)}.{minor.group(1)}"


@dataclass(frozen=True, slots=True)
class CommitInfo:
    """One commit to review: its id, first parent and metadata."""

    sha: str
    parent: str | None
    subject: str
    message: str
    author: tuple[str, str]
    date: datetime.datetime


class GitSource:
    """A repository read through GitPython.

    Commands run with GIT_DIR (and GIT_WORK_TREE) pinned to this repository,
    so that variables inherited from a git hook (GIT_DIR, GIT_WORK_TREE,
    GIT_INDEX_FILE, ...) cannot point them at another one; ``env`` adds or
    overrides variables.
    """

    def __init__(self, path: Path, env: Mapping[str, str] | None = None) -> None:
        try:
            self.repo = git.Repo(path, search_parent_directories=True)
        except (InvalidGitRepositoryError, NoSuchPathError) as exc:
            raise GitError(f"{path}: not a git repository") from exc
        pinned = {"GIT_DIR": str(Path(self.repo.git_dir).resolve())}
        if self.repo.working_tree_dir is not None:
            pinned["GIT_WORK_TREE"] = str(Path(self.repo.working_tree_dir).resolve())
        pinned.update(env or {})
        self.repo.git.update_environment(**pinned)

    def close(self) -> None:
        """Stop GitPython's persistent helper processes."""
        self.repo.close()

    def __enter__(self) -> GitSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- commands ------------------------------------------------------------

    def run(self, *args: str) -> str:
        """Run one git command with quiet output settings; raise GitError on failure."""
        try:
            out = self.repo.git.execute(["git", *_QUIET_CONFIG, *args],
                                        strip_newline_in_stdout=False)
        except GitCommandError as exc:
            raise GitError(_git_message(exc)) from exc
        return str(out)

    def resolve(self, rev: str) -> str:
        """The commit id ``rev`` names; GitError if it names no commit."""
        check_rev(rev)
        try:
            out = self.repo.git.execute(
                ["git", "rev-parse", "--verify", "--quiet", "--end-of-options",
                 f"{rev}^{{commit}}"])
        except GitCommandError as exc:
            raise GitError(f"unknown revision {rev!r}") from exc
        return str(out).strip()

    def has_commit(self, rev: str) -> bool:
        """Whether ``rev`` names a commit in this repository."""
        try:
            self.resolve(rev)
        except GitError:
            return False
        return True

    def blob_text(self, rev: str, path: str) -> str | None:
        """The text of ``path`` at ``rev`` (None when it does not exist there)."""
        try:
            _, kind, _, data = self.repo.git.get_object_data(f"{rev}:{path}")
        except ValueError:
            return None
        if kind not in (b"blob", "blob"):
            return None
        return bytes(data).decode("utf-8", errors="replace")

    def tree_version(self, rev: str) -> str | None:
        """The kernel version the top Makefile at ``rev`` declares."""
        text = self.blob_text(rev, "Makefile")
        return makefile_version(text) if text is not None else None

    def empty_tree(self) -> str:
        """The id of the empty tree in this repository's hash (git knows it without storing it)."""
        return self.run("hash-object", "-t", "tree", os.devnull).strip()

    # -- commits and changes -------------------------------------------------

    def commits(self, rev_range: str) -> list[CommitInfo]:
        """Commits of ``A..B`` (or the single commit ``REV``), oldest first, merges left out."""
        if "..." in rev_range:
            raise GitError(f"symmetric ranges are not supported: {rev_range!r}")
        if ".." in rev_range:
            left, right = rev_range.split("..", 1)
            tip = self.resolve(right or "HEAD")
            start = self.resolve(left or "HEAD")
            shas = self.run("rev-list", "--reverse", "--topo-order", "--no-merges",
                            tip, f"^{start}", "--").split()
        else:
            shas = [self.resolve(rev_range)]
        return [self.commit_info(sha) for sha in shas]

    def new_commits(self, tip: str, exclude: str | None, limit: int
                    ) -> tuple[list[CommitInfo], bool]:
        """Commits of ``tip`` that ``exclude`` lacks (None: that no remote-tracking branch has).

        At most the newest ``limit``, oldest first, merges left out; the flag
        says whether older ones were left out.
        """
        args = ["rev-list", "--topo-order", "--no-merges", f"--max-count={limit + 1}",
                self.resolve(tip)]
        args += [f"^{self.resolve(exclude)}"] if exclude is not None else ["--not", "--remotes"]
        shas = self.run(*args, "--").split()
        return [self.commit_info(sha) for sha in reversed(shas[:limit])], len(shas) > limit

    def commit_info(self, sha: str) -> CommitInfo:
        """Metadata of one commit."""
        commit = self.repo.commit(sha)
        message = str(commit.message)
        subject, _, body = message.partition("\n")
        return CommitInfo(
            sha=commit.hexsha,
            parent=commit.parents[0].hexsha if commit.parents else None,
            subject=subject.strip(),
            message=body.strip("\n"),
            author=(str(commit.author.name or ""), str(commit.author.email or "")),
            date=commit.authored_datetime,
        )

    def changes(self, old: str | None, new: str) -> tuple[FileChange, ...]:
        """Changed files from ``old`` to ``new`` with full texts of C files attached."""
        diff = self.run("diff-tree", *_DIFF_ARGS, old or self.empty_tree(), new, "--")
        if not diff.strip():
            return ()
        try:
            parsed = parse_diff(diff)
        except DiffError:
            return ()
        out = []
        for change in parsed:
            if change.is_c and not change.is_binary:
                pre = None
                if old is not None and not change.is_new:
                    pre = self.blob_text(old, change.old_path or change.path)
                post = None if change.is_deleted else self.blob_text(new, change.path)
                change = with_texts(change, pre, post)
            out.append(change)
        return tuple(out)

    def patch_mail(self, info: CommitInfo) -> PatchMail:
        """A commit dressed as a patch mail (no message id; the commit id is the source)."""
        return PatchMail(
            source=info.sha[:12], subject=info.subject, title=info.subject, message_id=None,
            author=info.author, date=info.date, version=1, counter=1, expected=1,
            counters_inferred=True, prefixes=(), is_reply=False,
            commit_message=info.message, files=self.changes(info.parent, info.sha),
            commit=info.sha,
        )


def _git_message(exc: GitCommandError) -> str:
    """The first useful line git printed on failure."""
    stderr = exc.stderr if isinstance(exc.stderr, str) else str(exc.stderr or "")
    for line in stderr.splitlines():
        line = line.strip().removeprefix("stderr: ").strip("'").strip()
        if line:
            return line
    return f"git {exc.command[1] if len(exc.command) > 1 else ''} failed (status {exc.status})"
