"""Apply a series in a temporary detached worktree that leaves the user's repository alone.

The worktree lives in a private temporary directory. Commands run in it get
their own object directory (the repository's objects are only read, as an
alternate), an empty hooks directory, and settings that stop automatic gc,
signing and fsmonitor, so the user's checkout, index, branches, objects and
configuration stay byte-for-byte as they were. The worktree is removed on
every exit path; SIGINT is held back while that happens, and SIGTERM/SIGHUP
are turned into an orderly exit while the worktree exists.
"""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from types import FrameType

from reviewbot.diffs import repair
from reviewbot.gitsource import GitError, GitSource
from reviewbot.ingest import PatchMail

_ISOLATION = (
    "-c", "gc.auto=0", "-c", "maintenance.auto=false", "-c", "commit.gpgSign=false",
    "-c", "core.fsmonitor=false", "-c", "advice.detachedHead=false",
    "-c", "core.quotePath=false",
)
_IDENTITY = {
    "GIT_COMMITTER_NAME": "reviewbot", "GIT_COMMITTER_EMAIL": "reviewbot@localhost.invalid",
}
_FROM_LINE = b"From reviewbot Mon Sep 17 00:00:00 2001\n"


class ApplyError(Exception):
    """A patch of the series does not apply."""


def _mboxrd(raw: bytes) -> bytes:
    """One message as an mboxrd file for ``git am``."""
    lines = raw.replace(b"\r\n", b"\n").split(b"\n")
    body = b"\n".join(b">" + ln if ln.lstrip(b">").startswith(b"From ") else ln for ln in lines)
    return _FROM_LINE + body + (b"" if body.endswith(b"\n") else b"\n")


