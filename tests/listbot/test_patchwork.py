"""Patchwork checks: one per patch, retried on 5xx, never duplicated.

The patchwork server here implements only the subset of the patchwork REST API
reviewbot calls (see reviewbot/publish/patchwork.py):

- ``GET  /api/patches/?msgid=<id>``       -> ``[{"id": N, "msgid": "<id>"}]`` or ``[]``
- ``GET  /api/patches/<N>/checks/``       -> the checks posted so far
- ``POST /api/patches/<N>/checks/``       -> 201, needs ``Authorization: Token <token>``
"""

from __future__ import annotations

import json
import threading
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.listbot import mails
from tests.listbot.conftest import Run, db_rows, run_cli, write_config
from tests.listbot.harness import PublicInbox

TOKEN = "pw-secret-token-123"


class FakePatchwork:
    """Patches by Message-ID, checks posted per patch, and injectable failures."""

    def __init__(self) -> None:
        self.patches: dict[str, int] = {}
        self.checks: dict[int, list[dict[str, Any]]] = {}
        self.posts = 0
        self.fail_posts = 0  # answer 503 to this many POSTs
        self.store_failed = False  # ...after storing the check anyway
        self.unknown: set[str] = set()  # Message-IDs patchwork has not seen yet
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def _json(self, status: int, data: object) -> None:
                body = json.dumps(data).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/api/patches/":
                    msgid = urllib.parse.parse_qs(url.query).get("msgid", [""])[0]
                    found = msgid in owner.patches and msgid not in owner.unknown
                    self._json(200, [{"id": owner.patches[msgid], "msgid": f"<{msgid}>"}]
                               if found else [])
                    return
                parts = url.path.strip("/").split("/")
                if len(parts) == 4 and parts[:2] == ["api", "patches"] and parts[3] == "checks":
                    self._json(200, owner.checks.get(int(parts[2]), []))
                    return
                self._json(404, {"detail": "Not found."})

            def do_POST(self) -> None:
                parts = urllib.parse.urlsplit(self.path).path.strip("/").split("/")
                length = int(self.headers.get("Content-Length") or 0)
                data = json.loads(self.rfile.read(length) or b"{}")
                if self.headers.get("Authorization") != f"Token {TOKEN}":
                    self._json(403, {"detail": "Invalid token."})
                    return
                if not (len(parts) == 4 and parts[3] == "checks"):
                    self._json(404, {"detail": "Not found."})
                    return
                owner.posts += 1
                patch_id = int(parts[2])
                if owner.fail_posts:
                    owner.fail_posts -= 1
                    if owner.store_failed:
                        owner.checks.setdefault(patch_id, []).append(data)
                    self._json(503, {"detail": "busy"})
                    return
                owner.checks.setdefault(patch_id, []).append(data)
                self._json(201, data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def patchwork() -> Iterator[FakePatchwork]:
    server = FakePatchwork()
    yield server
    server.stop()


def _setup(tmp_path: Path, inbox: PublicInbox, pw: FakePatchwork, tag: str
           ) -> tuple[Path, Path]:
    inbox.deliver(*mails.series(tag))
    inbox.start()
    for counter in (1, 2, 3):
        pw.patches[mails.msgid(tag, 1, counter)] = 100 + counter
    cfg = write_config(tmp_path / "site.toml", extra="""
        [mail]
        on_clean = "patchwork"

        [patchwork]
        backoff_seconds = 0.01
        retry_seconds = 0
        """)
    return tmp_path / "state.db", cfg


def _watch(inbox: PublicInbox, db: Path, cfg: Path, pw: FakePatchwork, tmp_path: Path
           ) -> Run:
    return run_cli("watch", "lore", "--url", inbox.url, "--once", "--db", str(db),
                   "--config", str(cfg), "--outbox-dir", str(tmp_path / "out"),
                   "--patchwork", pw.url)


@pytest.mark.parametrize("stored_anyway", [False, True])
def test_one_check_per_patch_retried_on_5xx(
        tmp_path: Path, inbox: PublicInbox, patchwork: FakePatchwork,
        monkeypatch: pytest.MonkeyPatch, stored_anyway: bool) -> None:
    monkeypatch.setenv("REVIEWBOT_PATCHWORK_TOKEN", TOKEN)
    db, cfg = _setup(tmp_path, inbox, patchwork, "p1")
    patchwork.fail_posts = 1
    patchwork.store_failed = stored_anyway
    run = _watch(inbox, db, cfg, patchwork, tmp_path)
    assert run.status == 0, run.err
    assert "3 patchwork checks" in run.err
    got = {pid: [(c["state"], c["context"]) for c in checks]
           for pid, checks in patchwork.checks.items()}
    assert got == {101: [("success", "reviewbot")], 102: [("fail", "reviewbot")],
                   103: [("success", "reviewbot")]}
    fail = patchwork.checks[102][0]
    assert fail["description"].startswith("1 memory-reclaim recursion finding(s): MEMALLOC-001")
    assert fail["target_url"] == "https://lore.kernel.org/r/" + mails.msgid("p1", 1, 2)
    assert patchwork.posts == 3 + (0 if stored_anyway else 1)
    # Again: nothing new.
    assert _watch(inbox, db, cfg, patchwork, tmp_path).status == 0
    assert sum(len(c) for c in patchwork.checks.values()) == 3
    # The token is in neither the output nor the database.
    assert TOKEN not in run.err + run.out
    assert TOKEN.encode() not in db.read_bytes()


def test_patch_not_in_patchwork_yet_is_checked_later(
        tmp_path: Path, inbox: PublicInbox, patchwork: FakePatchwork,
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWBOT_PATCHWORK_TOKEN", TOKEN)
    db, cfg = _setup(tmp_path, inbox, patchwork, "p2")
    patchwork.unknown = {mails.msgid("p2", 1, 2)}
    assert _watch(inbox, db, cfg, patchwork, tmp_path).status == 0
    assert sorted(patchwork.checks) == [101, 103]
    pending = db_rows(db, "SELECT patch_msgid, status, reason FROM patchwork_checks WHERE "
                          "status != 'sent'")
    assert [(r["patch_msgid"], r["status"]) for r in pending] == [
        (mails.msgid("p2", 1, 2), "pending")]
    assert "no patch" in pending[0]["reason"]
    patchwork.unknown = set()
    assert _watch(inbox, db, cfg, patchwork, tmp_path).status == 0
    assert sorted(patchwork.checks) == [101, 102, 103]
    assert sum(len(c) for c in patchwork.checks.values()) == 3


def test_wrong_token_is_reported_not_retried_forever(
        tmp_path: Path, inbox: PublicInbox, patchwork: FakePatchwork,
        monkeypatch: pytest.MonkeyPatch) -> None:
    db, cfg = _setup(tmp_path, inbox, patchwork, "p3")
    run = run_cli("watch", "lore", "--url", inbox.url, "--once", "--db", str(db),
                  "--config", str(cfg), "--outbox-dir", str(tmp_path / "out"),
                  "--patchwork", patchwork.url, "--token", "wrong-token")
    assert run.status == 0
    assert patchwork.checks == {}
    rows = db_rows(db, "SELECT status, reason FROM patchwork_checks")
    assert {r["status"] for r in rows} == {"pending"}
    assert all("HTTP 403" in r["reason"] for r in rows[:1])
    assert "wrong-token" not in run.err
