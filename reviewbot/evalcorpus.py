"""Measure reviewbot on a labelled corpus (case folders with patch.mbox and label.json).

A finding matches a labelled place when category and file agree and the line
is within ``tolerance``. Positive places count as found when any finding
matches; a negative place (or an ``expect_not`` place) counts as a false alarm
when a finding at or above ``fp_severity`` matches it.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from heuristics.model import Category, Severity
from reviewbot import synthtree
from reviewbot.ingest import read_paths
from reviewbot.models import Report, ReportedFinding
from reviewbot.pipeline import Options, review_paths
from reviewbot.treereview import review_in_tree


class Place(BaseModel):
    """A labelled place in the post-image."""

    model_config = ConfigDict(extra="allow")

    category: Category
    file: str
    line: int
    function: str | None = None
    why: str = ""


class Label(BaseModel):
    """label.json (fields used by the evaluation; others are kept)."""

    model_config = ConfigDict(extra="allow")

    id: str
    polarity: str
    expect: list[Place] = Field(default_factory=list)
    expect_not: list[Place] = Field(default_factory=list)
    hunk_context_sufficient: bool = True
    severity: str | None = None
    origin: str = ""


@dataclass(slots=True)
class Outcome:
    """One labelled place and what happened to it."""

    case: str
    place: Place
    kind: str  # "tp" | "miss" | "fp" | "tn"
    advisory: bool
    hunk_ok: bool
    matched: list[str] = field(default_factory=list)


@dataclass(slots=True)
class CaseResult:
    """All outcomes of one case, plus its unlabelled findings."""

    case: str
    label: Label
    outcomes: list[Outcome]
    findings: list[ReportedFinding]
    extra: list[ReportedFinding]
    error: str | None = None


def _matches(f: ReportedFinding, place: Place, tolerance: int) -> bool:
    return (f.category == place.category and f.file == place.file
            and abs(f.line - place.line) <= tolerance)


def _review_in_synthetic_tree(folder: Path, options: Options) -> Report:
    """Review a case in tree mode against a tree rebuilt from its own hunks."""
    ingested = read_paths([str(folder / "patch.mbox")])
    with tempfile.TemporaryDirectory(prefix="reviewbot-eval-") as tmp:
        repo = Path(tmp) / "tree"
        synthtree.build(repo, ingested.patches, options.api())
        return review_in_tree(ingested, options, repo)


def evaluate_case(folder: Path, options: Options, tolerance: int, fp_severity: Severity,
                  tree: bool = False) -> CaseResult:
    """Review one case folder (hunks, or a tree rebuilt from them) and score it."""
    label = Label.model_validate_json((folder / "label.json").read_text(encoding="utf-8"))
    if tree:
        report = _review_in_synthetic_tree(folder, options)
    else:
        report, _ = review_paths([str(folder / "patch.mbox")], options)
    findings = [f for r in report.reviews for f in r.findings]
    error = "; ".join(r.error for r in report.reviews if r.error) or None
    advisory = label.severity == "advisory"
    outcomes: list[Outcome] = []
    used: set[int] = set()
    for place in label.expect:
        hits = [f for f in findings if _matches(f, place, tolerance)]
        if label.polarity == "positive":
            kind = "tp" if hits else "miss"
            used.update(id(f) for f in hits)
        else:
            bad = [f for f in hits if f.severity >= fp_severity]
            kind = "fp" if bad else "tn"
            hits = bad
            used.update(id(f) for f in hits)
        outcomes.append(Outcome(label.id, place, kind, advisory, label.hunk_context_sufficient,
                                [f"{f.rule} {f.severity.value} :{f.line}" for f in hits]))
    for place in label.expect_not:
        bad = [f for f in findings if _matches(f, place, tolerance) and f.severity >= fp_severity]
        used.update(id(f) for f in bad)
        outcomes.append(Outcome(label.id, place, "fp" if bad else "tn", advisory,
                                label.hunk_context_sufficient,
                                [f"{f.rule} {f.severity.value} :{f.line}" for f in bad]))
    extra = [f for f in findings if id(f) not in used]
    return CaseResult(label.id, label, outcomes, findings, extra, error)


@dataclass(slots=True)
class Row:
    """Counts for one category."""

    tp: int = 0
    fp: int = 0
    miss: int = 0
    tn: int = 0

    @property
    def precision(self) -> float | None:
        """tp / (tp + fp)."""
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        """tp / (tp + miss)."""
        return self.tp / (self.tp + self.miss) if self.tp + self.miss else None


def table(outcomes: Iterable[Outcome]) -> dict[str, Row]:
    """Per-category counts, plus "all"."""
    rows: dict[str, Row] = {c.value: Row() for c in Category}
    rows["all"] = Row()
    for o in outcomes:
        for key in (o.place.category.value, "all"):
            row = rows[key]
            setattr(row, o.kind, getattr(row, o.kind) + 1)
    return rows


def _fmt(value: float | None) -> str:
    return "  -  " if value is None else f"{value:.2f}"


def format_table(title: str, rows: dict[str, Row]) -> str:
    """A fixed-width table."""
    lines = [title, f"  {'category':<20}{'TP':>5}{'FP':>5}{'miss':>6}{'TN':>5}"
                    f"{'precision':>11}{'recall':>8}"]
    for name, row in rows.items():
        lines.append(f"  {name:<20}{row.tp:>5}{row.fp:>5}{row.miss:>6}{row.tn:>5}"
                     f"{_fmt(row.precision):>11}{_fmt(row.recall):>8}")
    return "\n".join(lines)


@dataclass(slots=True)
class TrafficResult:
    """Noise on unlabelled traffic: findings at or above warning per input."""

    inputs: int = 0
    patches: int = 0
    noisy: list[tuple[str, ReportedFinding]] = field(default_factory=list)


def evaluate_traffic(folder: Path, options: Options, severity: Severity) -> TrafficResult:
    """Review every mbox under ``folder`` (a series folder counts as one input)."""
    result = TrafficResult()
    units: list[list[str]] = []
    for child in sorted(folder.iterdir()):
        if child.is_dir():
            units.append([str(p) for p in sorted(child.glob("*.mbox"))])
        elif child.suffix in (".mbox", ".eml", ".patch"):
            units.append([str(child)])
    for paths in units:
        if not paths:
            continue
        result.inputs += 1
        report, _ = review_paths(paths, options)
        for review in report.reviews:
            if review.error:
                continue
            result.patches += 1
            for f in review.findings:
                if f.severity >= severity:
                    result.noisy.append((Path(paths[0]).parent.name if len(paths) > 1
                                         else Path(paths[0]).name, f))
    return result


def run_eval(corpus: Path, options: Options, tolerance: int = 3,
             fp_severity: Severity = Severity.WARNING, traffic: Path | None = None,
             progress: Callable[[int, int, str], None] | None = None,
             synthetic_tree: bool = False) -> dict[str, Any]:
    """Evaluate a corpus folder; returns everything the command prints."""
    cases = sorted(p for p in corpus.iterdir() if (p / "label.json").is_file())
    results = []
    tree_results = []
    for i, folder in enumerate(cases, start=1):
        result = evaluate_case(folder, options, tolerance, fp_severity)
        results.append(result)
        if synthetic_tree and not result.label.hunk_context_sufficient:
            tree_results.append(evaluate_case(folder, options, tolerance, fp_severity, True))
        if progress is not None:
            progress(i, len(cases), folder.name)
    outcomes = [o for r in results for o in r.outcomes]
    out: dict[str, Any] = {
        "cases": len(results),
        "tolerance": tolerance,
        "results": results,
        "hunk": table(o for o in outcomes if o.hunk_ok),
        "hunk_hard": table(o for o in outcomes if o.hunk_ok and not o.advisory),
        "all": table(outcomes),
        "outcomes": outcomes,
    }
    if synthetic_tree:
        tree_outcomes = [o for r in tree_results for o in r.outcomes]
        out["tree_cases"] = len(tree_results)
        out["tree"] = table(tree_outcomes)
        out["tree_hunk"] = table(o for o in outcomes if not o.hunk_ok)
        out["tree_outcomes"] = tree_outcomes
    if traffic is not None:
        out["traffic"] = evaluate_traffic(traffic, options, fp_severity)
    return out


def format_eval(data: dict[str, Any]) -> str:
    """The human-readable report."""
    parts = [
        f"reviewbot eval: {data['cases']} cases, line tolerance {data['tolerance']}",
        "",
        format_table("Cases with hunk_context_sufficient: true (hunk-only review)", data["hunk"]),
        "",
        format_table("  ... of which not advisory", data["hunk_hard"]),
        "",
        format_table("All cases (hunk-only review)", data["all"]),
        "",
    ]
    if "tree" in data:
        parts += [
            format_table(f"Cases with hunk_context_sufficient: false ({data['tree_cases']}), "
                         "tree review against a tree rebuilt from the patch's files",
                         data["tree"]),
            "",
            format_table("  ... the same cases, hunk-only review", data["tree_hunk"]),
            "",
        ]
        for o in data["tree_outcomes"]:
            if o.kind in ("miss", "fp"):
                parts.append(f"  tree {o.kind}: {o.case} [{o.place.category.value}] "
                             f"{o.place.file}:{o.place.line}")
        parts.append("")
    misses = [o for o in data["outcomes"] if o.kind == "miss"]
    alarms = [o for o in data["outcomes"] if o.kind == "fp"]
    parts.append(f"misses ({len(misses)}):")
    for o in misses:
        scope = "hunk" if o.hunk_ok else "tree"
        parts.append(f"  {o.case}  [{o.place.category.value}, {scope}] {o.place.file}:"
                     f"{o.place.line} {o.place.function or ''}")
    parts.append(f"false alarms ({len(alarms)}):")
    for o in alarms:
        parts.append(f"  {o.case}  [{o.place.category.value}] {o.place.file}:{o.place.line} "
                     f"<- {', '.join(o.matched)}")
    errors = [r for r in data["results"] if r.error]
    if errors:
        parts.append("input errors:")
        parts.extend(f"  {r.case}: {r.error}" for r in errors)
    traffic = data.get("traffic")
    if traffic is not None:
        parts.append("")
        parts.append(f"traffic: {traffic.inputs} inputs, {traffic.patches} patches, "
                     f"{len(traffic.noisy)} findings at warning or above")
        for name, f in traffic.noisy:
            parts.append(f"  {name}: {f.file}:{f.line} {f.rule} {f.severity.value}")
    return "\n".join(parts) + "\n"


def eval_json(data: dict[str, Any]) -> str:
    """The same data as JSON."""

    def rows(t: dict[str, Row]) -> dict[str, Any]:
        return {k: {"tp": r.tp, "fp": r.fp, "miss": r.miss, "tn": r.tn,
                    "precision": r.precision, "recall": r.recall} for k, r in t.items()}

    payload: dict[str, Any] = {
        "cases": data["cases"],
        "tolerance": data["tolerance"],
        "hunk_context_sufficient": rows(data["hunk"]),
        "hunk_context_sufficient_hard": rows(data["hunk_hard"]),
        "all": rows(data["all"]),
        "outcomes": [{"case": o.case, "kind": o.kind, "category": o.place.category.value,
                      "file": o.place.file, "line": o.place.line, "advisory": o.advisory,
                      "hunk_context_sufficient": o.hunk_ok, "matched": o.matched}
                     for o in data["outcomes"]],
    }
    traffic = data.get("traffic")
    if traffic is not None:
        payload["traffic"] = {"inputs": traffic.inputs, "patches": traffic.patches,
                              "noisy": [{"input": n, "file": f.file, "line": f.line,
                                         "rule": f.rule, "severity": f.severity.value}
                                        for n, f in traffic.noisy]}
    return json.dumps(payload, indent=2) + "\n"
