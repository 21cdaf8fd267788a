"""Review each new commit on a branch (a maintainer tree, linux-next) in tree mode.

The cursor is the last commit reviewed; a commit is identified by its diff, so
a rebased branch (linux-next is rebuilt daily) does not get its commits
reviewed again. Merges are not reviewed; their own commits are.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from pathlib import Path

import git

from reviewbot.watch.bot import Bot
from reviewbot.watch.errors import SourceError

log = logging.getLogger(__name__)
_REF_RE = re.compile(r"^[A-Za-z0-9._/@{}~^+-]{1,200}$")


class RefError(Exception):
    """The repository or ref cannot be used."""


def check_ref(ref: str) -> str:
    """A ref or revision name that cannot be mistaken for an option."""
    if ref.startswith("-") or not _REF_RE.match(ref) or ".." in ref:
        raise RefError(f"not a usable ref name: {ref!r}")
    return ref


@dataclass(slots=True)
class RefPollResult:
    """What one poll did."""

    commits: int = 0
    started: bool = False
    complete: bool = True


class GitRefSource:
    """One branch of one repository."""

    def __init__(self, directory: str | Path, ref: str, since: str | None = None,
                 list_name: str | None = None) -> None:
        self.directory = Path(directory).resolve()
        self.ref = check_ref(ref)
        self.since = check_ref(since) if since else None
        self.list_name = list_name
        self.key = f"git:{self.directory}#{self.ref}"

    def _resolve(self, repo: git.Repo, name: str) -> git.Commit:
        try:
            commit = repo.commit(name)
        except (git.BadName, ValueError, git.GitCommandError) as exc:
            raise RefError(f"{self.directory}: no such ref or commit {name!r}") from exc
        return commit

    def poll(self, bot: Bot) -> RefPollResult:
        """Review the commits between the cursor and the ref's tip."""
        result = RefPollResult()
        try:
            repo = git.Repo(self.directory)
        except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
            raise RefError(f"{self.directory}: not a git repository") from exc
        try:
            tip = self._resolve(repo, self.ref)
            cursor = bot.store.cursor(self.key)
            if cursor is None:
                if self.since is None:
                    bot.store.set_cursor(self.key, tip.hexsha)
                    result.started = True
                    return result
                base = self._resolve(repo, self.since).hexsha
            elif re.fullmatch(r"[0-9a-f]{40}", cursor) and _is_ancestor(repo, cursor,
                                                                        tip.hexsha):
                base = cursor
            else:
                log.warning("%s: %s was rewritten; reviewing from the merge base", self.key,
                            self.ref)
                bases = _merge_base(repo, cursor, tip.hexsha)
                if bases is None:
                    bot.store.set_cursor(self.key, tip.hexsha)
                    return result
                base = bases
            if base == tip.hexsha:
                return result
            try:
                commits = list(repo.iter_commits(f"{base}..{tip.hexsha}", reverse=True,
                                                 no_merges=True))
            except git.GitCommandError as exc:
                raise SourceError(f"{self.key}: git rev-list failed ({exc.status})") from exc
            for commit in commits:
                if bot.stop.requested():
                    result.complete = False
                    return result
                bot.take_commit(repo, commit, self.ref, self.list_name, self.key)
                result.commits += 1
            bot.store.set_cursor(self.key, tip.hexsha)
        finally:
            repo.close()
        return result


def _is_ancestor(repo: git.Repo, older: str, newer: str) -> bool:
    try:
        return bool(repo.is_ancestor(repo.commit(older), repo.commit(newer)))
    except (git.GitCommandError, git.BadName, ValueError):
        return False


def _merge_base(repo: git.Repo, one: str, two: str) -> str | None:
    if not re.fullmatch(r"[0-9a-f]{40}", one):
        return None
    try:
        bases = repo.merge_base(one, two)
    except git.GitCommandError:
        return None
    return bases[0].hexsha if bases else None
