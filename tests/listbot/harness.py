"""Real servers for the list-bot tests, all on 127.0.0.1: a public-inbox v2 inbox
served by public-inbox-httpd, and an aiosmtpd SMTP sink.

public-inbox runs with its own HOME and PI_CONFIG under the test's temp dir;
mail is delivered with public-inbox-mda (spamcheck off), exactly as a list
server would hand it over.
"""

from __future__ import annotations

import os
import socket
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller

from tests.listbot.mails import LIST


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_http(url: str, timeout: float = 30.0) -> None:
    """Wait until ``url`` answers 200."""
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:
                if resp.status == 200:
                    return
        except (urllib.error.URLError, OSError) as exc:
            last = exc
        time.sleep(0.05)
    raise TimeoutError(f"{url} did not come up: {last}")


class PublicInbox:
    """A v2 inbox in ``root`` and, once started, its HTTP server."""

    def __init__(self, root: Path, name: str = "foofs", address: str = LIST) -> None:
        self.root = root
        self.name = name
        self.address = address
        self.home = root / "pi-home"
        self.dir = root / "inbox"
        self.config = self.home / ".public-inbox" / "config"
        self.proc: subprocess.Popen[bytes] | None = None
        self.port = 0
        self.delivered = 0

    def env(self) -> dict[str, str]:
        """The environment public-inbox runs in."""
        env = dict(os.environ)
        env.update(HOME=str(self.home), PI_CONFIG=str(self.config), ORIGINAL_RECIPIENT=
                   self.address, LC_ALL="C.UTF-8")
        return env

    def _run(self, *args: str, data: bytes | None = None) -> None:
        proc = subprocess.run(list(args), input=data, env=self.env(), capture_output=True,
                              timeout=60, check=False)
        if proc.returncode != 0:
            raise RuntimeError(f"{args[0]} failed ({proc.returncode}): "
                               f"{proc.stderr.decode(errors='replace')[-2000:]}")

    def init(self) -> PublicInbox:
        """public-inbox-init -V2, spam checks off."""
        self.home.mkdir(parents=True, exist_ok=True)
        self._run("public-inbox-init", "-V2", self.name, str(self.dir),
                  f"http://127.0.0.1/{self.name}", self.address)
        self._run("git", "config", "--file", str(self.config), "publicinboxmda.spamcheck",
                  "none")
        return self

    def deliver(self, *mails: bytes) -> None:
        """Deliver each mail with public-inbox-mda (restarting a running server after)."""
        for raw in mails:
            self._run("public-inbox-mda", data=raw)
            self.delivered += 1
        if self.proc is not None:
            # public-inbox-httpd keeps its Xapian handle for up to 30 s; a restart
            # (on the same port) makes new mail searchable at once.
            self.stop()
            self.start(self.port)

    def index(self) -> None:
        """public-inbox-index (search needs it before httpd starts)."""
        self._run("public-inbox-index", str(self.dir))

    @property
    def url(self) -> str:
        """The inbox URL on the running server."""
        return f"http://127.0.0.1:{self.port}/{self.name}"

    def start(self, port: int = 0) -> str:
        """Index, then start public-inbox-httpd (on ``port`` or a free one); the inbox URL."""
        self.index()
        for attempt in range(5):
            self.port = port if port and attempt == 0 else free_port()
            log = open(self.root / "httpd.log", "ab")  # noqa: SIM115 - closed with the process
            self.proc = subprocess.Popen(
                ["public-inbox-httpd", "-W0", "-l", f"http://127.0.0.1:{self.port}"],
                env=self.env(), stdout=log, stderr=log, stdin=subprocess.DEVNULL)
            log.close()
            try:
                wait_http(f"{self.url}/_/text/help/", timeout=20)
                return self.url
            except TimeoutError:
                self.stop()
        raise RuntimeError(f"public-inbox-httpd did not start: "
                           f"{(self.root / 'httpd.log').read_text(errors='replace')[-2000:]}")

    def stop(self) -> None:
        """Stop the server (the inbox stays)."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


@dataclass
class Received:
    """One mail the sink accepted."""

    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class _Handler:
    mails: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.mails.append(Received(envelope.mail_from, list(envelope.rcpt_tos),
                                   bytes(envelope.original_content or envelope.content)))
        return "250 OK"


class SmtpSink:
    """A real SMTP server (aiosmtpd) that keeps every mail it is given."""

    def __init__(self, port: int | None = None, **smtp_kwargs: Any) -> None:
        self.port = port or free_port()
        self.handler = _Handler()
        self.kwargs = smtp_kwargs
        self.controller: Controller | None = None

    @property
    def mails(self) -> list[Received]:
        """Everything accepted so far."""
        return self.handler.mails

    def start(self) -> SmtpSink:
        """Listen on 127.0.0.1:port."""
        self.controller = Controller(self.handler, hostname="127.0.0.1", port=self.port,
                                     **self.kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        """Stop listening (mails are kept)."""
        controller, self.controller = self.controller, None
        if controller is not None:
            controller.stop()
