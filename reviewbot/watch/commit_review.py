"""Review one git commit in tree mode: its diff against its first parent, with full texts.

Kept in one place so it can be swapped for the tree-mode implementation of
``reviewbot check --git``: the watcher only calls :func:`commit_patch` and
:func:`review_commit`. Commit ids come from GitPython objects (hex), never
from mail; blobs are read through GitPython's object database.
"""

from __future__ import annotations

import hashlib
import re
import urllib.parse

import git

from heuristics import analyse
from heuristics.inputs import FileChange, PatchInput, with_texts
from reviewbot.diffs import DiffError, parse_diff
from reviewbot.gitsource import makefile_version
from reviewbot.ingest import PatchMail
from reviewbot.kernelver import resolve
from reviewbot.models import Review
from reviewbot.pipeline import Options, review_from_analysis

EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904"
MAX_TEXT_BYTES = 4 * 1024 * 1024
_LINK_RE = re.compile(
    r"^Link:\s*https?://[^\s/]+/(?:r/|[^\s/]+/)?([^\s/]+@[^\s/]+?)/?\s*$", re.MULTILINE)


def diff_key(diff_text: str) -> str:
    """A key that stays the same when a commit is rebased: its diff without line numbers."""
    kept = [line for line in diff_text.splitlines()
            if line.startswith(("+", "-", "diff --git")) and not line.startswith("index ")]
    return "commit:" + hashlib.sha256("\n".join(kept).encode("utf-8", "replace")).hexdigest()[
        :40]


def link_msgid(message: str) -> str | None:
    """The Message-ID in a ``Link: https://lore.kernel.org/r/<msgid>`` trailer."""
    for match in _LINK_RE.finditer(message):
        value = urllib.parse.unquote(match.group(1))
        if "@" in value and not any(c in value for c in "<> \t"):
            return value
    return None


def _blob_text(commit: git.Commit, path: str) -> str | None:
    try:
        blob = commit.tree / path
    except KeyError:
        return None
    if blob.size > MAX_TEXT_BYTES:
        return None
    data: bytes = blob.data_stream.read()
    return data.decode("utf-8", errors="replace")


def tree_version(commit: git.Commit) -> str | None:
    """VERSION.PATCHLEVEL from the tree's top-level Makefile, if it has one."""
    text = _blob_text(commit, "Makefile")
    return makefile_version(text[:4096]) if text is not None else None


def commit_diff(repo: git.Repo, commit: git.Commit) -> str:
    """The commit's diff against its first parent (or the empty tree)."""
    parent = commit.parents[0].hexsha if commit.parents else EMPTY_TREE
    text: str = repo.git.diff(parent, commit.hexsha, "--no-color", "--no-ext-diff",
                              "--no-textconv", "-M", "--")
    return text


def commit_patch(repo: git.Repo, commit: git.Commit, diff_text: str, key: str,
                 list_name: str | None) -> PatchMail:
    """The commit as a patch mail with full pre/post texts for its C files."""
    files = parse_diff(diff_text)
    parent = commit.parents[0] if commit.parents else None
    with_text: list[FileChange] = []
    for change in files:
        if change.is_c and not change.is_binary:
            pre = None if change.is_new or parent is None else _blob_text(
                parent, change.old_path or change.path)
            post = None if change.is_deleted else _blob_text(commit, change.path)
            if post is not None and (pre is not None or change.is_new):
                change = with_texts(change, pre, post)
        with_text.append(change)
    message = str(commit.message)
    link = link_msgid(message)
    author = (str(commit.author.name or ""), str(commit.author.email or ""))
    cc = (("", list_name),) if list_name else ()
    return PatchMail(
        source=f"{commit.hexsha[:12]}", subject=str(commit.summary), title=str(commit.summary),
        message_id=key, author=author, date=commit.authored_datetime, version=1, counter=1,
        expected=1, counters_inferred=True, prefixes=(), is_reply=False,
        commit_message=message, files=tuple(with_text), commit=commit.hexsha,
        in_reply_to=link, references=(link,) if link else (), cc=cc)


def review_commit(mail: PatchMail, commit: git.Commit, options: Options) -> Review:
    """Review the commit's patch in tree mode."""
    tables = options.api()
    version, source = resolve(options.explicit_version(), [mail], tables, tree_version(commit))
    patch = PatchInput(subject=mail.subject, commit_message=mail.commit_message,
                       files=mail.files, kernel_version=version,
                       extra={"kernel_version_source": source})
    analysis = analyse(patch, tables, options.rules())
    return review_from_analysis(mail, analysis, options, version, source, None)


__all__ = ["DiffError", "commit_diff", "commit_patch", "diff_key", "link_msgid",
           "review_commit", "tree_version"]
