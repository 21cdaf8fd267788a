"""Pure analysis core: parsed patches in, findings out. No IO of any kind."""

from heuristics.engine import Analysis, AnalysisTimeout, analyse
from heuristics.inputs import FileChange, Hunk, HunkLine, PatchInput, whole_file
from heuristics.model import Category, Confidence, Finding, KernelVersion, RuleMeta, Severity
from heuristics.registry import Rule, all_rules, get_rule, select_rules

__all__ = [
    "Analysis", "AnalysisTimeout", "Category", "Confidence", "FileChange", "Finding", "Hunk",
    "HunkLine", "KernelVersion", "PatchInput", "Rule", "RuleMeta", "Severity", "all_rules",
    "analyse", "get_rule", "select_rules", "whole_file",
]
