"""Output formats over review results (no analysis here)."""

from __future__ import annotations

from collections.abc import Callable

from heuristics.model import Severity
from reviewbot.models import Report
from reviewbot.render import b4review, jsonout, sarif, terse, text

FORMATS: dict[str, Callable[[Report, Severity], str]] = {
    "text": text.render,
    "terse": terse.render,
    "json": jsonout.render,
    "sarif": sarif.render,
    "b4-review": b4review.render,
}


def render(report: Report, fmt: str, min_severity: Severity) -> str:
    """Render ``report`` in one of FORMATS."""
    return FORMATS[fmt](report, min_severity)
