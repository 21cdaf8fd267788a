"""Scenario fixtures: each patch says which findings must appear and which rules stay quiet."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.helpers import run_diff

FIXTURES = sorted((Path(__file__).parent.parent / "fixtures" / "rules").glob("*.patch"))
_EXPECT_RE = re.compile(r"^([A-Z]+-\d{3})(?:@(\d+))?(?::(advice|warning|error))?$")
_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")


@dataclass
class Fixture:
    path: Path
    diff: str
    kernel: str | None = None
    message: str = ""
    expect: list[tuple[str, int | None, str | None]] = field(default_factory=list)
    quiet: list[str] = field(default_factory=list)


def load(path: Path) -> Fixture:
    header, _, diff = path.read_text(encoding="utf-8").partition("\n---")
    fx = Fixture(path, "---" + diff)
    for line in header.splitlines():
        key, _, value = line.lstrip("# ").partition(":")
        value = value.strip()
        if key == "kernel":
            fx.kernel = value
        elif key == "message":
            fx.message = value
        elif key == "expect":
            m = _EXPECT_RE.match(value)
            assert m, f"{path.name}: bad expect {value!r}"
            fx.expect.append((m.group(1), int(m.group(2)) if m.group(2) else None, m.group(3)))
        elif key == "quiet":
            fx.quiet.append(value)
    assert fx.expect or fx.quiet, f"{path.name}: nothing to check"
    return fx


def hunk_counts_ok(diff: str) -> list[str]:
    """Hunks whose header counts disagree with their bodies."""
    bad = []
    lines = diff.splitlines()
    for i, line in enumerate(lines):
        m = _HUNK_RE.match(line)
        if not m:
            continue
        old_len, new_len = int(m.group(2) or 1), int(m.group(4) or 1)
        old = new = 0
        for body in lines[i + 1:]:
            if body.startswith(("@@", "--- ", "diff ")):
                break
            if body.startswith("-"):
                old += 1
            elif body.startswith("+"):
                new += 1
            else:
                old += 1
                new += 1
        if (old, new) != (old_len, new_len):
            bad.append(f"{line} has -{old} +{new}")
    return bad


@pytest.mark.parametrize("path", FIXTURES, ids=lambda p: p.stem)
def test_fixture(path: Path) -> None:
    fx = load(path)
    assert hunk_counts_ok(fx.diff) == []
    analysis = run_diff(fx.diff, fx.kernel, message=fx.message)
    assert not analysis.errors, analysis.errors
    got = [(f.rule, f.line, f.severity.value) for f in analysis.findings]
    for rule, line, severity in fx.expect:
        match = [g for g in got if g[0] == rule and (line is None or g[1] == line)
                 and (severity is None or g[2] == severity)]
        assert match, f"expected {rule}@{line}:{severity}, got {got}"
    for quiet in fx.quiet:
        noisy = [g for g in got if quiet == "*" or g[0].startswith(quiet)]
        assert noisy == [], f"{quiet} should be quiet, got {noisy}"


def test_fixture_set_covers_every_family() -> None:
    stems = {p.stem.split("-")[0] for p in FIXTURES}
    assert stems >= {"nofs", "memalloc", "vmalloc", "evict"}
