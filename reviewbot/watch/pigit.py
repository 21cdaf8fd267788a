"""Read a local public-inbox v2 mirror: epoch repositories where each commit adds one
message as the blob ``m`` (as kept by grokmirror or lei), with GitPython.

The cursor of each epoch is the last commit taken, and it moves in the same
transaction as the message, so a crash repeats nothing and skips nothing.
Commits without ``m`` (a ``d`` removal) only move the cursor. An epoch whose
history was rewritten (public-inbox-purge) is read again from the start;
messages already seen are skipped by Message-ID.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import git

from reviewbot.config import Settings
from reviewbot.gitcmd import blob_head
from reviewbot.watch.bot import Bot
from reviewbot.watch.errors import SourceError

log = logging.getLogger(__name__)
_EPOCH_RE = re.compile(r"^(\d+)\.git$")


class InboxError(Exception):
    """The directory is not a public-inbox v2 inbox (or one of its epochs)."""


def epochs(directory: Path) -> list[tuple[int, Path]]:
    """The epoch repositories: DIR/git/N.git in order, or DIR itself if it is one."""
    gitdir = directory / "git"
    if gitdir.is_dir():
        found = [(int(m.group(1)), p) for p in gitdir.iterdir()
                 if (m := _EPOCH_RE.match(p.name)) and p.is_dir()]
        if found:
            return sorted(found)
    if (directory / "objects").is_dir() and (directory / "HEAD").is_file():
        return [(0, directory)]
    raise InboxError(f"{directory}: no git/N.git epochs (not a public-inbox v2 inbox)")


@dataclass(slots=True)
class GitPollResult:
    """What one poll did."""

    commits: int = 0
    messages: int = 0
    complete: bool = True


class PublicInboxGitSource:
    """All epochs of one inbox directory."""

    def __init__(self, directory: str | Path, settings: Settings,
                 clock: Callable[[], float] = time.time) -> None:
        self.directory = Path(directory).resolve()
        self.settings = settings
        self.clock = clock

    def key(self, epoch: int) -> str:
        """The cursor name of one epoch."""
        return f"pigit:{self.directory}:{epoch}"

    def poll(self, bot: Bot) -> GitPollResult:
        """Take every message committed since each epoch's cursor."""
        result = GitPollResult()
        for number, path in epochs(self.directory):
            if bot.stop.requested():
                result.complete = False
                break
            try:
                self._epoch(bot, number, path, result)
            except (git.GitError, ValueError, OSError) as exc:
                # e.g. a mirror being fetched into right now: try again next cycle
                raise SourceError(f"{path}: {type(exc).__name__}: {exc}") from exc
        return result

    def _epoch(self, bot: Bot, number: int, path: Path, result: GitPollResult) -> None:
        key = self.key(number)
        repo = git.Repo(path)
        try:
            try:
                head = repo.head.commit
            except ValueError:
                return  # an empty epoch
            cursor = bot.store.cursor(key)
            since: str | None = None
            if cursor is not None and not _known(repo, cursor, head.hexsha):
                log.warning("%s: cursor %s is gone (history rewritten); reading it again",
                            path, cursor[:12])
                cursor = None
            if cursor is None:
                rev = head.hexsha
                hours = self.settings.lore.backfill_hours
                if hours:
                    since = datetime.fromtimestamp(
                        self.clock() - hours * 3600, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            elif cursor == head.hexsha:
                return
            else:
                rev = f"{cursor}..{head.hexsha}"
            commits = (repo.iter_commits(rev, reverse=True, since=since) if since
                       else repo.iter_commits(rev, reverse=True))
            for commit in commits:
                if bot.stop.requested():
                    result.complete = False
                    return
                result.commits += 1
                try:
                    blob = commit.tree["m"]
                except KeyError:
                    bot.store.set_cursor(key, commit.hexsha)
                    continue
                limit = self.settings.limits.max_message_bytes
                if blob.size > limit:
                    # Recorded as too large from its header block; never read whole.
                    start = blob_head(Path(repo.git_dir), blob.hexsha, 65536)
                    bot.take(start, key, cursor=(key, commit.hexsha), size=blob.size)
                else:
                    raw: bytes = blob.data_stream.read()
                    bot.take(raw, key, cursor=(key, commit.hexsha))
                result.messages += 1
            if cursor is None and not bot.stop.requested():
                bot.store.set_cursor(key, head.hexsha)
        finally:
            repo.close()


def _known(repo: git.Repo, cursor: str, head: str) -> bool:
    if not re.fullmatch(r"[0-9a-f]{40}", cursor):
        return False
    try:
        return bool(repo.is_ancestor(repo.commit(cursor), repo.commit(head)))
    except (git.GitCommandError, git.BadName, ValueError):
        return False
