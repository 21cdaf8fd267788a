"""reviewbot dashboard build / serve: the maintainer dashboard over the bot's state."""

from __future__ import annotations

import argparse
import ipaddress
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from reviewbot.commands.botopts import db_path, setup_logging
from reviewbot.commands.common import settings_from
from reviewbot.config import Settings
from reviewbot.dashboard.build import BuildError, build
from reviewbot.dashboard.data import DataError
from reviewbot.dashboard.serve import Dashboard, make_server, watch
from reviewbot.render.safe import terminal_safe


def register(subs: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the dashboard subcommand with build and serve."""
    parser = subs.add_parser("dashboard", help="build or serve the maintainer dashboard",
                             description="A static site over the list bot's state: "
                                         "overview, lists, subsystems, maintainers, series, "
                                         "rules, an Atom feed and a JSON export.")
    actions = parser.add_subparsers(dest="dashboard_command", metavar="ACTION")
    actions.required = True
    builder = actions.add_parser("build", help="write the site into a directory")
    builder.add_argument("--out", required=True, type=Path, metavar="DIR",
                         help="output directory (replaced; must be empty, new or an earlier "
                              "dashboard)")
    builder.set_defaults(handler=run_build)
    server = actions.add_parser("serve", help="serve the site read-only, rebuilding on change")
    server.add_argument("--host", metavar="ADDR",
                        help="address to listen on (default: [dashboard] host, 127.0.0.1)")
    server.add_argument("--port", type=int, metavar="N",
                        help="port (default: [dashboard] port; 0: any free port)")
    server.add_argument("--out", type=Path, metavar="DIR",
                        help="where builds are written (default: a private temporary "
                             "directory, removed on exit)")
    server.add_argument("--interval", type=float, metavar="S",
                        help="seconds between checks for a changed database "
                             "(default: [dashboard] poll_seconds)")
    server.set_defaults(handler=run_serve)
    for sub in (builder, server):
        sub.add_argument("--db", type=Path, metavar="PATH",
                         help="the bot's SQLite state (default: [storage] db, else "
                              "$XDG_DATA_HOME/reviewbot/state.db); opened read-only")
        sub.add_argument("--maintainers", type=Path, metavar="FILE",
                         help="the kernel's MAINTAINERS file, for subsystem and maintainer "
                              "pages (default: [dashboard] maintainers)")
        sub.add_argument("--config", type=Path, metavar="FILE", help="site configuration")
        sub.add_argument("-v", "--verbose", action="store_true", help="log more on stderr")


def maintainers_path(args: argparse.Namespace, settings: Settings) -> Path | None:
    """--maintainers, else [dashboard] maintainers, else none."""
    if args.maintainers is not None:
        return Path(args.maintainers)
    if settings.dashboard.maintainers:
        return Path(settings.dashboard.maintainers).expanduser()
    return None


def run_build(args: argparse.Namespace) -> int:
    """Build the site once."""
    from reviewbot.cli import UsageError

    setup_logging(args.verbose)
    settings = settings_from(args)
    try:
        result = build(db_path(args, settings), args.out, settings.dashboard,
                       maintainers_path(args, settings))
    except (BuildError, DataError) as exc:
        raise UsageError(str(exc)) from exc
    for warning in result.warnings:
        print(terminal_safe(f"reviewbot: warning: {warning}"), file=sys.stderr)
    print(f"reviewbot: dashboard: {result.pages} pages, {result.series} series, "
          f"{result.findings} findings in {result.seconds:.2f} s -> "
          f"{terminal_safe(str(result.out))}", file=sys.stderr)
    return 0


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _stop(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(0)


def run_serve(args: argparse.Namespace) -> int:
    """Build, then serve until interrupted, rebuilding when the database changes."""
    from reviewbot.cli import UsageError

    setup_logging(args.verbose)
    settings = settings_from(args)
    host = args.host or settings.dashboard.host
    port = settings.dashboard.port if args.port is None else args.port
    interval = args.interval if args.interval is not None else settings.dashboard.poll_seconds
    if not 0 <= port < 65536:
        raise UsageError("--port must be between 0 and 65535")
    if interval <= 0:
        raise UsageError("--interval must be positive")
    previous = signal.signal(signal.SIGTERM, _stop)
    dashboard = Dashboard(db_path(args, settings), settings.dashboard,
                          maintainers_path(args, settings), args.out)
    try:
        try:
            dashboard.rebuild()
        except (BuildError, DataError) as exc:
            raise UsageError(str(exc)) from exc
        try:
            server = make_server(dashboard, host, port, quiet=not args.verbose)
        except OSError as exc:
            raise UsageError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
        if not _is_loopback(host):
            print(f"reviewbot: warning: serving on {host}, reachable from other machines",
                  file=sys.stderr)
        bound_host, bound_port = server.server_address[:2]
        shown = f"[{bound_host!s}]" if ":" in str(bound_host) else str(bound_host)
        print(f"reviewbot: serving http://{shown}:{bound_port}/ (read-only; Ctrl-C stops)",
              file=sys.stderr, flush=True)
        stop = threading.Event()
        rebuilder = watch(dashboard, stop, interval)
        try:
            server.serve_forever(poll_interval=0.25)
        except KeyboardInterrupt:
            pass
        finally:
            stop.set()
            server.server_close()
            rebuilder.join(timeout=30)
    finally:
        dashboard.close()
        signal.signal(signal.SIGTERM, previous)
    return 0
