"""Every rule's docs are complete, and its Example fires while Use instead stays quiet."""

from __future__ import annotations

import re

import pytest

from heuristics.registry import DOC_SECTIONS, Rule, all_rules, doc_sections
from tests.helpers import run_diff

RULES = all_rules()


def _examples(rule: Rule, section: str) -> list[tuple[str | None, str]]:
    text = doc_sections(rule.meta.docs)[section]
    out = []
    for match in re.finditer(r"```diff([^\n]*)\n(.*?)```", text, re.DOTALL):
        opts = dict(kv.split("=", 1) for kv in match.group(1).split() if "=" in kv)
        out.append((opts.get("kernel"), match.group(2)))
    return out


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_docs_have_every_section(rule: Rule) -> None:
    sections = doc_sections(rule.meta.docs)
    for name in DOC_SECTIONS:
        assert sections.get(name, "").strip(), f"{rule.id} lacks '{name}'"
    assert rule.meta.summary and not rule.meta.summary.endswith(".")


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_example_fires(rule: Rule) -> None:
    examples = _examples(rule, "Example")
    assert examples, f"{rule.id} has no diff example"
    for version, diff in examples:
        analysis = run_diff(diff, version, select=[rule.id])
        assert not analysis.errors, analysis.errors
        fired = [f for f in analysis.findings if f.rule == rule.id]
        assert fired, f"{rule.id}: the Example does not fire"
        for f in fired:
            assert f.category == rule.meta.category
            assert f.message and f.fingerprint


@pytest.mark.parametrize("rule", RULES, ids=lambda r: r.id)
def test_use_instead_is_quiet(rule: Rule) -> None:
    examples = _examples(rule, "Use instead")
    assert examples, f"{rule.id} has no 'Use instead' diff"
    for version, diff in examples:
        analysis = run_diff(diff, version, select=[rule.id])
        assert not analysis.errors, analysis.errors
        assert [f.rule for f in analysis.findings] == [], (
            f"{rule.id}: 'Use instead' fires: {[f.message for f in analysis.findings]}")
