"""Small helpers shared by the tests: run the engine on a diff string."""

from __future__ import annotations

from heuristics import PatchInput, analyse
from heuristics.engine import Analysis
from heuristics.model import KernelVersion
from heuristics.registry import select_rules
from reviewbot.apitables import default_tables
from reviewbot.diffs import parse_diff


def run_diff(diff: str, version: str | None = None, select: list[str] | None = None,
             message: str = "", subject: str = "[PATCH] test") -> Analysis:
    """Analyse a unified diff (hunk mode) with the default tables."""
    tables = default_tables()
    target = KernelVersion.parse(version) if version else tables.mainline_version
    patch = PatchInput(subject, message, tuple(parse_diff(diff)), target)
    rules = select_rules(select or [])
    return analyse(patch, tables, rules)


def rule_ids(analysis: Analysis) -> list[str]:
    """Rule ids of the findings, in order."""
    return [f.rule for f in analysis.findings]
