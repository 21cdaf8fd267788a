"""checkpatch-style text: ``file:line: severity: [ID name] message`` then the line."""

from __future__ import annotations

from heuristics.model import Severity
from reviewbot.models import Report
from reviewbot.pipeline import visible
from reviewbot.render.safe import terminal_safe as safe


def render(report: Report, min_severity: Severity) -> str:
    """One block per finding, a header per patch with findings, a summary line."""
    out: list[str] = []
    counts = {s: 0 for s in Severity}
    reviewed = 0
    last_apply_error = None
    for review in report.reviews:
        if review.error:
            continue
        reviewed += 1
        findings = visible(review.findings, min_severity)
        if review.apply_error and review.apply_error != last_apply_error:
            out.append(f"reviewbot: {safe(review.subject or review.source)}: series did not "
                       f"apply ({safe(review.apply_error)}); reviewed hunks only")
        last_apply_error = review.apply_error
        if not findings:
            continue
        out.append(f"--- {safe(review.subject or review.source)}")
        for f in findings:
            counts[f.severity] += 1
            fn = f" in {f.function}()" if f.function and f.function not in f.message else ""
            out.append(safe(f"{f.file}:{f.line}: {f.severity.value}: [{f.rule} {f.name}] "
                            f"{f.message}{fn}"))
            if f.snippet:
                out.append(f"{'+' if f.added else ' '}{safe(f.snippet)}")
        out.append("")
    what = "file" if report.reviews and report.reviews[0].mode == "scan" else "patch"
    parts = [f"{counts[s]} {s.value}{'s' if counts[s] != 1 else ''}"
             for s in (Severity.ERROR, Severity.WARNING, Severity.ADVICE)
             if s >= min_severity]
    out.append(f"reviewbot: {reviewed} {what}{'es' if what == 'patch' and reviewed != 1 else ''}"
               f"{'s' if what == 'file' and reviewed != 1 else ''} reviewed, "
               + ", ".join(parts))
    return "\n".join(out) + "\n"
