"""ingest -> assemble -> resolve target -> analyse -> apply policy -> Review.

Each stage is a function over models; IO (reading inputs, git, network) is
done by callers and adapters, never by the analysis core.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from heuristics import PatchInput, whole_file
from heuristics.engine import Analysis, AnalysisTimeout
from heuristics.model import Confidence, Finding, KernelVersion, Severity
from heuristics.registry import Rule, select_rules
from heuristics.tables import ApiTables, PathClasses
from reviewbot import __version__
from reviewbot.apitables import default_tables
from reviewbot.config import Settings
from reviewbot.ingest import Ingested, PatchMail, read_paths
from reviewbot.kernelver import resolve
from reviewbot.limits import analyse_limited, timeout_message
from reviewbot.models import DOCS_URL, Report, ReportedFinding, Review
from reviewbot.series import Series, assemble

Progress = Callable[[int, int, str], None]


@dataclass(slots=True)
class Options:
    """What a run was asked to do."""

    settings: Settings = field(default_factory=Settings)
    kernel_version: str | None = None
    all_versions: bool = False
    select: Sequence[str] = ()
    ignore: Sequence[str] = ()
    tables: ApiTables | None = None
    progress: Progress | None = None

    def rules(self) -> list[Rule]:
        """The selected rules (command line over config)."""
        select = list(self.select) or self.settings.rules.select
        ignore = list(self.ignore) + self.settings.rules.ignore
        return select_rules(select, ignore)

    def api(self) -> ApiTables:
        """The API tables in use."""
        return self.tables or default_tables()

    def explicit_version(self) -> str | None:
        """--kernel-version, else [kernel] version."""
        return self.kernel_version or self.settings.kernel.version or None


def report_finding(finding: Finding, docs_url: str = DOCS_URL, **extra: object
                   ) -> ReportedFinding:
    """Attach the docs link (and any attribution) to a finding."""
    data = dict(finding.__dict__)
    data.update(extra)
    data.setdefault("docs_url", docs_url.format(rule=finding.rule))
    return ReportedFinding.model_construct(**data)  # fields already validated


def apply_policy(findings: Iterable[Finding], settings: Settings) -> list[Finding]:
    """Review scope, per-rule path scopes and severity overrides from the configuration."""
    out = []
    scope = settings.rules.scope
    for finding in findings:
        scopes = settings.rules.paths.get(finding.rule)
        if scopes and not PathClasses.matches(finding.file, scopes):
            continue
        severity = settings.rules.severity.get(finding.rule)
        if severity is not None:
            finding = finding.model_copy(update={"severity": severity})
        elif scope and not PathClasses.matches(finding.file, scope):
            finding = finding.model_copy(update={"severity": Severity.ADVICE,
                                                 "confidence": Confidence.LOW})
        out.append(finding)
    return out


def visible(findings: Iterable[ReportedFinding], minimum: Severity) -> list[ReportedFinding]:
    """Findings at or above ``minimum``."""
    return [f for f in findings if f.severity >= minimum]


def patch_input(patch: PatchMail, version: KernelVersion, source: str) -> PatchInput:
    """The analysis input for one patch mail."""
    return PatchInput(
        subject=patch.subject,
        commit_message=patch.commit_message,
        files=patch.files,
        kernel_version=version,
        extra={"kernel_version_source": source},
    )


def review_from_analysis(patch: PatchMail, analysis: Analysis, options: Options,
                         version: KernelVersion, source: str, series: Series | None) -> Review:
    """Build the Review for one analysed patch."""
    settings = options.settings
    docs = settings.output.docs_url
    findings = [report_finding(f, docs) for f in apply_policy(analysis.findings, settings)]
    pre = [report_finding(f, docs, preexisting=True)
           for f in apply_policy(analysis.preexisting, settings)]
    return Review(
        source=patch.source,
        subject=patch.subject,
        message_id=patch.message_id,
        mode=analysis.mode,
        kernel_version=str(version),
        kernel_version_source=source,
        series_version=series.version if series is not None else None,
        patch_index=patch.counter if series is not None and not patch.counters_inferred else None,
        patch_count=patch.expected if series is not None and not patch.counters_inferred else None,
        findings=findings,
        preexisting=pre,
        notes=[f"internal: {e}" for e in analysis.errors],
    )


def review_series(series: Series, options: Options, tree_version: str | None = None
                  ) -> list[Review]:
    """Review every patch of one series against its hunks."""
    tables = options.api()
    version, source = resolve(options.explicit_version(), series.patches, tables, tree_version)
    rules = options.rules()
    reviews = []
    for patch in series.patches:
        try:
            analysis = analyse_limited(patch_input(patch, version, source), tables, rules,
                                       options.settings)
        except AnalysisTimeout:
            reviews.append(Review(source=patch.source, subject=patch.subject,
                                  message_id=patch.message_id, kernel_version=str(version),
                                  kernel_version_source=source,
                                  error=timeout_message(options.settings)))
            continue
        reviews.append(review_from_analysis(patch, analysis, options, version, source, series))
    return reviews


def review_ingested(ingested: Ingested, options: Options) -> Report:
    """Review everything read from the inputs; unreadable inputs become error reviews."""
    report = Report(version=__version__)
    all_series = assemble(ingested, options.all_versions)
    total = sum(len(s.patches) for s in all_series)
    done = 0
    for series in all_series:
        reviews = review_series(series, options)
        report.reviews.extend(reviews)
        done += len(reviews)
        if options.progress is not None:
            options.progress(done, total, series.title)
    for err in ingested.errors:
        report.reviews.append(Review(source=err.source, subject="", error=err.error))
    return report


def review_paths(paths: Sequence[str], options: Options, stdin: bytes | None = None
                 ) -> tuple[Report, Ingested]:
    """Read and review mails, mboxes, patches and diffs."""
    ingested = read_paths(paths, stdin, options.settings.limits)
    return review_ingested(ingested, options), ingested


def iter_c_files(paths: Iterable[str]) -> Iterable[Path]:
    """C sources and headers under the given files and directories."""
    for name in paths:
        path = Path(name)
        if path.is_dir():
            for child in sorted(path.rglob("*")):
                if child.suffix in (".c", ".h") and child.is_file() and not any(
                        p.startswith(".") for p in child.relative_to(path).parts):
                    yield child
        else:
            yield path


def scan_paths(paths: Sequence[str], options: Options, root: Path | None = None) -> Report:
    """Audit whole C files: every line is treated as new."""
    tables = options.api()
    explicit = options.explicit_version()
    version = KernelVersion.parse(explicit) if explicit else tables.mainline_version
    source = "flag" if explicit else "default"
    rules = options.rules()
    report = Report(version=__version__)
    files = list(iter_c_files(paths))
    for i, path in enumerate(files, start=1):
        name = _tree_relative(path, root)
        try:
            text = path.read_bytes().decode("utf-8", errors="replace")
        except OSError as exc:
            report.reviews.append(Review(source=str(path), subject=name, mode="scan",
                                         error=exc.strerror or str(exc)))
            continue
        patch = PatchInput(subject=name, commit_message="", files=(whole_file(name, text),),
                           kernel_version=version, scan=True,
                           extra={"kernel_version_source": source})
        try:
            analysis = analyse_limited(patch, tables, rules, options.settings)
        except AnalysisTimeout:
            report.reviews.append(Review(source=str(path), subject=name, mode="scan",
                                         error=timeout_message(options.settings)))
            continue
        findings = [report_finding(f, options.settings.output.docs_url)
                    for f in apply_policy(analysis.findings, options.settings)]
        report.reviews.append(Review(
            source=str(path), subject=name, mode="scan", kernel_version=str(version),
            kernel_version_source=source, findings=findings,
            notes=[f"internal: {e}" for e in analysis.errors]))
        if options.progress is not None:
            options.progress(i, len(files), name)
    return report


def _tree_relative(path: Path, root: Path | None) -> str:
    """The path as the rules see it: relative to the tree root when known."""
    if root is not None:
        try:
            return path.resolve().relative_to(root.resolve()).as_posix()
        except ValueError:
            pass
    parts = path.as_posix().split("/")
    for i, part in enumerate(parts):
        if part in ("fs", "mm", "block", "drivers", "include", "kernel", "net", "lib"):
            return "/".join(parts[i:])
    return path.as_posix().lstrip("./")


def exit_status(report: Report, fail_on: Severity) -> int:
    """0 clean, 1 findings at or above ``fail_on``, 2 an input could not be read."""
    if any(r.error for r in report.reviews):
        return 2
    if any(f.severity >= fail_on for r in report.reviews for f in r.findings):
        return 1
    return 0
