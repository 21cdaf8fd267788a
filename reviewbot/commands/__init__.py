"""Subcommands: each module registers its parser and handler (the one list)."""

from reviewbot.commands import (
    check,
    config_cmd,
    dashboard_cmd,
    eval_cmd,
    hook_cmd,
    rules_cmd,
    scan,
    summary_cmd,
    watch,
)

COMMANDS = [check, scan, rules_cmd, eval_cmd, config_cmd, hook_cmd, watch, dashboard_cmd,
            summary_cmd]
