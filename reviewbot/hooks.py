"""Install and remove reviewbot's git hooks without ever losing a hook that was there.

The hooks go where git looks for them (``core.hooksPath`` or ``.git/hooks``).
A hook file that is already there is renamed to ``<hook>.reviewbot-chained``
(content, mode bits and symlinks untouched) and reviewbot's hook runs it
first with the same arguments and input; its failure still fails the hook.
Installing again changes nothing; uninstalling puts back exactly what was
there, and removes a hooks directory only if install created it and it is
empty again.

The installed script is POSIX sh. The one machine-specific value in it, the
absolute path of the Python interpreter that ran the install, is quoted
with ``shlex.quote``; nothing from the repository reaches a shell.
"""

from __future__ import annotations

import json
import os
import shlex
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from reviewbot.gitcmd import run_git

CHAINED_SUFFIX = ".reviewbot-chained"
_MARKER = "# reviewbot-hook: "
_CREATED = "# reviewbot-created-dir: "
_HEAD_BYTES = 1024
_GIT_LOCATION_VARS = ("GIT_DIR", "GIT_WORK_TREE", "GIT_COMMON_DIR", "GIT_INDEX_FILE",
                      "GIT_OBJECT_DIRECTORY", "GIT_PREFIX")

# Hooks that get input on stdin: it is saved so that the chained hook and
# reviewbot both read all of it.
_STDIN_HOOKS = frozenset({"pre-push"})


class HookError(Exception):
    """Hooks could not be installed or removed as asked."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """What happened to one hook."""

    hook: str
    path: Path
    action: str  # installed, chained, updated, unchanged, removed, restored, absent, foreign

    def describe(self) -> str:
        """One line for the user."""
        text = {
            "installed": "installed",
            "chained": f"installed; the existing hook runs first (kept as {self.path.name}"
                       f"{CHAINED_SUFFIX})",
            "updated": "updated",
            "unchanged": "already installed",
            "removed": "removed",
            "restored": "removed; the previous hook is back in place",
            "absent": "not installed",
            "foreign": "is not reviewbot's; left alone",
        }[self.action]
        return f"{self.hook}: {self.path}: {text}"


def hooks_dir(repo: Path) -> Path:
    """The directory git runs ``repo``'s hooks from (honours core.hooksPath)."""
    env = {k: v for k, v in os.environ.items() if k not in _GIT_LOCATION_VARS}
    try:
        done = run_git(["-C", str(repo), "rev-parse", "--path-format=absolute", "--git-path",
                        "hooks"], env=env)
    except FileNotFoundError as exc:
        raise HookError("git is not installed") from exc
    if done.returncode != 0:
        raise HookError(f"{repo}: not a git repository")
    return Path(done.stdout.decode("utf-8", "surrogateescape").rstrip("\n"))


def default_python() -> str:
    """The interpreter running reviewbot now (a venv's own python: symlinks kept)."""
    return os.path.abspath(sys.executable)


def hook_script(hook: str, python: str, created: str | None = None) -> str:
    """The text of reviewbot's ``hook`` script."""
    lines = [
        "#!/bin/sh",
        f"{_MARKER}{hook}",
        "# Written by `reviewbot hook install`; `reviewbot hook uninstall` removes it and",
        f"# puts back the hook it chains ({hook}{CHAINED_SUFFIX}, run first when present).",
    ]
    if created is not None:
        lines.append(f"{_CREATED}{json.dumps(created)}")
    lines += [
        f"python={shlex.quote(python)}",
        f'chained="$0{CHAINED_SUFFIX}"',
        "status=0",
        'if [ -x "$chained" ]; then',
    ]
    if hook in _STDIN_HOOKS:
        lines += [
            '\tinput=$(mktemp "${TMPDIR:-/tmp}/reviewbot-hook.XXXXXX") || exit 1',
            "\ttrap 'rm -f \"$input\"' EXIT",
            '\tcat >"$input"',
            '\t"$chained" "$@" <"$input" || status=$?',
            '\texec <"$input"',
        ]
    else:
        lines.append('\t"$chained" "$@" || status=$?')
    lines += [
        "fi",
        'if [ -x "$python" ]; then',
        "\tours=0",
        f'\t"$python" -P -m reviewbot hook run {hook} "$@" || ours=$?',
        '\t[ "$status" -ne 0 ] || status=$ours',
        "else",
        f'\techo "reviewbot: $python is gone; {hook} review skipped'
        ' (run: reviewbot hook install)" >&2',
        "fi",
        'exit "$status"',
    ]
    return "\n".join(lines) + "\n"


def _lexists(path: Path) -> bool:
    return os.path.lexists(path)


def _head(path: Path) -> str:
    try:
        with path.open("rb") as fh:
            return fh.read(_HEAD_BYTES).decode("utf-8", "replace")
    except OSError:
        return ""


