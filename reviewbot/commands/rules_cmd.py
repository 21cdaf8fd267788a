"""reviewbot rules list / explain ID."""

from __future__ import annotations

import argparse
import json

from heuristics.registry import all_rules, get_rule


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the rules subcommand."""
    parser = subs.add_parser("rules", help="list rules or show a rule's documentation")
    rsubs = parser.add_subparsers(dest="rules_command", metavar="ACTION")
    rsubs.required = True
    lister = rsubs.add_parser("list", help="one line per rule")
    lister.add_argument("--format", choices=["text", "json"], default="text")
    lister.set_defaults(handler=run_list)
    explain = rsubs.add_parser("explain", help="a rule's full documentation")
    explain.add_argument("rule_id", metavar="ID")
    explain.set_defaults(handler=run_explain)


def run_list(args: argparse.Namespace) -> int:
    """Print the catalogue."""
    rules = all_rules()
    if args.format == "json":
        print(json.dumps([{"id": r.id, "name": r.meta.name, "category": r.meta.category.value,
                           "severity": r.meta.severity.value,
                           "confidence": r.meta.confidence.value, "summary": r.meta.summary,
                           "kind": r.kind, "modes": sorted(r.modes)} for r in rules], indent=2))
        return 0
    for r in rules:
        print(f"{r.id:<13} {r.meta.name:<34} {r.meta.category.value:<18} "
              f"{r.meta.severity.value:<8} {r.meta.summary}")
    return 0


def run_explain(args: argparse.Namespace) -> int:
    """Print one rule's docs."""
    from reviewbot.cli import UsageError

    rule = get_rule(args.rule_id)
    if rule is None:
        raise UsageError(f"unknown rule {args.rule_id!r} (see: reviewbot rules list)")
    meta = rule.meta
    print(f"{meta.id} {meta.name} ({meta.category.value}; default severity "
          f"{meta.severity.value}, confidence {meta.confidence.value})\n")
    print(meta.docs)
    return 0
