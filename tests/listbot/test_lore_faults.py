"""Lore faults: unreachable, 5xx, truncated gzip, timeouts. Nothing is lost, the cursor
stays, and the next good poll takes everything.

The server here is a stand-in for public-inbox's search endpoint (``POST
/<inbox>/?x=m&q=...`` answering a gzipped mboxrd, 404 for no results) that can
be told to fail; the real server is exercised in test_watch_lore.py.
"""

from __future__ import annotations

import contextlib
import gzip
import threading
import time
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from tests.listbot import mails
from tests.listbot.conftest import Run, db_rows, run_cli, write_config
from tests.listbot.harness import free_port


class FakeInbox:
    """Serves canned messages, or fails the way it is told to."""

    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.mode = "ok"
        self.queries: list[str] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query)
                owner.queries.append(query.get("q", [""])[0])
                owner.answer(self)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/foofs"

    def answer(self, handler: BaseHTTPRequestHandler) -> None:
        if self.mode == "503":
            handler.send_response(503)
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        if self.mode == "slow":
            time.sleep(2.5)
        if not self.messages:
            handler.send_response(404)
            handler.send_header("Content-Type", "text/plain")
            handler.send_header("Content-Length", "17")
            handler.end_headers()
            handler.wfile.write(b"No results found\n")
            return
        mbox = b"".join(b"From mboxrd@z Thu Jan  1 00:00:00 1970\n" + m + b"\n"
                        for m in self.messages)
        body = gzip.compress(mbox)
        if self.mode == "truncate":
            body = body[: len(body) // 2]
        handler.send_response(200)
        handler.send_header("Content-Type", "application/gzip")
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        with contextlib.suppress(OSError):
            handler.wfile.write(body)

    def start(self) -> FakeInbox:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake() -> Iterator[FakeInbox]:
    server = FakeInbox().start()
    yield server
    server.stop()


def _watch(url: str, db: Path, cfg: Path, out: Path) -> Run:
    return run_cli("watch", "lore", "--url", url, "--once", "--db", str(db), "--config",
                   str(cfg), "--outbox-dir", str(out))


@pytest.mark.parametrize("mode", ["503", "truncate", "slow"])
def test_fetch_failure_loses_nothing(tmp_path: Path, fake: FakeInbox, mode: str) -> None:
    fake.messages = mails.series("f1")
    fake.mode = mode
    db, out = tmp_path / "state.db", tmp_path / "out"
    cfg = write_config(tmp_path / "site.toml")
    cfg.write_text(cfg.read_text().replace("read_timeout = 10", "read_timeout = 1"))
    failed = _watch(fake.url, db, cfg, out)
    assert failed.status == 3, failed.err
    assert "(will retry; nothing was lost)" in failed.err
    assert len(fake.queries) == 2  # one try and one retry ([lore] retries = 1)
    assert db_rows(db, "SELECT * FROM messages") == []
    assert db_rows(db, "SELECT * FROM cursors") == []
    fake.mode = "ok"
    good = _watch(fake.url, db, cfg, out)
    assert good.status == 0, good.err
    assert len(db_rows(db, "SELECT * FROM messages")) == 4
    assert len(list(out.glob("*.eml"))) == 1
    assert len(db_rows(db, "SELECT * FROM cursors")) == 1


def test_unreachable_server(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/foofs"
    cfg = write_config(tmp_path / "site.toml")
    run = _watch(url, tmp_path / "state.db", cfg, tmp_path / "out")
    assert run.status == 3
    assert "nothing was lost" in run.err
    assert db_rows(tmp_path / "state.db", "SELECT * FROM cursors") == []


def test_queries_use_list_scope_and_received_time_windows(tmp_path: Path,
                                                          fake: FakeInbox) -> None:
    db, out = tmp_path / "state.db", tmp_path / "out"
    cfg = write_config(tmp_path / "site.toml")
    before = int(time.time())
    assert _watch(fake.url, db, cfg, out).status == 0  # no results (404): fine
    # First poll: [lore] backfill_hours (24) in windows of window_hours (6).
    assert len(fake.queries) == 4
    assert all(q.startswith('((l:"linux-foofs.lists.example.org")) AND rt:')
               for q in fake.queries)
    first_start = int(fake.queries[0].rsplit("rt:", 1)[1].split("..")[0])
    assert before - 24 * 3600 - 2 <= first_start <= before - 24 * 3600 + 2
    assert fake.queries[-1].endswith("..")  # the last window is open-ended
    cursor = int(db_rows(db, "SELECT value FROM cursors")[0]["value"])
    fake.queries.clear()
    assert _watch(fake.url, db, cfg, out).status == 0
    assert len(fake.queries) == 1
    start = int(fake.queries[0].rsplit("rt:", 1)[1].split("..")[0])
    assert start == cursor - 900  # [lore] overlap_seconds
