"""The b4 review check protocol: a JSON list of {tool, status, summary, url, details}."""

from __future__ import annotations

import json

from heuristics.model import Severity
from reviewbot.models import Report
from reviewbot.pipeline import visible


def render(report: Report, min_severity: Severity) -> str:
    """One entry per reviewed patch: pass, warn (warnings/advice) or fail (errors)."""
    entries = []
    for review in report.reviews:
        if review.error:
            entries.append({"tool": "reviewbot", "status": "fail",
                            "summary": f"could not read input: {review.error}",
                            "url": None, "details": ""})
            continue
        findings = visible(review.findings, min_severity)
        if any(f.severity == Severity.ERROR for f in findings):
            status = "fail"
        elif findings:
            status = "warn"
        else:
            status = "pass"
        counts = [f"{sum(f.severity == s for f in findings)} {s.value}" for s in
                  (Severity.ERROR, Severity.WARNING, Severity.ADVICE) if s >= min_severity]
        summary = ("no reclaim-recursion hazards found" if not findings
                   else "reclaim-recursion hazards: " + ", ".join(counts))
        details = "\n".join(
            f"{f.file}:{f.line}: {f.severity.value}: [{f.rule} {f.name}] {f.message}"
            for f in findings)
        entries.append({"tool": "reviewbot", "status": status, "summary": summary,
                        "url": findings[0].docs_url if findings else None, "details": details})
    return json.dumps(entries, indent=2) + "\n"
