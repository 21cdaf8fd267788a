"""The code base stays ruff-clean and mypy-clean (strict)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=600)


def test_ruff() -> None:
    done = run("ruff", "check", "--no-cache", ".")
    assert done.returncode == 0, done.stdout + done.stderr


def test_mypy_strict() -> None:
    done = run("mypy", "--no-incremental")
    assert done.returncode == 0, done.stdout + done.stderr


def test_bandit() -> None:
    """No finding; each justified exception carries its reason next to ``# nosec``."""
    done = run("bandit", "-q", "-r", "reviewbot", "heuristics")
    assert done.returncode == 0, done.stdout + done.stderr
