"""SARIF 2.1.0 (OASIS): one run, the rule catalogue as the driver's rules."""

from __future__ import annotations

import json
from typing import Any

from heuristics.model import Severity
from heuristics.registry import all_rules, doc_sections
from reviewbot import __version__
from reviewbot.models import DOCS_URL, Report
from reviewbot.pipeline import visible

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
_LEVEL = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.ADVICE: "note"}


def _rules(docs: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for rule in all_rules():
        meta = rule.meta
        sections = doc_sections(meta.docs)
        out.append({
            "id": meta.id,
            "name": meta.name,
            "shortDescription": {"text": meta.summary},
            "fullDescription": {"text": sections.get("What it does", meta.summary)},
            "help": {"text": sections.get("Why is this bad?", ""), "markdown": meta.docs},
            "helpUri": docs.get(meta.id, DOCS_URL.format(rule=meta.id)),
            "defaultConfiguration": {"level": _LEVEL[meta.severity]},
            "properties": {"category": meta.category.value,
                           "confidence": meta.confidence.value,
                           "tags": [meta.category.value]},
        })
    return out


def render(report: Report, min_severity: Severity) -> str:
    """A SARIF log whose results carry line-free partial fingerprints."""
    docs = {f.rule: f.docs_url for r in report.reviews for f in r.findings if f.docs_url}
    rules = _rules(docs)
    index = {r["id"]: i for i, r in enumerate(rules)}
    results = []
    for review in report.reviews:
        for f in visible(review.findings, min_severity):
            region: dict[str, Any] = {"startLine": f.line}
            if f.snippet:
                region["snippet"] = {"text": f.snippet}
            result: dict[str, Any] = {
                "ruleId": f.rule,
                "ruleIndex": index[f.rule],
                "level": _LEVEL[f.severity],
                "message": {"text": f.message},
                "locations": [{"physicalLocation": {
                    "artifactLocation": {"uri": f.file},
                    "region": region,
                }}],
                "partialFingerprints": {"reviewbot/v1": f.fingerprint},
                "properties": {"category": f.category.value, "confidence": f.confidence.value,
                               "function": f.function, "patch": review.subject,
                               "messageId": review.message_id},
            }
            if f.function:
                result["locations"][0]["logicalLocations"] = [
                    {"name": f.function, "kind": "function"}]
            results.append(result)
    log = {
        "$schema": SCHEMA_URI,
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "reviewbot",
                "version": __version__,
                "informationUri": "https://reviewbot.invalid/",
                "rules": rules,
            }},
            "results": results,
            "invocations": [{
                "executionSuccessful": not any(r.error for r in report.reviews),
                "toolExecutionNotifications": [
                    {"level": "error", "message": {"text": f"{r.source}: {r.error}"}}
                    for r in report.reviews if r.error],
            }],
        }],
    }
    return json.dumps(log, indent=2) + "\n"