def is_ours(path: Path, hook: str) -> bool:
    """Whether ``path`` is reviewbot's ``hook`` script (a regular file with the marker)."""
    if path.is_symlink() or not path.is_file():
        return False
    return f"\n{_MARKER}{hook}\n" in _head(path)


def _created_record(path: Path) -> str | None:
    for line in _head(path).splitlines():
        if line.startswith(_CREATED):
            try:
                value = json.loads(line[len(_CREATED):])
            except ValueError:
                return None
            return value if isinstance(value, str) else None
    return None


def _inherited_record(directory: Path, names: Sequence[str]) -> str | None:
    """A created-directory record from another of our hooks in ``directory``."""
    for name in names:
        path = directory / name
        if is_ours(path, name):
            record = _created_record(path)
            if record is not None:
                return record
    return None


def _write_new(directory: Path, name: str, text: str) -> Path:
    """Write ``text`` to a fresh temporary file in ``directory``, mode 0755."""
    fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{name}.reviewbot-")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(text)
        os.chmod(tmp, 0o755)  # noqa: S103  # a hook must be executable, like git's own  # nosec B103
    except BaseException:
        os.unlink(tmp)
        raise
    return Path(tmp)


def _make_dirs(directory: Path) -> str | None:
    """Create ``directory``; the topmost directory created (None if it existed)."""
    missing = []
    probe = directory
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    if not missing:
        if not directory.is_dir():
            raise HookError(f"{directory}: exists and is not a directory")
        return None
    directory.mkdir(parents=True)
    return str(missing[-1])


def install(repo: Path, hooks: Sequence[str], python: str | None = None) -> list[Outcome]:
    """Install ``hooks`` in ``repo``, chaining any hook already there."""
    directory = hooks_dir(repo)
    python = python or default_python()
    plans = []
    for hook in hooks:  # check everything before changing anything
        path, chained = directory / hook, directory / f"{hook}{CHAINED_SUFFIX}"
        if not is_ours(path, hook) and _lexists(chained):
            raise HookError(f"{chained} already exists; move it away first")
        plans.append((hook, path, chained))
    created = _make_dirs(directory) or _inherited_record(directory, hooks)
    outcomes = []
    for hook, path, chained in plans:
        if is_ours(path, hook):
            text = hook_script(hook, python, _created_record(path) or created)
            if path.read_text(encoding="utf-8", errors="replace") == text:
                outcomes.append(Outcome(hook, path, "unchanged"))
                continue
            os.replace(_write_new(directory, hook, text), path)
            outcomes.append(Outcome(hook, path, "updated"))
            continue
        tmp = _write_new(directory, hook, hook_script(hook, python, created))
        existing = _lexists(path)
        try:
            if existing:
                os.rename(path, chained)
            os.rename(tmp, path)
        except BaseException:
            if existing and not (_lexists(path)):
                os.rename(chained, path)
            tmp.unlink(missing_ok=True)
            raise
        outcomes.append(Outcome(hook, path, "chained" if existing else "installed"))
    return outcomes


def uninstall(repo: Path, hooks: Sequence[str]) -> list[Outcome]:
    """Remove reviewbot's ``hooks`` from ``repo`` and put back the hooks they chained."""
    directory = hooks_dir(repo)
    outcomes = []
    record = None
    for hook in hooks:
        path, chained = directory / hook, directory / f"{hook}{CHAINED_SUFFIX}"
        if not (_lexists(path)):
            outcomes.append(Outcome(hook, path, "absent"))
            continue
        if not is_ours(path, hook):
            outcomes.append(Outcome(hook, path, "foreign"))
            continue
        record = _created_record(path) or record
        if _lexists(chained):
            os.replace(chained, path)
            outcomes.append(Outcome(hook, path, "restored"))
        else:
            path.unlink()
            outcomes.append(Outcome(hook, path, "removed"))
    if record is not None:
        _remove_created(directory, Path(record))
    return outcomes


def _remove_created(directory: Path, top: Path) -> None:
    """Remove ``directory`` and its parents up to ``top`` while they are empty."""
    if directory != top and top not in directory.parents:
        return
    probe = directory
    while True:
        try:
            probe.rmdir()
        except OSError:
            return
        if probe == top:
            return
        probe = probe.parent


def status(repo: Path, hooks: Sequence[str]) -> list[tuple[str, Path, str]]:
    """(hook, path, state) where state is installed, chained, absent or foreign."""
    directory = hooks_dir(repo)
    out = []
    for hook in hooks:
        path, chained = directory / hook, directory / f"{hook}{CHAINED_SUFFIX}"
        if is_ours(path, hook):
            state = "chained" if _lexists(chained) else "installed"
        elif _lexists(path):
            state = "foreign"
        else:
            state = "absent"
        out.append((hook, path, state))
    return out
