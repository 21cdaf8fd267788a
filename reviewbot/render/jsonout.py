"""The JSON contract: {"tool", "version", "reviews": [...]}."""

from __future__ import annotations

from heuristics.model import Severity
from reviewbot.models import Report
from reviewbot.pipeline import visible


def render(report: Report, min_severity: Severity) -> str:
    """Findings below ``min_severity`` are left out; pre-existing ones stay separate."""
    shown = report.model_copy(deep=True)
    for review in shown.reviews:
        review.findings = visible(review.findings, min_severity)
        review.preexisting = visible(review.preexisting, min_severity)
        review.fixed_later_in_series = visible(review.fixed_later_in_series, min_severity)
    return shown.model_dump_json(indent=2) + "\n"
