"""The watcher as a separate process: SIGKILL mid-batch, SIGTERM, and a second watcher."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.listbot import mails
from tests.listbot.conftest import Watcher, db_rows, parse, run_cli, write_config
from tests.listbot.harness import PublicInbox, SmtpSink

SERIES = 6


def _spawn(args: list[str], log: Path) -> subprocess.Popen[bytes]:
    handle = open(log, "ab")  # noqa: SIM115 - closed right after the spawn
    try:
        return subprocess.Popen([sys.executable, "-m", "reviewbot", *args], stdout=handle,
                                stderr=handle, stdin=subprocess.DEVNULL, env=dict(os.environ))
    finally:
        handle.close()


def _wait_for(predicate, timeout: float = 60.0) -> None:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.02)
    raise TimeoutError("condition not reached")


def _batch(inbox: PublicInbox) -> None:
    for i in range(SERIES):
        inbox.deliver(*mails.series(f"k{i}", fs=f"foofs{i}"))


def _args(inbox: PublicInbox, db: Path, cfg: Path, once: bool = True) -> list[str]:
    return ["watch", "lore", "--url", inbox.url, "--db", str(db), "--config", str(cfg),
            *(["--once"] if once else ["--interval", "60"])]


def _assert_each_series_once(db: Path, sink: SmtpSink) -> None:
    series = db_rows(db, "SELECT id, status FROM series")
    assert len(series) == SERIES and {s["status"] for s in series} == {"reviewed"}
    reviews = db_rows(db, "SELECT series_id, msgid, COUNT(*) AS n FROM reviews "
                          "GROUP BY series_id, msgid")
    assert len(reviews) == 3 * SERIES and {r["n"] for r in reviews} == {1}
    ids = [parse(m.data)["Message-ID"] for m in sink.mails]
    assert len(ids) == len(set(ids)), "a reply was sent twice"
    outbox = db_rows(db, "SELECT message_id, status FROM outbox")
    assert len(outbox) == SERIES
    sent = {f"<{r['message_id']}>" for r in outbox if r["status"] == "sent"}
    uncertain = [r for r in outbox if r["status"] == "uncertain"]
    # A kill inside the SMTP dialogue leaves that one reply uncertain, never doubled.
    assert len(uncertain) <= 1
    assert set(ids) >= sent and len(sent) + len(uncertain) == SERIES


def _paced_config(path: Path, port: int) -> Path:
    cfg = write_config(path, port)
    cfg.write_text(cfg.read_text().replace("retry_seconds = 0",
                                           "retry_seconds = 0\nsend_interval_seconds = 0.5"))
    return cfg


@pytest.mark.slow
def test_sigkill_mid_batch_then_restart_reviews_every_series_once(
        tmp_path: Path, inbox: PublicInbox, sink: SmtpSink, via: str) -> None:
    _batch(inbox)
    bot = Watcher(via, inbox, tmp_path / "state.db",
                  _paced_config(tmp_path / "site.toml", sink.port))
    bot.ready()
    db = bot.db
    proc = _spawn(bot.args(), tmp_path / "watch1.log")
    try:
        _wait_for(lambda: len(sink.mails) >= 2)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == -signal.SIGKILL
    assert len(sink.mails) < SERIES, "the batch finished before the kill"
    run = bot.run()
    assert run.status == 0, run.err
    _assert_each_series_once(db, sink)
    # And a third run changes nothing.
    before = len(sink.mails)
    assert bot.run().status == 0
    assert len(sink.mails) == before


@pytest.mark.slow
def test_sigterm_finishes_the_current_item_and_exits_cleanly(
        tmp_path: Path, inbox: PublicInbox, sink: SmtpSink, via: str) -> None:
    _batch(inbox)
    bot = Watcher(via, inbox, tmp_path / "state.db",
                  _paced_config(tmp_path / "site.toml", sink.port))
    bot.ready()
    db = bot.db
    log = tmp_path / "watch.log"
    proc = _spawn(bot.args(once=False), log)
    try:
        _wait_for(lambda: len(sink.mails) >= 1)
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=15)
    finally:
        if proc.poll() is None:
            proc.kill()
    text = log.read_text()
    assert proc.returncode == 0, text
    assert "stopped (SIGTERM)" in text
    assert "Traceback" not in text
    states = {r["status"] for r in db_rows(db, "SELECT status FROM outbox")}
    assert states <= {"sent", "pending"}  # nothing left mid-delivery
    assert len(sink.mails) < SERIES
    assert bot.run().status == 0
    _assert_each_series_once(db, sink)
    assert not db_rows(db, "SELECT 1 FROM outbox WHERE status = 'uncertain'")


def test_a_second_watcher_on_the_same_database_is_refused(
        tmp_path: Path, inbox: PublicInbox) -> None:
    inbox.start()
    db = tmp_path / "state.db"
    cfg = write_config(tmp_path / "site.toml")
    log = tmp_path / "first.log"
    first = _spawn(_args(inbox, db, cfg, once=False), log)
    try:
        _wait_for(lambda: "new messages" in log.read_text(errors="replace"))
        second = run_cli(*_args(inbox, db, cfg))
        assert second.status == 2
        assert "in use by another reviewbot process" in second.err
    finally:
        first.send_signal(signal.SIGTERM)
        first.wait(timeout=15)
    assert first.returncode == 0
