"""Credentials come from config or the environment and never show up anywhere else.

Not in `reviewbot config`, not in configuration errors (even about the secret
itself), not in reprs, not in log records or output of a failing SMTP login or
patchwork call, not in the database, not in the outbox files.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from reviewbot.cli import main
from reviewbot.config import Settings, load_settings
from reviewbot.configlayers import load_effective
from reviewbot.pipeline import Options
from reviewbot.publish.patchwork import PatchworkClient
from reviewbot.publish.smtp import SmtpTransport
from reviewbot.store import Store
from reviewbot.watch.bot import Bot
from tests.hostile.corpus import mail
from tests.listbot.conftest import db_rows
from tests.listbot.harness import SmtpSink, free_port

PASSWORD = "s3cret-Passw0rd-xyzzy"
TOKEN = "pw-t0ken-plugh-42"
LIST = "linux-foofs@lists.example.org"


def _everything(capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture) -> str:
    out = capsys.readouterr()
    return out.out + out.err + "\n".join(
        f"{r.getMessage()} {r.exc_text or ''} {r.args!r}" for r in caplog.records)


def test_config_command_hides_secrets_from_file_and_environment(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text(f'[smtp]\npassword = "{PASSWORD}"\n[patchwork]\ntoken = "{TOKEN}"\n')
    assert main(["config", "--config", str(cfg)]) == 0
    shown = capsys.readouterr().out
    assert "(hidden)" in shown
    assert PASSWORD not in shown and TOKEN not in shown
    monkeypatch.setenv("REVIEWBOT_PATCHWORK_TOKEN", TOKEN)
    monkeypatch.setenv("REVIEWBOT_SMTP_PASSWORD", PASSWORD)
    assert main(["config"]) == 0
    shown = capsys.readouterr().out
    assert PASSWORD not in shown and TOKEN not in shown


@pytest.mark.parametrize("value", [f'["{PASSWORD}"]', f'{{ x = "{PASSWORD}" }}'])
def test_config_errors_about_a_secret_do_not_quote_it(
        value: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text(f"[smtp]\npassword = {value}\n[patchwork]\ntoken = [\"{TOKEN}\"]\n")
    assert main(["config", "--config", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "smtp.password" in err and PASSWORD not in err and TOKEN not in err
    with pytest.raises(Exception) as caught:
        load_settings(cfg)
    assert PASSWORD not in str(caught.value)


def test_settings_reprs_hide_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REVIEWBOT_SMTP_PASSWORD", PASSWORD)
    settings = Settings.model_validate({"smtp": {"password": PASSWORD},
                                        "patchwork": {"token": TOKEN}})
    effective = load_effective(None, use_git=False)
    for text in (repr(settings), str(settings), repr(settings.smtp), repr(effective)):
        assert PASSWORD not in text and TOKEN not in text


def test_failing_smtp_login_and_patchwork_never_show_secrets(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch) -> None:
    """A real SMTP server that offers no AUTH (the login fails) and a patchwork URL where
    nobody listens; secrets from the environment; everything logged at DEBUG."""
    monkeypatch.setenv("REVIEWBOT_SMTP_PASSWORD", PASSWORD)
    monkeypatch.setenv("REVIEWBOT_PATCHWORK_TOKEN", TOKEN)
    caplog.set_level(logging.DEBUG)
    sink = SmtpSink().start()
    try:
        settings = Settings.model_validate({
            "bot": {"address": "reviewbot@bot.example.net"},
            "scope": {"paths": [], "grace_minutes": 0},
            "smtp": {"host": "127.0.0.1", "port": sink.port, "security": "none",
                     "username": "bot", "timeout": 5},
            "patchwork": {"url": f"http://127.0.0.1:{free_port()}", "retries": 0,
                          "backoff_seconds": 0},
            "policy": {"lists": {LIST: {"mode": "lists"}}},
        })
        echoed: list[str] = []
        bot = Bot(Store.open(tmp_path / "state.db"), settings, Options(settings=settings),
                  SmtpTransport(settings.smtp), PatchworkClient(settings.patchwork),
                  echo=echoed.append)
        bot.take(mail(to=LIST), "test")
        bot.process(force={int(r["id"]) for r in bot.store.rows("SELECT id FROM series")})
        tally = bot.new_tally()
        bot.close()
        bot.store.close()
    finally:
        sink.stop()
    assert sink.mails == []  # the login failed: nothing was sent
    rows = db_rows(tmp_path / "state.db", "SELECT status, reason FROM outbox")
    assert rows and rows[0]["status"] == "pending" and "SMTP" in rows[0]["reason"]
    text = _everything(capsys, caplog) + "\n".join(echoed) + tally.line("test") + repr(tally)
    text += " ".join(str(r["reason"]) for r in rows)
    assert PASSWORD not in text and TOKEN not in text
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert PASSWORD.encode() not in data and TOKEN.encode() not in data, path