@contextmanager
def _signals_held() -> Iterator[None]:
    """Hold SIGINT back (also for git children, which inherit the mask)."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)


def _exit_on_signal(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


class TempWorktree:
    """A detached worktree of ``repo_dir`` in a private temporary directory."""

    def __init__(self, repo_dir: Path) -> None:
        self.user = GitSource(repo_dir)
        self.user_env_objects = self._objects_dir()
        self.common_dir = Path(self.user.run("rev-parse", "--path-format=absolute",
                                             "--git-common-dir").strip())
        self.had_worktrees_dir = (self.common_dir / "worktrees").exists()
        self.tmp: Path | None = None
        self.path: Path | None = None
        self.admin: Path | None = None
        self.source: GitSource | None = None
        self._old_handlers: dict[int, object] = {}

    def _objects_dir(self) -> Path:
        out = self.user.run("rev-parse", "--path-format=absolute", "--git-path", "objects")
        return Path(out.strip())

    # -- lifecycle -------------------------------------------------------------

    def create(self, base: str) -> None:
        """Check out ``base`` (a resolved commit id) in a new temporary worktree."""
        self._trap_signals()
        try:
            self.tmp = Path(tempfile.mkdtemp(prefix="reviewbot-"))
            (self.tmp / "hooks").mkdir()
            (self.tmp / "objects").mkdir()
            self.path = self.tmp / self.tmp.name
            # No checkout here: the files are checked out below with this
            # worktree's own index pinned (a hook's GIT_INDEX_FILE must not leak in).
            self.user.run(*_ISOLATION, "-c", f"core.hooksPath={self.tmp / 'hooks'}",
                          "worktree", "add", "--detach", "--no-checkout", "--quiet",
                          str(self.path), base)
            self.admin = _admin_dir(self.path)
            self.source = GitSource(self.path, self._env(self.admin))
            self.reset(base)
        except BaseException:
            self.remove()
            raise

    def _env(self, admin: Path) -> dict[str, str]:
        """Where worktree commands find everything, all pinned; objects written to tmp."""
        assert self.tmp is not None and self.path is not None  # type narrowing  # nosec B101
        alternates = [str(self.user_env_objects)]
        inherited = os.environ.get("GIT_ALTERNATE_OBJECT_DIRECTORIES")
        if inherited:
            alternates.append(inherited)
        return {
            "GIT_DIR": str(admin),
            "GIT_WORK_TREE": str(self.path),
            "GIT_INDEX_FILE": str(admin / "index"),
            "GIT_COMMON_DIR": str(self.common_dir),
            "GIT_OBJECT_DIRECTORY": str(self.tmp / "objects"),
            "GIT_ALTERNATE_OBJECT_DIRECTORIES": os.pathsep.join(alternates),
            **_IDENTITY,
        }

    def remove(self) -> None:
        """Remove the worktree and its administrative files; safe to call twice."""
        with _signals_held():
            try:
                if self.source is not None:
                    self.source.close()
                    self.source = None
                if self.path is not None:
                    try:
                        self.user.run("worktree", "remove", "--force", "--force", str(self.path))
                    except GitError:
                        self._remove_admin_dir()
                self._remove_admin_dir()
                if self.tmp is not None:
                    shutil.rmtree(self.tmp, ignore_errors=True)
                    self.tmp = self.path = self.admin = None
                self.user.close()
            finally:
                self._restore_signals()

    def _remove_admin_dir(self) -> None:
        """Our own entry under .git/worktrees only (never other stale worktrees)."""
        if self.path is None:
            return
        worktrees = self.common_dir / "worktrees"
        admin = self.admin or worktrees / self.path.name
        gitdir = admin / "gitdir"
        try:
            points_here = Path(gitdir.read_text().strip()).resolve().parent == \
                self.path.resolve()
        except OSError:
            points_here = admin.is_dir() and not gitdir.exists()
        if points_here:
            shutil.rmtree(admin, ignore_errors=True)
        if not self.had_worktrees_dir and worktrees.is_dir() and not any(worktrees.iterdir()):
            worktrees.rmdir()
        elif self.had_worktrees_dir and not worktrees.exists():
            worktrees.mkdir()  # git drops an empty worktrees/ it did not create

    def _trap_signals(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return
        for signum in (signal.SIGTERM, signal.SIGHUP):
            if signal.getsignal(signum) == signal.SIG_DFL:
                self._old_handlers[signum] = signal.signal(signum, _exit_on_signal)

    def _restore_signals(self) -> None:
        for signum, handler in self._old_handlers.items():
            signal.signal(signum, handler)  # type: ignore[arg-type]
        self._old_handlers.clear()

    def __enter__(self) -> TempWorktree:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()

    # -- work inside the worktree ----------------------------------------------

    @property
    def git(self) -> GitSource:
        """The worktree's repository (its own object directory)."""
        if self.source is None:
            raise GitError("the worktree has not been created")
        return self.source

    def _wt(self, *args: str) -> tuple[int, str]:
        """Run git in the worktree; (status, stdout and stderr)."""
        assert self.tmp is not None  # type narrowing  # nosec B101
        cmd = ["git", *_ISOLATION, "-c", f"core.hooksPath={self.tmp / 'hooks'}", *args]
        status, out, err = self.git.repo.git.execute(cmd, with_extended_output=True,
                                                     with_exceptions=False)
        return int(status), f"{out}\n{err}"

    def head(self) -> str:
        """The worktree's current commit."""
        return self.git.run("rev-parse", "--verify", "HEAD").strip()

    def reset(self, base: str) -> None:
        """Start over at ``base`` (a resolved commit id), dropping anything left behind."""
        self._wt("am", "--abort")
        status, err = self._wt("reset", "--quiet", "--hard", base)
        if status != 0:
            raise GitError(_first_error(err) or f"cannot check out {base}")
        self._wt("clean", "-fdxq")

    def apply(self, patch: PatchMail) -> None:
        """Apply and commit one patch: git am --3way, else git apply --3way, else git apply."""
        assert self.tmp is not None  # type narrowing  # nosec B101
        errors: list[str] = []
        mbox = self.tmp / "patch.mbox"
        if patch.raw:
            mbox.write_bytes(_mboxrd(patch.raw))
            status, err = self._wt("am", "--3way", "--whitespace=nowarn",
                                   "--patch-format=mboxrd", str(mbox))
            if status == 0:
                return
            errors.append(err)
            self._wt("am", "--abort")
        diff = self.tmp / "patch.diff"
        diff.write_text(repair(patch.diff) + "\n", encoding="utf-8", errors="surrogateescape")
        for args in (("--3way",), ()):
            status, err = self._wt("apply", *args, "--whitespace=nowarn", str(diff))
            if status == 0:
                self._commit(patch)
                return
            errors.append(err)
            self._wt("reset", "--quiet", "--hard", "HEAD")
        raise ApplyError(next((e for e in map(_first_error, errors) if e), "patch failed"))

    def _commit(self, patch: PatchMail) -> None:
        name, email = (" ".join(_arg(part).replace("<", "").replace(">", "").split())
                       for part in patch.author)
        author = f"{name or 'unknown'} <{email or 'unknown@localhost.invalid'}>"
        for args in (("add", "-A"), ("commit", "--quiet", "--no-verify", "--allow-empty",
                                     f"--author={author}", "-m",
                                     _arg(patch.subject) or "patch")):
            status, err = self._wt(*args)
            if status != 0:
                raise ApplyError(_first_error(err) or "cannot commit the applied patch")


def _arg(text: str) -> str:
    """Mail text as a command-line argument: an argument cannot hold a NUL."""
    return text.replace("\x00", "")


def _admin_dir(worktree: Path) -> Path:
    """The worktree's directory under .git/worktrees, from its .git file."""
    text = (worktree / ".git").read_text(encoding="utf-8").strip()
    if not text.startswith("gitdir:"):
        raise GitError(f"{worktree}: unexpected .git file")
    return (worktree / text.removeprefix("gitdir:").strip()).resolve()


def _first_error(stderr: str) -> str:
    """The most telling line of git's complaint (a conflict, a failed hunk, any error)."""
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    for prefix in ("CONFLICT", "error: patch failed", "error:", "fatal:"):
        for line in lines:
            if line.startswith(prefix):
                return line
    return lines[0] if lines else ""
