"""SMTP delivery against aiosmtpd: STARTTLS, SMTPS, AUTH, rejections; the password never
appears in errors, output or the database."""

from __future__ import annotations

import logging
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.smtp import AuthResult, LoginPassword

from reviewbot.botconfig import SmtpSettings
from reviewbot.publish import SendError
from reviewbot.publish.smtp import SmtpTransport
from tests.listbot import mails
from tests.listbot.conftest import Watcher, db_rows, write_config
from tests.listbot.harness import PublicInbox, SmtpSink

PASSWORD = "correct horse battery staple"


@pytest.fixture(scope="module")
def cert(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    where = tmp_path_factory.mktemp("tls")
    key, crt = where / "key.pem", where / "cert.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                    "ec_paramgen_curve:prime256v1", "-nodes", "-keyout", str(key), "-out",
                    str(crt), "-days", "2", "-subj", "/CN=127.0.0.1", "-addext",
                    "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return key, crt


def _auth(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = (isinstance(data, LoginPassword) and data.login == b"bot"
          and data.password == PASSWORD.encode())
    return AuthResult(success=ok, handled=False)


def _server_context(cert: tuple[Path, Path]) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(str(cert[1]), str(cert[0]))
    return ctx


@pytest.fixture
def tls_sink(cert: tuple[Path, Path]) -> Iterator[SmtpSink]:
    server = SmtpSink(tls_context=_server_context(cert), require_starttls=True,
                      authenticator=_auth, auth_require_tls=True).start()
    yield server
    server.stop()


def _settings(port: int, cert: tuple[Path, Path], **kw: Any) -> SmtpSettings:
    base: dict[str, Any] = dict(host="127.0.0.1", port=port, security="starttls",
                                username="bot", ca_file=str(cert[1]), timeout=5)
    base.update(kw)
    return SmtpSettings(**base)


def test_starttls_and_login(tls_sink: SmtpSink, cert: tuple[Path, Path],
                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWBOT_SMTP_PASSWORD", PASSWORD)
    transport = SmtpTransport(_settings(tls_sink.port, cert))
    transport.send(b"Subject: hi\nMessage-ID: <a@b>\n\nbody\nline\n", "bot@example.net",
                   ["alice@example.org"], "a@b")
    transport.close()
    assert len(tls_sink.mails) == 1
    assert tls_sink.mails[0].data.endswith(b"body\r\nline\r\n")


def test_wrong_password_is_temporary_and_never_shown(
        tls_sink: SmtpSink, cert: tuple[Path, Path], caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    transport = SmtpTransport(_settings(tls_sink.port, cert, password="wrong-pass-42"))
    with pytest.raises(SendError) as err:
        transport.send(b"Subject: x\n\nx\n", "bot@example.net", ["a@example.org"], "x@y")
    assert not err.value.permanent
    assert "login as bot refused" in str(err.value)
    assert "wrong-pass-42" not in str(err.value) + caplog.text


def test_untrusted_certificate_is_refused(tls_sink: SmtpSink, cert: tuple[Path, Path]
                                          ) -> None:
    transport = SmtpTransport(_settings(tls_sink.port, cert, ca_file="", password=PASSWORD))
    with pytest.raises(SendError, match="unreachable"):
        transport.send(b"Subject: x\n\nx\n", "bot@example.net", ["a@example.org"], "x@y")


def test_smtps(cert: tuple[Path, Path]) -> None:
    from aiosmtpd.controller import Controller

    sink = SmtpSink()
    sink.controller = Controller(sink.handler, hostname="127.0.0.1", port=sink.port,
                                 ssl_context=_server_context(cert))
    sink.controller.start()
    try:
        transport = SmtpTransport(_settings(sink.port, cert, security="ssl", username=""))
        transport.send(b"Subject: x\n\nx\n", "bot@example.net", ["a@example.org"], "x@y")
        transport.close()
        assert len(sink.mails) == 1
    finally:
        sink.stop()


class _Reject:
    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str,
                          options: Any) -> str:
        return "550 5.1.1 no such user"


def test_rejected_reply_fails_permanently(tmp_path: Path, inbox: PublicInbox) -> None:
    from aiosmtpd.controller import Controller

    from tests.listbot.harness import free_port

    port = free_port()
    controller = Controller(_Reject(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        inbox.deliver(*mails.series("x1"))
        bot = Watcher("public-inbox-git", inbox, tmp_path / "state.db",
                      write_config(tmp_path / "site.toml", port))
        run = bot.run()
        assert run.status == 0, run.err
        rows = db_rows(bot.db, "SELECT status, reason FROM outbox")
        assert [r["status"] for r in rows] == ["failed"]
        assert "every recipient refused ([550])" in rows[0]["reason"]
        assert "1 failed" in run.err
    finally:
        controller.stop()


def test_password_is_never_stored(tmp_path: Path, inbox: PublicInbox, tls_sink: SmtpSink,
                                  cert: tuple[Path, Path]) -> None:
    inbox.deliver(*mails.series("x2"))
    cfg = write_config(tmp_path / "site.toml", tls_sink.port)
    text = cfg.read_text().replace('security = "none"', f'security = "starttls"\nusername = '
                                   f'"bot"\npassword = "{PASSWORD}"\nca_file = "{cert[1]}"')
    cfg.write_text(text)
    bot = Watcher("public-inbox-git", inbox, tmp_path / "state.db", cfg)
    run = bot.run("-v")
    assert run.status == 0, run.err
    assert len(tls_sink.mails) == 1
    assert PASSWORD not in run.err + run.out
    for path in tmp_path.glob("state.db*"):
        assert PASSWORD.encode() not in path.read_bytes()
