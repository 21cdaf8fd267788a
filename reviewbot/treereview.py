"""Review against a real tree: a series applied in a temporary worktree, or commits in a repo.

``check --tree DIR``: each series is applied on its base (``--base``, else
its ``base-commit:`` trailer, else HEAD) and every patch is reviewed with
the full texts of the files it changes. A series that does not apply is
reviewed from its hunks alone, labelled with the reason.

``check --git A..B``: each commit of the range is reviewed against its
parent; nothing is checked out.
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import pairwise
from pathlib import Path

from reviewbot import __version__
from reviewbot.gitsource import CommitInfo, GitSource
from reviewbot.ingest import Ingested
from reviewbot.kernelver import resolve
from reviewbot.models import Report, Review
from reviewbot.pipeline import Options, review_series
from reviewbot.series import Series, assemble
from reviewbot.steps import Step, review_steps
from reviewbot.tree import ApplyError, TempWorktree


def _base_of(series: Series, user: GitSource, explicit: str | None) -> tuple[str, list[str]]:
    """(commit id, notes): --base, else base-commit:, else HEAD."""
    if explicit is not None:
        return explicit, []
    trailer = series.base_commit
    if trailer:
        if user.has_commit(trailer):
            return user.resolve(trailer), []
        head = user.resolve("HEAD")
        return head, [f"base-commit {trailer} is not in the tree; applied on HEAD "
                      f"({head[:12]})"]
    return user.resolve("HEAD"), []


def review_series_in_tree(series: Series, worktree: TempWorktree, options: Options,
                          explicit_base: str | None = None) -> list[Review]:
    """Apply one series in ``worktree`` (created or reset to its base) and review it."""
    base, notes = _base_of(series, worktree.user, explicit_base)
    tree_version = worktree.user.tree_version(base)
    version, source = resolve(options.explicit_version(), series.patches, options.api(),
                              tree_version)
    if worktree.path is None:
        worktree.create(base)
    else:
        worktree.reset(base)
    steps: list[Step] = []
    previous = base
    for index, patch in enumerate(series.patches, start=1):
        try:
            worktree.apply(patch)
        except ApplyError as exc:
            reason = (f"patch {index}/{len(series.patches)} \"{patch.title}\" does not apply "
                      f"on {base[:12]}: {exc}")
            reviews = review_series(series, options, tree_version)
            for review in reviews:
                review.apply_error = reason
                review.notes.extend(notes)
            return reviews
        head = worktree.head()
        steps.append(Step(patch, worktree.git.changes(previous, head)))
        previous = head
    end = worktree.git.changes(base, previous) if len(steps) > 1 else None
    return review_steps(steps, end, options, version, source, series, notes)


def review_in_tree(ingested: Ingested, options: Options, tree_dir: Path,
                   base: str | None = None) -> Report:
    """Apply and review every series of ``ingested`` against the repository at ``tree_dir``.

    Raises GitError when ``tree_dir`` is no repository or ``base`` names no commit.
    """
    report = Report(version=__version__)
    all_series = assemble(ingested, options.all_versions)
    with TempWorktree(tree_dir) as worktree:
        explicit = worktree.user.resolve(base) if base is not None else None
        for series in all_series:
            report.reviews.extend(review_series_in_tree(series, worktree, options, explicit))
    for err in ingested.errors:
        report.reviews.append(Review(source=err.source, subject="", error=err.error))
    return report


def review_git_range(repo_dir: Path, rev_range: str, options: Options) -> Report:
    """Review each commit of ``rev_range`` in ``repo_dir`` against its first parent.

    Merges are left out. When the commits form one chain, the range is judged
    by its end state like a series. Raises GitError for a bad repository or range.
    """
    with GitSource(repo_dir) as source:
        return review_commits(source, source.commits(rev_range), options)


def review_commits(source: GitSource, commits: Sequence[CommitInfo], options: Options,
                   notes: Sequence[str] = ()) -> Report:
    """Review ``commits`` (oldest first) of ``source``, each against its first parent.

    When they form one chain, they are judged by their end state like a series.
    """
    report = Report(version=__version__)
    if not commits:
        return report
    patches = [source.patch_mail(c) for c in commits]
    tree_version = source.tree_version(commits[-1].sha)
    version, how = resolve(options.explicit_version(), patches, options.api(), tree_version)
    chain = all(c.parent == p.sha for p, c in pairwise(commits))
    end = None
    all_notes = list(notes)
    if chain and len(commits) > 1:
        end = source.changes(commits[0].parent, commits[-1].sha)
    elif len(commits) > 1:
        all_notes.append("the commits are not one chain: each is judged on its own")
    steps = [Step(p, p.files) for p in patches]
    report.reviews.extend(review_steps(steps, end, options, version, how, None, all_notes))
    return report
