"""One line per finding with ERROR:/WARNING:, nothing when clean (b4 prep --check)."""

from __future__ import annotations

from heuristics.model import Severity
from reviewbot.models import Report
from reviewbot.pipeline import visible
from reviewbot.render.safe import terminal_safe

_TAG = {Severity.ERROR: "ERROR", Severity.WARNING: "WARNING", Severity.ADVICE: "NOTE"}


def render(report: Report, min_severity: Severity) -> str:
    """b4 treats lines containing ERROR: as failures and other lines as warnings."""
    lines = []
    for review in report.reviews:
        for f in visible(review.findings, min_severity):
            lines.append(terminal_safe(
                f"{f.file}:{f.line}: {_TAG[f.severity]}: [{f.rule}] {f.message}"))
    return "".join(line + "\n" for line in lines)
