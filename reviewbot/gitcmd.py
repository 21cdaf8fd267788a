"""The one place a plain ``git`` process is started (for commands GitPython has no handle on).

Always an argument list, never a shell; ``git`` is found on PATH as GitPython
finds it.
"""

from __future__ import annotations

import subprocess  # the one module that starts git: argument lists, no shell  # nosec B404
from collections.abc import Mapping, Sequence
from pathlib import Path


def run_git(args: Sequence[str], cwd: Path | None = None, input_bytes: bytes | None = None,
            env: Mapping[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    """Run ``git ARGS``; the completed process (FileNotFoundError when git is missing)."""
    # An argument list, no shell; git is found on PATH as GitPython finds it.
    return subprocess.run(  # noqa: S603  # nosec B603 B607
        ["git", *args], cwd=cwd, input=input_bytes, capture_output=True, check=False,  # noqa: S607
        env=None if env is None else dict(env))


def blob_head(git_dir: Path, sha: str, limit: int) -> bytes:
    """The first ``limit`` bytes of a blob, without reading the rest into memory."""
    if not sha or any(c not in "0123456789abcdef" for c in sha):
        raise ValueError(f"not an object id: {sha!r}")
    with subprocess.Popen(  # noqa: S603  # nosec B603 B607
            ["git", f"--git-dir={git_dir}", "cat-file", "blob", sha],  # noqa: S607
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL) as proc:
        assert proc.stdout is not None  # type narrowing  # nosec B101
        head = proc.stdout.read(limit)
        proc.kill()
    return head

