"""Options shared by check and scan, and the helpers that read them."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TextIO

from heuristics.model import KernelVersion, Severity
from heuristics.registry import unknown_selectors
from reviewbot.config import ConfigError, Settings
from reviewbot.configlayers import Effective, Key, load_effective
from reviewbot.models import Report
from reviewbot.pipeline import Options
from reviewbot.render import FORMATS, render
from reviewbot.render.safe import terminal_safe

SEVERITIES = [s.value for s in Severity]


def add_review_options(parser: argparse.ArgumentParser) -> None:
    """Format, selection, version and policy options."""
    parser.add_argument("--format", choices=sorted(FORMATS), default="text",
                        help="output format (default: text)")
    parser.add_argument("--output", "-o", metavar="FILE", help="write the report to FILE")
    parser.add_argument("--kernel-version", metavar="X.Y",
                        help="target kernel (default: from the subject, tree, date, or mainline)")
    parser.add_argument("--select", action="append", default=[], metavar="RULES",
                        help="only these rule ids, prefixes or categories (comma-separated)")
    parser.add_argument("--ignore", action="append", default=[], metavar="RULES",
                        help="skip these rule ids, prefixes or categories (comma-separated)")
    parser.add_argument("--config", metavar="FILE", type=Path, help="site configuration (TOML)")
    parser.add_argument("--fail-on", choices=SEVERITIES,
                        help="exit 1 for findings at or above this severity (default: warning)")
    parser.add_argument("--min-severity", choices=SEVERITIES,
                        help="hide findings below this severity (default: warning)")
    parser.add_argument("--no-progress", action="store_true",
                        help="no progress display on stderr")


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def config_dir(args: argparse.Namespace) -> Path | None:
    """Where git config is read: the repository the command works on (default: here)."""
    for name in ("repo", "tree"):
        value = getattr(args, name, None)
        if value is not None:
            return Path(value)
    return None


def effective_from(args: argparse.Namespace,
                   cli: list[tuple[Key, object, str]] | None = None) -> Effective:
    """Every configuration layer for this command; problems become usage errors."""
    from reviewbot.cli import UsageError

    try:
        return load_effective(getattr(args, "config", None), cli or [], config_dir(args))
    except ConfigError as exc:
        raise UsageError(str(exc)) from exc


def settings_from(args: argparse.Namespace) -> Settings:
    """Load the configuration (defaults, site file, git config, environment)."""
    return effective_from(args).settings


def options_from(args: argparse.Namespace, settings: Settings) -> Options:
    """Options for the pipeline from parsed arguments."""
    from reviewbot.cli import UsageError

    select, ignore = _split(args.select), _split(args.ignore)
    bad = unknown_selectors(select + ignore)
    if bad:
        raise UsageError(f"no rule matches {', '.join(bad)} (see: reviewbot rules list)")
    if args.kernel_version:
        try:
            KernelVersion.parse(args.kernel_version)
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    progress = None
    if not args.no_progress and sys.stderr.isatty():
        progress = _progress
    return Options(settings=settings, kernel_version=args.kernel_version, select=select,
                   ignore=ignore, progress=progress)


def _progress(done: int, total: int, label: str) -> None:
    sys.stderr.write(f"\r\x1b[K[{done}/{total}] {terminal_safe(label)[:60]}")
    if done >= total:
        sys.stderr.write("\r\x1b[K")
    sys.stderr.flush()


def thresholds(args: argparse.Namespace, settings: Settings) -> tuple[Severity, Severity]:
    """(min_severity, fail_on) from arguments over configuration."""
    minimum = Severity(args.min_severity) if args.min_severity else settings.output.min_severity
    fail_on = Severity(args.fail_on) if args.fail_on else settings.output.fail_on
    return minimum, fail_on


def emit(report: Report, args: argparse.Namespace, minimum: Severity,
         stream: TextIO | None = None) -> None:
    """Render and write the report; one stderr line per unreadable input."""
    for review in report.reviews:
        if review.error:
            print(terminal_safe(f"reviewbot: {review.source}: {review.error}"), file=sys.stderr)
    text = render(report, args.format, minimum)
    if args.output:
        Path(args.output).write_text(text, encoding="utf-8")
    else:
        (stream or sys.stdout).write(text)
