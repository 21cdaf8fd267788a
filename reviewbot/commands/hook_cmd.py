"""reviewbot hook install / uninstall / status / run: the git hooks."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from reviewbot.config import HOOK_NAMES


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the hook subcommand."""
    parser = subs.add_parser(
        "hook", help="install or remove the git hooks (sendemail-validate, pre-push)",
        description="Review patches before git send-email sends them (sendemail-validate) "
                    "and commits before git push publishes them (pre-push). Hooks already "
                    "in place are kept and run first; uninstall puts them back.")
    hsubs = parser.add_subparsers(dest="hook_command", metavar="ACTION")
    hsubs.required = True
    for name, help_text, handler in (
            ("install", "install the hooks (default: hooks.install)", run_install),
            ("uninstall", "remove the hooks and restore the ones they chained", run_uninstall),
            ("status", "show which hooks are installed", run_status)):
        sub = hsubs.add_parser(name, help=help_text)
        sub.add_argument("--repo", type=Path, default=Path("."), metavar="DIR",
                         help="the repository (default: the current directory)")
        sub.add_argument("--hook", action="append", choices=HOOK_NAMES, dest="hooks",
                         help="this hook only (repeatable)")
        sub.set_defaults(handler=handler)
    runner = hsubs.add_parser("run", help="what an installed hook runs (called by git)")
    runner.add_argument("hook_name", choices=HOOK_NAMES, metavar="HOOK")
    runner.add_argument("hook_args", nargs="*", metavar="ARG",
                        help="the hook's arguments as git passes them")
    runner.set_defaults(handler=run_hook)


def _hooks(args: argparse.Namespace, installing: bool) -> list[str]:
    if args.hooks:
        return list(dict.fromkeys(args.hooks))
    if not installing:
        return list(HOOK_NAMES)
    from reviewbot.commands.common import effective_from

    return list(effective_from(args).settings.hooks.install)


def _change(args: argparse.Namespace, installing: bool) -> int:
    from reviewbot.cli import UsageError
    from reviewbot.hooks import HookError, install, uninstall

    action = install if installing else uninstall
    try:
        outcomes = action(args.repo, _hooks(args, installing=installing))
    except (HookError, OSError) as exc:
        raise UsageError(str(exc)) from exc
    for outcome in outcomes:
        print(outcome.describe())
    return 0


def run_install(args: argparse.Namespace) -> int:
    """Install the hooks."""
    return _change(args, installing=True)


def run_uninstall(args: argparse.Namespace) -> int:
    """Remove the hooks."""
    return _change(args, installing=False)


def run_status(args: argparse.Namespace) -> int:
    """Show the hooks' state."""
    from reviewbot.cli import UsageError
    from reviewbot.hooks import HookError, status

    try:
        states = status(args.repo, _hooks(args, installing=False))
    except HookError as exc:
        raise UsageError(str(exc)) from exc
    for hook, path, state in states:
        print(f"{hook}: {path}: {state}")
    return 0


def run_hook(args: argparse.Namespace) -> int:
    """Run one hook the way git calls it."""
    from reviewbot.cli import UsageError
    from reviewbot.hookrun import HookContext, pre_push, sendemail_validate

    ctx = HookContext(repo=Path.cwd(), environ=dict(os.environ), out=sys.stdout)
    if args.hook_name == "sendemail-validate":
        if not args.hook_args:
            raise UsageError("sendemail-validate needs the mail file git passes")
        return sendemail_validate(Path(args.hook_args[0]), ctx)
    stdin = sys.stdin.buffer.read().decode("utf-8", "replace")
    return pre_push(stdin, ctx)
