"""What the installed git hooks do: review what is about to be sent or pushed.

``sendemail-validate`` reviews the mail git passes. When git says how many
files it sends (GIT_SENDEMAIL_FILE_COUNTER / GIT_SENDEMAIL_FILE_TOTAL), the
files are collected and the last call reviews the whole series; otherwise
each file is reviewed on its own. Patches are reviewed as the commits they
were made from when those are in the repository (each against its parent),
else applied to the repository in a temporary worktree, else from their
hunks. ``pre-push`` reviews the commits a push would publish.

Both print findings in the text format, refuse (status 1) only for findings
at or above ``hooks.fail_on`` and never refuse because reviewbot itself
could not do its work (that is reported, status 0).
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from reviewbot import __version__
from reviewbot.config import ConfigError, Settings
from reviewbot.configlayers import load_effective
from reviewbot.gitcmd import run_git
from reviewbot.gitsource import CommitInfo, GitError, GitSource
from reviewbot.ingest import Ingested, read_paths
from reviewbot.models import Report, Review
from reviewbot.patchmatch import match_commits
from reviewbot.pipeline import Options, review_ingested, visible
from reviewbot.render import render
from reviewbot.render.safe import terminal_safe
from reviewbot.series import assemble
from reviewbot.treereview import review_commits, review_in_tree

ZERO_SHA = frozenset({"0" * 40, "0" * 64})
SPOOL = "reviewbot-sendemail"


@dataclass(slots=True)
class HookContext:
    """Where a hook runs and what it prints to."""

    repo: Path = field(default_factory=Path.cwd)
    environ: Mapping[str, str] = field(default_factory=dict)
    out: TextIO = field(default_factory=lambda: sys.stdout)


# -- shared policy -----------------------------------------------------------------


def _settings(ctx: HookContext) -> Settings:
    return load_effective(cwd=ctx.repo, environ=ctx.environ).settings


def verdict(report: Report, settings: Settings, ctx: HookContext, send_anyway: str,
            what: str) -> int:
    """Print the findings and the hint; 1 when one is at or above hooks.fail_on."""
    fail_on = settings.hooks.fail_on
    minimum = min(settings.output.min_severity, fail_on)
    for review in report.reviews:
        if review.error:
            print(terminal_safe(f"reviewbot: could not review {review.source}: "
                                f"{review.error} (not blocking)"), file=ctx.out)
    shown = [f for r in report.reviews if not r.error for f in visible(r.findings, minimum)]
    if not shown:
        return 0
    ctx.out.write(render(report, "text", minimum))
    blocking = sum(f.severity >= fail_on for f in shown)
    tune = ("to tune: git config reviewbot.hooks.failOn error|warning|advice "
            "(see: reviewbot config hooks)")
    if blocking:
        print(f"reviewbot: {what} refused: {blocking} finding{'s' if blocking != 1 else ''} "
              f"at or above hooks.fail_on = {fail_on.value}; to {what} anyway: "
              f"{send_anyway}; {tune}", file=ctx.out)
        return 1
    print(f"reviewbot: not blocking (below hooks.fail_on = {fail_on.value}); {tune}",
          file=ctx.out)
    return 0


def _guarded(ctx: HookContext, name: str, body: Callable[[], int]) -> int:
    """Run a hook body; reviewbot's own failures are reported and never block."""
    try:
        return body()
    except (ConfigError, GitError, OSError) as exc:
        print(f"reviewbot: {name} hook could not review: {exc} (not blocking)", file=ctx.out)
    except Exception as exc:  # a bug in reviewbot must not hold the user's mail or push
        print(f"reviewbot: internal error in the {name} hook: {type(exc).__name__}: {exc} "
              "(not blocking; please report it)", file=ctx.out)
    return 0


# -- sendemail-validate -----------------------------------------------------------


def _counter(environ: Mapping[str, str]) -> tuple[int, int] | None:
    try:
        counter = int(environ["GIT_SENDEMAIL_FILE_COUNTER"])
        total = int(environ["GIT_SENDEMAIL_FILE_TOTAL"])
    except (KeyError, ValueError):
        return None
    return (counter, total) if 1 <= counter <= total else None


def _git_path(repo: Path, name: str) -> Path:
    done = run_git(["rev-parse", "--path-format=absolute", "--git-path", name], repo)
    if done.returncode != 0:
        raise GitError(f"{repo}: not a git repository")
    return Path(done.stdout.decode("utf-8", "surrogateescape").strip())


