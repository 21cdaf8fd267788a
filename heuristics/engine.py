"""Run the rules over a patch and keep only the hazards the patch introduces.

State rules run on the post-image and on the pre-image of every changed C
file; a finding counts as introduced when its fingerprint occurs more often
after the patch than before (net-new counting, so moved or reformatted code is
not blamed). Change rules look at what the diff removed and added. In scan
mode every line is new and there is no pre-image.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from heuristics.context import ChangeContext, ImageContext, Mode, PatchContext
from heuristics.cparse import CUnit, post_view, pre_view
from heuristics.inputs import FileChange, PatchInput, c_files
from heuristics.model import Category, Confidence, Finding, Severity, fingerprint
from heuristics.registry import Hit, Rule, all_rules
from heuristics.tables import ApiTables

_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

Expired = Callable[[], bool]


class AnalysisTimeout(Exception):
    """The caller's time budget ran out; raised between files and between rules."""


def _never() -> bool:
    return False


@dataclass(slots=True)
class Analysis:
    """Findings for one patch: introduced ones, pre-existing ones, and rule failures."""

    findings: list[Finding] = field(default_factory=list)
    preexisting: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    mode: Mode = "hunk"


@dataclass(slots=True)
class _Parsed:
    change: FileChange
    post: CUnit
    pre: CUnit | None


def _removes_relevant(change: FileChange, tables: ApiTables) -> bool:
    """Whether any removed line mentions an identifier the rules react to."""
    relevant = tables.relevant_identifiers
    for line in change.removed_lines():
        for token in _IDENT.findall(line.text):
            if token in relevant:
                return True
    return False


def _mode(patch: PatchInput) -> Mode:
    if patch.scan:
        return "scan"
    if any(f.post_text is not None for f in patch.files):
        return "tree"
    return "hunk"


def _finding(rule: Rule, ctx: ImageContext, hit: Hit) -> Finding:
    snippet = hit.snippet if hit.snippet is not None else ctx.text(hit.line).strip()
    severity = hit.severity or rule.meta.severity
    confidence = hit.confidence or rule.meta.confidence
    if rule.meta.category == Category.EVICT_BLOCKING and _deep_helper(ctx, hit):
        # Two or more calls below the callback the path may be guarded on the way.
        severity, confidence = Severity.ADVICE, Confidence.LOW
    return Finding(
        rule=rule.id,
        name=rule.meta.name,
        category=rule.meta.category,
        severity=severity,
        confidence=confidence,
        file=ctx.path,
        line=hit.line,
        function=hit.function,
        message=hit.message,
        snippet=snippet,
        fingerprint=fingerprint(rule.id, ctx.path, hit.function, hit.key),
        suggestion=hit.suggestion,
        added=ctx.is_changed(hit.line) if ctx.image == "post" else False,
    )


def _deep_helper(ctx: ImageContext, hit: Hit) -> bool:
    """Whether the hit is in a helper two or more calls below every callback reaching it."""
    fn = ctx.unit.function_at(hit.line)
    if fn is None:
        return False
    depths = [ctx.callback_depth(fn, kind) for kind in ctx.callback_kinds(fn)]
    return bool(depths) and min(depths) >= 2


def _run(rule: Rule, arg: object, errors: list[str], where: str) -> list[Hit]:
    try:
        return list(rule.func(arg))
    except Exception as exc:
        errors.append(f"{rule.id} failed on {where}: {type(exc).__name__}: {exc}")
        return []


def _net_new(post: list[tuple[Finding, bool]], pre: Sequence[Finding]
             ) -> tuple[list[Finding], list[Finding]]:
    """Split post findings into (new, pre-existing) by fingerprint multiplicity."""
    before = Counter(f.fingerprint for f in pre)
    by_fp: dict[str, list[tuple[Finding, bool]]] = {}
    for item in post:
        by_fp.setdefault(item[0].fingerprint, []).append(item)
    new: list[Finding] = []
    old: list[Finding] = []
    for fp, items in by_fp.items():
        items.sort(key=lambda it: (not it[1], it[0].line))  # changed lines first
        extra = max(0, len(items) - before[fp])
        new.extend(f for f, _ in items[:extra])
        old.extend(f for f, _ in items[extra:])
    return new, old


