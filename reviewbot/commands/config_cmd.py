"""reviewbot config: the effective configuration and where each value came from."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from reviewbot.commands.common import SEVERITIES, effective_from
from reviewbot.configlayers import Effective, Key

_SECRET_WORDS = ("password", "token", "secret")


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the config subcommand."""
    parser = subs.add_parser(
        "config", help="show the effective configuration and where each value comes from",
        description="Print every setting with its value and its origin: config/default.toml, "
                    "the site file (--config, $REVIEWBOT_CONFIG or git config "
                    "reviewbot.config), git config ([reviewbot \"SECTION\"] KEY), the "
                    "environment (REVIEWBOT_SECTION_KEY) or the command line. The text output "
                    "is valid TOML. KEY limits the output to a section or key "
                    "(\"hooks\", \"hooks.fail_on\").")
    parser.add_argument("keys", nargs="*", metavar="KEY")
    parser.add_argument("--config", type=Path, metavar="FILE", help="site configuration (TOML)")
    parser.add_argument("--repo", type=Path, metavar="DIR",
                        help="read git config of this repository (default: the current one)")
    parser.add_argument("--format", choices=["text", "json"], default="text")
    group = parser.add_argument_group("command-line layer (as check would get them)")
    group.add_argument("--fail-on", choices=SEVERITIES)
    group.add_argument("--min-severity", choices=SEVERITIES)
    group.add_argument("--kernel-version", metavar="X.Y")
    group.add_argument("--select", action="append", default=[], metavar="RULES")
    group.add_argument("--ignore", action="append", default=[], metavar="RULES")
    parser.set_defaults(handler=run)


def _split(values: list[str]) -> list[str]:
    return [v.strip() for item in values for v in item.split(",") if v.strip()]


def _cli_layer(args: argparse.Namespace) -> list[tuple[Key, object, str]]:
    """The command-line options check takes, as settings keys."""
    cli: list[tuple[Key, object, str]] = []
    if args.fail_on:
        cli.append((("output", "fail_on"), args.fail_on, "--fail-on"))
    if args.min_severity:
        cli.append((("output", "min_severity"), args.min_severity, "--min-severity"))
    if args.kernel_version:
        cli.append((("kernel", "version"), args.kernel_version, "--kernel-version"))
    if args.select:
        cli.append((("rules", "select"), _split(args.select), "--select"))
    if args.ignore:
        # check adds --ignore to the configured list
        configured = effective_from(args).settings.rules.ignore
        cli.append((("rules", "ignore"), configured + _split(args.ignore), "--ignore"))
    return cli


def _shown(key: Key, value: Any) -> Any:
    last = key[-1].lower()
    if value and any(w in last for w in _SECRET_WORDS) and not last.endswith("_env"):
        return "(hidden)"
    return value


def rows(effective: Effective) -> list[tuple[Key, Any, str]]:
    """(key, value, origin) for every setting; table entries are keys of their own."""
    out: list[tuple[Key, Any, str]] = []
    dumped = effective.settings.model_dump(mode="json")
    for section, fields in dumped.items():
        for name, value in fields.items():
            key: Key = (section, name)
            if isinstance(value, dict):
                if not value:
                    out.append((key, {}, effective.origins.get(key, "default")))
                for entry, item in sorted(value.items()):
                    entry_key = (*key, entry)
                    out.append((entry_key, _shown(entry_key, item),
                                effective.origins.get(entry_key, "default")))
            else:
                out.append((key, _shown(key, value), effective.origins.get(key, "default")))
    return out


def _wanted(key: Key, filters: list[str]) -> bool:
    dotted = ".".join(key)
    return not filters or any(dotted == f or dotted.startswith(f + ".") for f in filters)


def _toml_key(name: str) -> str:
    return name if name.replace("_", "").replace("-", "").isalnum() else json.dumps(name)


def format_text(selected: list[tuple[Key, Any, str]], effective: Effective) -> str:
    """TOML with each value's origin as a trailing comment."""
    site = str(effective.site_file) if effective.site_file is not None else "none"
    lines = ["# reviewbot effective configuration (value  # origin)",
             f"# layers, lowest first: config/default.toml, site file ({site}), git config, "
             "environment, command line"]
    tables: dict[Key, list[tuple[str, Any, str]]] = {}
    for key, value, origin in selected:
        if isinstance(value, dict):  # an empty table
            tables.setdefault(key, [])
            continue
        table, name = (key[:2], key[2]) if len(key) == 3 else (key[:1], key[1])
        tables.setdefault(table, []).append((name, value, origin))
    for table, entries in tables.items():
        lines.append("")
        lines.append("[" + ".".join(_toml_key(p) for p in table) + "]")
        assigns = [f"{_toml_key(n)} = {json.dumps(v)}" for n, v, _ in entries]
        width = max((len(a) for a in assigns), default=0)
        for assign, (_, _, origin) in zip(assigns, entries, strict=True):
            lines.append(f"{assign.ljust(width)}  # {origin}")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> int:
    """Print the configuration."""
    from reviewbot.cli import UsageError

    effective = effective_from(args, _cli_layer(args))
    everything = rows(effective)
    selected = [r for r in everything if _wanted(r[0], args.keys)]
    unknown = [k for k in args.keys if not any(_wanted(r[0], [k]) for r in everything)]
    if unknown:
        raise UsageError(f"no setting named {', '.join(unknown)} (see: reviewbot config)")
    if args.format == "json":
        print(json.dumps({
            "site_file": str(effective.site_file) if effective.site_file else None,
            "settings": {".".join(k): v for k, v, _ in selected},
            "origins": {".".join(k): o for k, _, o in selected},
        }, indent=2))
    else:
        print(format_text(selected, effective), end="")
    return 0
