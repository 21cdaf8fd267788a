"""`reviewbot dashboard serve`: loopback by default, read-only, security headers, no path
traversal, and a rebuild when the database changes."""

from __future__ import annotations

import http.client
import os
import select
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reviewbot.config import load_settings
from reviewbot.dashboard.serve import Dashboard, make_server, resolve
from reviewbot.pipeline import Options
from reviewbot.store import Store
from reviewbot.watch.bot import Bot
from tests.dashboard.browser import Page, dump_dom, read_png, screenshot
from tests.dashboard.filldb import START, Clock, Filled, Sink
from tests.dashboard.test_browser import HEADER_GREY
from tests.listbot import mails

ROOT = Path(__file__).resolve().parents[2]


class Served:
    """A `reviewbot dashboard serve` process."""

    def __init__(self, *args: str) -> None:
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen([sys.executable, "-m", "reviewbot", "dashboard", "serve",
                                      *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     env=env, cwd=ROOT)
        self.err = ""
        deadline = time.monotonic() + 60
        assert self.proc.stderr is not None
        while "serving http://" not in self.err:
            assert time.monotonic() < deadline, self.err
            ready, _, _ = select.select([self.proc.stderr], [], [], 1)
            if ready:
                line = self.proc.stderr.readline().decode()
                assert line or self.proc.poll() is None, self.err
                self.err += line
        url = self.err.split("serving ", 1)[1].split()[0]
        self.url = url.rstrip("/")
        self.host, port = url.removeprefix("http://").rstrip("/").rsplit(":", 1)
        self.port = int(port)

    def get(self, path: str, method: str = "GET") -> tuple[int, dict[str, str], bytes]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        try:
            conn.request(method, path)  # sent as written: no client-side normalising
            resp = conn.getresponse()
            return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
        finally:
            conn.close()

    def stop(self) -> int:
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=20)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()


@pytest.fixture
def served(filled: Filled, maintainers: Path, tmp_path: Path) -> Iterator[Served]:
    server = Served("--db", str(filled.db), "--port", "0", "--interval", "0.2",
                    "--maintainers", str(maintainers), "--out", str(tmp_path / "builds"))
    yield server
    server.stop()


def listening_address(port: int) -> str:
    """The local address of the LISTEN socket on ``port`` (from /proc/net/tcp)."""
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        address, hexport = fields[1].split(":")
        if int(hexport, 16) == port and fields[3] == "0A":
            raw = bytes.fromhex(address)[::-1]
            return ".".join(str(b) for b in raw)
    raise AssertionError(f"nothing listens on port {port}")


def test_binds_loopback_by_default(served: Served) -> None:
    assert served.host == "127.0.0.1"
    assert listening_address(served.port) == "127.0.0.1"
    dashboard = Dashboard(Path("unused.db"), load_settings().dashboard)
    server = make_server(dashboard)
    try:
        assert server.server_address[0] == "127.0.0.1"
    finally:
        server.server_close()
        dashboard.close()


def test_security_headers_on_every_response(served: Served) -> None:
    for path, expected in (("/", 200), ("/index.html", 200), ("/style.css", 200),
                           ("/feed.atom", 200), ("/nope.html", 404)):
        status, headers, _ = served.get(path)
        assert status == expected, path
        csp = headers["content-security-policy"]
        assert "default-src 'none'" in csp and "style-src 'self'" in csp
        assert "script-src" not in csp and "unsafe" not in csp
        assert headers["x-content-type-options"] == "nosniff"
        assert headers["x-frame-options"] == "DENY"
    assert served.get("/feed.atom")[1]["content-type"].startswith("application/atom+xml")
    assert served.get("/style.css")[1]["content-type"].startswith("text/css")


@pytest.mark.parametrize("path", [
    "/../../../../etc/passwd", "/series/../../../etc/passwd", "/%2e%2e/%2e%2e/etc/passwd",
    "/series/..%2f..%2f..%2fetc%2fpasswd", "//etc/passwd", "/index.html%00.css",
    "/.reviewbot-dashboard", "/series/%2e%2e/index.html", "/%c0%ae%c0%ae/etc/passwd",
    "/..\\..\\etc\\passwd",
])
def test_path_traversal_is_refused(served: Served, path: str) -> None:
    status, _, body = served.get(path)
    assert status in (400, 404)
    assert b"root:" not in body


def test_read_only_methods(served: Served) -> None:
    for method in ("POST", "PUT", "DELETE"):
        assert served.get("/index.html", method)[0] == 405
    status, headers, body = served.get("/index.html", "HEAD")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 1000


def test_rebuilds_after_the_database_changes(served: Served, filled: Filled) -> None:
    status, _, body = served.get("/series/index.html")
    assert status == 200 and b"late arrival" not in body
    clock = Clock(START + 30 * 86400)
    settings = load_settings(None, {"bot": {"address": "reviewbot@bot.example.net"}})
    bot = Bot(Store.open(filled.db), settings, Options(settings=settings), Sink(), clock=clock,
              echo=lambda _text: None)
    try:
        for raw in mails.series("late", fs="foofs"):
            bot.take(raw.replace(b"cache directory blocks", b"late arrival"), "test")
        bot.process()
    finally:
        bot.close()
        bot.store.close()
    deadline = time.monotonic() + 30
    while b"late arrival" not in served.get("/series/index.html")[2]:
        assert time.monotonic() < deadline, "the dashboard was not rebuilt"
        time.sleep(0.2)
    assert served.get("/series/20.html")[0] == 200


def test_chromium_loads_the_served_site_with_its_stylesheet(served: Served,
                                                            tmp_path: Path) -> None:
    dom = dump_dom(f"{served.url}/index.html")
    page = Page.of(dom)
    assert page.count("script") == 0 and page.count("svg") >= 5
    image = read_png(screenshot(f"{served.url}/index.html", tmp_path / "served.png"))
    assert image.count(HEADER_GREY) > 10_000  # CSP lets the site's own stylesheet in


def test_sigterm_stops_and_removes_the_private_build_directory(filled: Filled,
                                                               tmp_path: Path) -> None:
    before = set(Path(tempfile.gettempdir()).glob("reviewbot-dashboard-*"))
    server = Served("--db", str(filled.db), "--port", "0")
    after = set(Path(tempfile.gettempdir()).glob("reviewbot-dashboard-*"))
    assert len(after - before) == 1
    assert server.stop() == 0
    assert not (after - before).pop().exists()


def test_resolve_stays_inside_the_site(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "series").mkdir(parents=True)
    (site / "index.html").write_text("x")
    (site / "series" / "1.html").write_text("x")
    (tmp_path / "secret.txt").write_text("secret")
    (site / "link.html").symlink_to(tmp_path / "secret.txt")
    assert resolve(site, "/") == (site / "index.html").resolve()
    assert resolve(site, "/series/1.html?x=1#f2") == (site / "series" / "1.html").resolve()
    for bad in ("/link.html", "/../secret.txt", "/series/", "/series", "relative.html",
                "/series//1.html", "/%2e%2e/secret.txt"):
        assert resolve(site, bad) is None, bad


def test_a_failed_rebuild_keeps_serving_the_previous_site(filled: Filled,
                                                          tmp_path: Path) -> None:
    dashboard = Dashboard(filled.db, load_settings().dashboard, workdir=tmp_path / "w")
    try:
        first = dashboard.rebuild()
        assert dashboard.refresh() is False
        filled.db.write_bytes(b"garbage" * 1000)
        assert dashboard.refresh() is False
        assert dashboard.root == first and (first / "index.html").is_file()
    finally:
        dashboard.close()