def _one_per_place(findings: list[Finding]) -> list[Finding]:
    """Keep one finding per (file, line, category): the most severe, then the most sure.

    Two rules of one family on one line (a NOFS drop that is also a GFP_KERNEL
    allocation under a transaction) are one review comment, not two.
    """
    best: dict[tuple[str, int, str], Finding] = {}
    for f in findings:
        key = (f.file, f.line, f.category.value)
        cur = best.get(key)
        if cur is None or (f.severity, f.confidence) > (cur.severity, cur.confidence):
            best[key] = f
    return list(best.values())


def analyse(patch: PatchInput, tables: ApiTables, rules: Iterable[Rule] | None = None,
            expired: Expired | None = None) -> Analysis:
    """Analyse one patch (or a scanned file set) with the selected rules.

    ``expired`` is asked between files and between rules; once it answers True
    the analysis stops with AnalysisTimeout (the core reads no clock itself).
    """
    out_of_time = expired or _never

    def check_time() -> None:
        if out_of_time():
            raise AnalysisTimeout("the time for this patch ran out")

    chosen = list(rules) if rules is not None else all_rules()
    mode = _mode(patch)
    result = Analysis(mode=mode)
    ctx = PatchContext(tables, patch.kernel_version, patch.subject, patch.commit_message, mode,
                       version_known=patch.extra.get("kernel_version_source", "") != "default")
    ctx.seed_helpers()

    parsed: list[_Parsed] = []
    for change in c_files(patch.files):
        if change.is_deleted:
            continue
        check_time()
        try:
            post = CUnit(post_view(change), tables)
            pre = None
            if mode != "scan" and not change.is_new and (
                    mode == "tree" or _removes_relevant(change, tables)):
                pre = CUnit(pre_view(change), tables)
        except (ValueError, RecursionError) as exc:
            result.errors.append(f"{change.path}: cannot parse: {exc}")
            continue
        parsed.append(_Parsed(change, post, pre))
        ctx.learn(post)
        if pre is not None:
            ctx.learn(pre)

    state_rules = [r for r in chosen if r.kind == "state" and mode in r.modes]
    change_rules = [r for r in chosen if r.kind == "change" and mode in r.modes]
    seen: set[str] = set()
    for item in parsed:
        change = item.change
        added = frozenset(ln.new_no for ln in change.added_lines() if ln.new_no is not None)
        removed = frozenset(ln.old_no for ln in change.removed_lines() if ln.old_no is not None)
        post_ctx = ImageContext(ctx, item.post, "post", added)
        pre_ctx = ImageContext(ctx, item.pre, "pre", removed) if item.pre is not None else None

        post_findings: list[tuple[Finding, bool]] = []
        pre_findings: list[Finding] = []
        for rule in state_rules:
            check_time()
            for hit in _run(rule, post_ctx, result.errors, change.path):
                post_findings.append((_finding(rule, post_ctx, hit), hit.line in added))
        if post_findings and mode != "scan" and not change.is_new and pre_ctx is None:
            # Something to subtract: the pre-image is needed after all.
            item.pre = CUnit(pre_view(change), tables)
            pre_ctx = ImageContext(ctx, item.pre, "pre", removed)
        if post_findings and pre_ctx is not None:
            fired = {f.rule for f, _ in post_findings}
            for rule in state_rules:
                if rule.id not in fired:
                    continue  # nothing in the post-image to subtract from
                check_time()
                for hit in _run(rule, pre_ctx, result.errors, change.path):
                    pre_findings.append(_finding(rule, pre_ctx, hit))
        new, old = _net_new(post_findings, pre_findings)
        if mode == "scan":
            new, old = [f for f, _ in post_findings], []
        result.preexisting.extend(old)

        if change_rules and mode != "scan":
            cctx = ChangeContext(ctx, change, post_ctx, pre_ctx)
            for rule in change_rules:
                check_time()
                for hit in _run(rule, cctx, result.errors, change.path):
                    new.append(_finding(rule, post_ctx, hit))
        for finding in new:
            key = f"{finding.fingerprint}:{finding.line}"
            if key not in seen:
                seen.add(key)
                result.findings.append(finding)
    result.findings = _one_per_place(result.findings)
    result.findings.sort(key=lambda f: (f.file, f.line, f.rule))
    result.preexisting.sort(key=lambda f: (f.file, f.line, f.rule))
    return result
