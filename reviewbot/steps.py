"""Review a series commit by commit with full file texts, judged by its end state.

Each step is one patch with the pre- and post-image of every changed C file,
analysed in tree mode (only findings new in the post-image count). A finding
is then kept only while the series' end state still has it: the whole series
is analysed once as a single change (base texts to final texts), and each
fingerprint it introduces is attributed to the latest patch that introduced
it. Findings a later patch of the series removed again are listed under
``fixed_later_in_series`` instead.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from heuristics import AnalysisTimeout, PatchInput
from heuristics.engine import Analysis
from heuristics.inputs import FileChange
from heuristics.model import Finding, KernelVersion
from reviewbot.ingest import PatchMail
from reviewbot.limits import analyse_limited, timeout_message
from reviewbot.models import Review
from reviewbot.pipeline import Options, apply_policy, report_finding, review_from_analysis
from reviewbot.series import Series


@dataclass(frozen=True, slots=True)
class Step:
    """One patch of a series as applied: its mail and the files it really changed."""

    patch: PatchMail
    files: tuple[FileChange, ...]

    @property
    def label(self) -> str:
        """How findings name the patch that introduced them."""
        return self.patch.message_id or self.patch.subject or self.patch.source


def _input(subject: str, message: str, files: tuple[FileChange, ...], version: KernelVersion,
           source: str) -> PatchInput:
    return PatchInput(subject=subject, commit_message=message, files=files,
                      kernel_version=version, extra={"kernel_version_source": source})


def _attribute(analyses: Sequence[Analysis], end: Analysis | None
               ) -> tuple[list[list[bool]], list[Finding]]:
    """Which findings of each step survive, and end-state findings no step introduced."""
    keep = [[end is None] * len(a.findings) for a in analyses]
    if end is None:
        return keep, []
    budget = Counter(f.fingerprint for f in end.findings)
    for i in reversed(range(len(analyses))):
        for j in reversed(range(len(analyses[i].findings))):
            fp = analyses[i].findings[j].fingerprint
            if budget[fp] > 0:
                budget[fp] -= 1
                keep[i][j] = True
    orphans = []
    for finding in end.findings:
        if budget[finding.fingerprint] > 0:
            budget[finding.fingerprint] -= 1
            orphans.append(finding)
    return keep, orphans


def _last_toucher(steps: Sequence[Step], path: str) -> int:
    for i in reversed(range(len(steps))):
        if any(f.path == path for f in steps[i].files):
            return i
    return len(steps) - 1


def review_steps(steps: Sequence[Step], end_files: tuple[FileChange, ...] | None,
                 options: Options, version: KernelVersion, source: str,
                 series: Series | None, notes: Sequence[str] = ()) -> list[Review]:
    """Review every step in tree mode; ``end_files`` is the whole series as one change.

    With ``end_files`` None (one patch, or no common end state) every step stands alone.
    """
    tables, rules = options.api(), options.rules()
    analyses = []
    timed_out: set[int] = set()
    for i, step in enumerate(steps, start=1):
        patch_input = _input(step.patch.subject, step.patch.commit_message, step.files,
                             version, source)
        try:
            analyses.append(analyse_limited(patch_input, tables, rules, options.settings))
        except AnalysisTimeout:
            analyses.append(Analysis(mode="tree"))
            timed_out.add(i - 1)
        if options.progress is not None:
            options.progress(i, len(steps), step.patch.subject)
    end = None
    if end_files is not None and len(steps) > 1:
        title = series.title if series is not None else "series"
        try:
            end = analyse_limited(_input(title, "", end_files, version, source), tables,
                                  rules, options.settings)
        except AnalysisTimeout:
            notes = [*notes, "the series as a whole took too long to analyse: each patch "
                             "is judged on its own"]
    keep, orphans = _attribute(analyses, end)
    extra: dict[int, list[Finding]] = {}
    for finding in orphans:
        extra.setdefault(_last_toucher(steps, finding.file), []).append(finding)

    reviews = []
    for i, (step, analysis) in enumerate(zip(steps, analyses, strict=True)):
        kept = [f for f, k in zip(analysis.findings, keep[i], strict=True) if k]
        kept += extra.get(i, [])
        fixed = [f for f, k in zip(analysis.findings, keep[i], strict=True) if not k]
        shown = replace(analysis, findings=sorted(kept, key=lambda f: (f.file, f.line, f.rule)))
        review = review_from_analysis(step.patch, shown, options, version, source, series)
        review.mode = "tree"
        review.findings = [f.model_copy(update={"introduced_by": step.label})
                           for f in review.findings]
        review.fixed_later_in_series = [
            report_finding(f, options.settings.output.docs_url, fixed_later_in_series=True,
                           introduced_by=step.label)
            for f in apply_policy(fixed, options.settings)]
        review.notes.extend(notes)
        if i in timed_out:
            review.error = timeout_message(options.settings)
        reviews.append(review)
    return reviews
