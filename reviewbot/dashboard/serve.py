"""Serve the dashboard read-only over HTTP (stdlib ``http.server``), rebuilding it when the
database (or the MAINTAINERS file) changes.

Binds 127.0.0.1 unless told otherwise. Only GET and HEAD; only regular,
non-hidden files inside the current build; every response carries a
restrictive Content-Security-Policy (no script at all), ``nosniff``, no
framing and no referrer. Each rebuild is written to a new directory and then
switched to, so a request never sees half a site.
"""

from __future__ import annotations

import logging
import shutil
import socket
import tempfile
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit

from reviewbot.dashboard.build import load_maintainers, write_site
from reviewbot.dashboard.data import DataError, load
from reviewbot.dashboard.settings import DashboardSettings
from reviewbot.render.safe import terminal_safe

log = logging.getLogger(__name__)

CSP = ("default-src 'none'; style-src 'self'; img-src 'self' data:; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Cache-Control": "no-cache",
}
TYPES = {
    ".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8",
    ".atom": "application/atom+xml; charset=utf-8", ".json": "application/json",
}
Signature = tuple[tuple[int, int] | None, ...]


def _stat(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def resolve(root: Path, url_path: str) -> Path | None:
    """The file ``url_path`` names inside ``root``; None for anything else (traversal,
    hidden or missing files, directories without an index)."""
    path = unquote(urlsplit(url_path).path, errors="strict")
    if not path.startswith("/") or "\0" in path or "\\" in path:
        return None
    parts = path.split("/")[1:]
    if any(p in (".", "..") or p.startswith(".") for p in parts):
        return None
    if not parts or parts[-1] == "":
        parts = [*parts[:-1], "index.html"] if parts else ["index.html"]
    if any(p == "" for p in parts):
        return None
    base = root.resolve()
    candidate = base.joinpath(*parts)
    try:
        real = candidate.resolve(strict=True)
    except (OSError, RuntimeError):
        return None
    if not real.is_relative_to(base) or not real.is_file():
        return None
    return real


class Dashboard:
    """The current build of one database, rebuilt when its inputs change."""

    def __init__(self, db: Path, settings: DashboardSettings, maintainers: Path | None = None,
                 workdir: Path | None = None) -> None:
        self.db = db
        self.settings = settings
        self.maintainers = maintainers
        self.owns_workdir = workdir is None
        self.workdir = workdir or Path(tempfile.mkdtemp(prefix="reviewbot-dashboard-"))
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.root: Path | None = None
        self.builds = 0
        self.signature: Signature | None = None
        self._lock = threading.Lock()

    def inputs(self) -> Signature:
        """What a rebuild depends on: the database, its WAL, the MAINTAINERS file. An empty
        WAL counts as none (reading the database may create one)."""
        wal = _stat(self.db.with_name(self.db.name + "-wal"))
        return (_stat(self.db), wal if wal and wal[1] else None, _stat(self.maintainers))

    def rebuild(self) -> Path:
        """Build into a new directory and switch to it; drop older builds."""
        with self._lock:
            signature = self.inputs()
            index, warnings = load_maintainers(self.maintainers)
            for warning in warnings:
                log.warning("%s", warning)
            data = load(self.db)
            self.builds += 1
            target = Path(tempfile.mkdtemp(prefix=f"site-{self.builds}-", dir=self.workdir))
            try:
                write_site(data, target, self.settings, index)
            except BaseException:
                shutil.rmtree(target, ignore_errors=True)
                raise
            previous, self.root, self.signature = self.root, target, signature
            for old in self.workdir.glob("site-*"):
                if old not in (target, previous):
                    shutil.rmtree(old, ignore_errors=True)
            return target

    def refresh(self) -> bool:
        """Rebuild when an input changed; True when it did. A failed rebuild keeps the
        previous site and is logged."""
        if self.inputs() == self.signature:
            return False
        try:
            self.rebuild()
        except (DataError, OSError) as exc:
            log.warning("rebuilding the dashboard failed (still serving the previous one): %s",
                        terminal_safe(str(exc)))
            return False
        return True

    def close(self) -> None:
        """Remove the builds (and the work directory when it was a private temp dir)."""
        if self.owns_workdir:
            shutil.rmtree(self.workdir, ignore_errors=True)
        else:
            for old in self.workdir.glob("site-*"):
                shutil.rmtree(old, ignore_errors=True)


class Handler(BaseHTTPRequestHandler):
    """GET/HEAD of the current build's files, with the security headers."""

    server_version = "reviewbot-dashboard"
    sys_version = ""
    dashboard: Dashboard
    quiet = True

    def end_headers(self) -> None:
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        super().end_headers()

    def log_message(self, format: str, *args: object) -> None:
        if not self.quiet:
            log.info("%s", terminal_safe(format % args))

    def _send(self, body: bool) -> None:
        root = self.dashboard.root
        try:
            target = resolve(root, self.path) if root is not None else None
        except UnicodeDecodeError:
            target = None
        if target is None:
            self.send_error(HTTPStatus.NOT_FOUND, "Not found")
            return
        data = target.read_bytes()
        self.send_response(HTTPStatus.OK)
        self.send_header("Content-Type", TYPES.get(target.suffix, "application/octet-stream"))
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if body:
            self.wfile.write(data)

    def do_GET(self) -> None:
        """Serve a file."""
        self._send(True)

    def do_HEAD(self) -> None:
        """Headers only."""
        self._send(False)

    def _refuse(self) -> None:
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED, "Read-only")

    do_POST = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _refuse


class _Server6(ThreadingHTTPServer):
    address_family = socket.AF_INET6


def make_server(dashboard: Dashboard, host: str = "127.0.0.1", port: int = 0,
                quiet: bool = True) -> ThreadingHTTPServer:
    """An HTTP server for ``dashboard`` (not started)."""
    handler = type("DashboardHandler", (Handler,), {"dashboard": dashboard, "quiet": quiet})
    server_class = _Server6 if ":" in host else ThreadingHTTPServer
    server = server_class((host, port), handler)
    server.daemon_threads = True
    return server


def watch(dashboard: Dashboard, stop: threading.Event, interval: float) -> threading.Thread:
    """A thread that refreshes ``dashboard`` every ``interval`` seconds until ``stop``."""
    def loop() -> None:
        while not stop.wait(interval):
            dashboard.refresh()

    thread = threading.Thread(target=loop, name="dashboard-rebuild", daemon=True)
    thread.start()
    return thread
