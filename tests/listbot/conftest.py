"""Fixtures for the list-bot tests: inbox, SMTP sink, config files, running the CLI."""

from __future__ import annotations

import contextlib
import email
import email.policy
import io
import sqlite3
import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import EmailMessage
from pathlib import Path

import pytest

from reviewbot.cli import main
from tests.listbot.harness import PublicInbox, SmtpSink
from tests.listbot.mails import LIST


@dataclass
class Run:
    """What one in-process CLI run did."""

    status: int
    out: str
    err: str


def run_cli(*args: str) -> Run:
    """Run ``reviewbot ARGS`` in this process, capturing stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            status = main(list(args))
        except SystemExit as exc:
            status = int(exc.code or 0)
    return Run(status, out.getvalue(), err.getvalue())


def write_config(path: Path, smtp_port: int | None = None, extra: str = "") -> Path:
    """A site config: the test list enabled in "lists" mode, SMTP on the sink."""
    smtp = f"""
        [smtp]
        host = "127.0.0.1"
        port = {smtp_port}
        security = "none"
        retry_seconds = 0
        timeout = 5
        """ if smtp_port else ""
    text = textwrap.dedent(f"""
        [bot]
        name = "reviewbot"
        address = "reviewbot@bot.example.net"
        contact = "bot-owner@example.net"

        [scope]
        lists = ["{LIST}"]

        [lore]
        retries = 1
        backoff_seconds = 0.05
        read_timeout = 10
        {smtp}
        """) + textwrap.dedent(extra) + textwrap.dedent(f"""
        [policy.lists."{LIST}"]
        mode = "lists"
        """)
    path.write_text(text, encoding="utf-8")
    return path


def parse(data: bytes) -> EmailMessage:
    """A mail as the sink got it (CRLF) as an EmailMessage."""
    msg = email.message_from_bytes(data.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def db_rows(db: Path, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
    """Read the bot's state (read-only)."""
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    try:
        return list(conn.execute(sql, params))
    finally:
        conn.close()


@dataclass
class Watcher:
    """Runs `reviewbot watch` over an inbox, through lore (httpd) or its git epochs."""

    via: str
    inbox: PublicInbox
    db: Path
    cfg: Path

    def ready(self) -> None:
        """Make delivered mail visible to the source (starts httpd for lore)."""
        if self.via == "lore" and self.inbox.proc is None:
            self.inbox.start()

    def args(self, once: bool = True) -> list[str]:
        """The command line (without the program name)."""
        source = (["lore", "--url", self.inbox.url] if self.via == "lore"
                  else ["public-inbox-git", "--repo", str(self.inbox.dir)])
        return ["watch", *source, "--db", str(self.db), "--config", str(self.cfg),
                *(["--once"] if once else ["--interval", "60"])]

    def run(self, *extra: str) -> Run:
        """One --once run, in this process."""
        self.ready()
        return run_cli(*self.args(), *extra)


@pytest.fixture(params=["lore", "public-inbox-git"])
def via(request: pytest.FixtureRequest) -> str:
    """Which source a scenario runs through."""
    return str(request.param)


@pytest.fixture
def inbox(tmp_path: Path) -> Iterator[PublicInbox]:
    """A fresh public-inbox v2 inbox (start() it after the first delivery)."""
    pi = PublicInbox(tmp_path / "pi").init()
    yield pi
    pi.stop()


@pytest.fixture
def sink() -> Iterator[SmtpSink]:
    """A running SMTP sink."""
    server = SmtpSink().start()
    yield server
    server.stop()
