"""Every crash input found so far, replayed through the fuzz target that found it."""

from __future__ import annotations

from pathlib import Path

import pytest

from fuzz.targets import TARGETS

HERE = Path(__file__).parent / "regressions"
INPUTS = sorted(p for p in HERE.glob("*/*") if p.is_file() and not p.name.startswith("."))


def test_every_target_has_a_directory() -> None:
    assert {p.name for p in HERE.iterdir() if p.is_dir()} == set(TARGETS)
    assert len(INPUTS) >= 6


@pytest.mark.parametrize("path", INPUTS, ids=[f"{p.parent.name}/{p.name}" for p in INPUTS])
def test_regression_input(path: Path) -> None:
    TARGETS[path.parent.name](path.read_bytes())


@pytest.mark.parametrize("name", sorted(TARGETS))
def test_targets_accept_the_empty_input(name: str) -> None:
    TARGETS[name](b"")
