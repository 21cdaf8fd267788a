"""reviewbot eval: precision and recall on a labelled corpus."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from heuristics.model import Severity
from reviewbot.commands.common import SEVERITIES, settings_from
from reviewbot.evalcorpus import eval_json, format_eval, run_eval
from reviewbot.pipeline import Options


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the eval subcommand."""
    parser = subs.add_parser(
        "eval", help="measure precision/recall on a labelled corpus",
        description="DIR holds case folders (patch.mbox + label.json). Findings of every "
                    "severity count towards recall; false alarms count from --fp-severity up.")
    parser.add_argument("corpus", type=Path, metavar="DIR")
    parser.add_argument("--traffic", type=Path, metavar="DIR",
                        help="unlabelled list traffic to measure noise on")
    parser.add_argument("--tolerance", type=int, default=3,
                        help="line distance that still matches a labelled place (default: 3)")
    parser.add_argument("--fp-severity", choices=SEVERITIES, default="warning")
    parser.add_argument("--synthetic-tree", action="store_true",
                        help="also review the cases whose label says hunk_context_sufficient: "
                             "false in tree mode, against a tree rebuilt from the patch's files")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    parser.add_argument("--config", type=Path, metavar="FILE")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    """Evaluate and print the tables."""
    from reviewbot.cli import UsageError
    from reviewbot.commands.common import _progress

    if not args.corpus.is_dir():
        raise UsageError(f"{args.corpus}: not a directory")
    settings = settings_from(args)
    options = Options(settings=settings)
    progress = _progress if sys.stderr.isatty() else None
    data = run_eval(args.corpus, options, args.tolerance, Severity(args.fp_severity),
                    args.traffic, progress, args.synthetic_tree)
    print(format_eval(data) if args.format == "text" else eval_json(data), end="")
    return 0