def _collect(mail: Path, ctx: HookContext, counter: int, total: int) -> list[Path] | None:
    """Spool the files of one send; all of them on the last call, None before."""
    spool = _git_path(ctx.repo, SPOOL)
    if counter == 1:
        shutil.rmtree(spool, ignore_errors=True)
    spool.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(mail, spool / f"{counter:06d}.eml")
    if counter < total:
        return None
    return sorted(spool.glob("*.eml"))


def review_mails(files: list[Path], settings: Settings, repo: Path) -> Report:
    """Review patch mails: as their commits, else applied to ``repo``, else from hunks."""
    options = Options(settings=settings)
    ingested = read_paths([str(f) for f in files], limits=settings.limits)
    if settings.hooks.tree:
        try:
            return _review_in_repo(ingested, options, repo)
        except GitError:
            pass  # not in a usable repository: the hunks are all there is
    return review_ingested(ingested, options)


def _review_in_repo(ingested: Ingested, options: Options, repo: Path) -> Report:
    series = assemble(ingested)
    with GitSource(repo) as source:
        commits = None
        if len(series) == 1 and series[0].patches:
            commits = match_commits(source, series[0].patches)
        if commits is not None:
            report = review_commits(source, commits, options)
            report.reviews.extend(Review(source=e.source, subject="", error=e.error)
                                  for e in ingested.errors)
            return report
    return review_in_tree(ingested, options, repo)


def sendemail_validate(mail: Path, ctx: HookContext) -> int:
    """The sendemail-validate hook for one file git is about to send."""
    def body() -> int:
        settings = _settings(ctx)
        if not settings.hooks.enabled:
            return 0
        counted = _counter(ctx.environ)
        if counted is None or counted[1] == 1:
            report = review_mails([mail], settings, ctx.repo)
        else:
            files = _collect(mail, ctx, *counted)
            if files is None:
                return 0
            try:
                report = review_mails(files, settings, ctx.repo)
            finally:
                shutil.rmtree(files[0].parent, ignore_errors=True)
        return verdict(report, settings, ctx, "git send-email --no-validate ...", "send")

    return _guarded(ctx, "sendemail-validate", body)


# -- pre-push ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PushedRef:
    """One line of pre-push input."""

    local_ref: str
    local_sha: str
    remote_ref: str
    remote_sha: str


def parse_push_lines(text: str) -> list[PushedRef]:
    """``<local ref> <local sha> <remote ref> <remote sha>`` lines (others are ignored)."""
    refs = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 4:
            refs.append(PushedRef(*parts))
    return refs


def commits_to_push(source: GitSource, ref: PushedRef, limit: int
                    ) -> tuple[list[CommitInfo], list[str]]:
    """The commits pushing ``ref`` publishes (newest ``limit``), and notes on what was left out."""
    if ref.local_sha in ZERO_SHA or not source.has_commit(ref.local_sha):
        return [], []  # a deletion, or a tag of something that is no commit
    exclude = None
    if ref.remote_sha not in ZERO_SHA and source.has_commit(ref.remote_sha):
        exclude = ref.remote_sha
    commits, more = source.new_commits(ref.local_sha, exclude, limit)
    notes = []
    if more:
        notes.append(f"{ref.local_ref}: more than {limit} new commits; reviewed the newest "
                     f"{limit} (hooks.max_commits)")
    roots = [c for c in commits if c.parent is None]
    if roots:
        notes.append(f"{ref.local_ref}: root commit {roots[0].sha[:12]} not reviewed")
        commits = [c for c in commits if c.parent is not None]
    return commits, notes


def pre_push(stdin_text: str, ctx: HookContext) -> int:
    """The pre-push hook: review the commits of every pushed ref."""
    def body() -> int:
        settings = _settings(ctx)
        if not settings.hooks.enabled:
            return 0
        options = Options(settings=settings)
        report = Report(version=__version__)
        seen: set[str] = set()
        with GitSource(ctx.repo) as source:
            for ref in parse_push_lines(stdin_text):
                commits, notes = commits_to_push(source, ref, settings.hooks.max_commits)
                for note in notes:
                    print(terminal_safe(f"reviewbot: {note}"), file=ctx.out)
                commits = [c for c in commits if c.sha not in seen]
                seen.update(c.sha for c in commits)
                if commits:
                    report.reviews.extend(review_commits(source, commits, options).reviews)
        return verdict(report, settings, ctx, "git push --no-verify ...", "push")

    return _guarded(ctx, "pre-push", body)
