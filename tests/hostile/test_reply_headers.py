"""Header injection into the reply: hostile Message-IDs, names and subjects.

The bot reads each hostile patch mail, reviews it (it carries a real hazard)
and sends its reply through a real transport: an outbox directory, and a real
SMTP server (aiosmtpd on 127.0.0.1). Every reply carries exactly the bot's own
headers, one value each, no control characters; the recipients are the author
and the list only; file names never derive from a Message-ID.
"""

from __future__ import annotations

import email
import email.policy
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from fuzz.targets import REPLY_HEADERS, check_reply
from reviewbot.config import Settings
from reviewbot.pipeline import Options
from reviewbot.publish.files import OutboxDir
from reviewbot.publish.smtp import SmtpTransport
from reviewbot.store import Store
from reviewbot.watch.bot import Bot
from tests.hostile.corpus import HAZARD, mail
from tests.listbot.harness import SmtpSink

LIST = "linux-foofs@lists.example.org"
SETTINGS = {
    "bot": {"address": "reviewbot@bot.example.net"},
    "scope": {"paths": [], "grace_minutes": 0},
    "policy": {"lists": {LIST: {"mode": "lists"}}},
}
EVIL = "victim@evil.example"
REQUIRED = {"from", "to", "subject", "date", "message-id", "auto-submitted", "x-mailer",
            "content-type", "content-transfer-encoding", "mime-version"}

# (header to replace, its hostile raw value); every case also gets a unique subject.
CASES: dict[str, tuple[str, str]] = {
    "shell metacharacters": ("Message-ID", "<$(touch${IFS}/tmp/owned);`id`|sh&x>y@evil.example>"),
    "folded header line": ("Message-ID", f"<fold@example.org>\n Bcc: {EVIL}"),
    "encoded CRLF in the id": ("Message-ID", f"=?utf-8?q?<enc@example.org>=0D=0ABcc:_{EVIL}?="),
    "CR inside the id": ("Message-ID", f"<cr\rBcc: {EVIL}@example.org>"),
    "NUL and tabs": ("Message-ID", "<nul\x00\t\x0b@example.org>"),
    "very long id": ("Message-ID", "<" + "a" * 5000 + "@example.org>"),
    "spaces and quotes": ("Message-ID", '<"a b" c@example.org>'),
    "CRLF in In-Reply-To": ("In-Reply-To", f"=?utf-8?q?<p@x>=0D=0ABcc:_{EVIL}?="),
    "CRLF in References": ("References", f"<r1@x>\n Bcc: {EVIL}\n <r2@x>"),
    "CRLF in the author name": ("From",
                                f"=?utf-8?q?Eve=0D=0ABcc:_{EVIL}?= <eve@example.org>"),
    "CRLF in the subject": ("Subject",
                            f"=?utf-8?q?[PATCH]_foofs:_crlf=0D=0ABcc:_{EVIL}?="),
    "terminal escapes in the subject": ("Subject",
                                        "[PATCH] foofs: \x1b]0;owned\x07\x1b[2Jescapes"),
}
# A bare CR ends the header line: the id is cut to "<cr", so the mail has none.
NO_REPLY = {"CR inside the id": ("malformed", "failed", "no Message-ID header")}


def hostile(case: str, index: int) -> bytes:
    name, value = CASES[case]
    raw = mail(subject=f"[PATCH] foofs: evict case {index}", msgid=f"case{index}@example.org",
               to=LIST, body="Sync.\n---\n" + HAZARD.replace("foofs", f"foofs{index}"))
    lines = raw.split(b"\n\n", 1)[0].split(b"\n")
    head = [ln for ln in lines if not ln.lower().startswith(f"{name.lower()}:".encode())]
    head.append(f"{name}: {value}".encode())
    return b"\n".join(head) + b"\n\n" + raw.split(b"\n\n", 1)[1]


def run_bot(tmp_path: Path, raws: list[bytes], transport: OutboxDir | SmtpTransport) -> Bot:
    settings = Settings.model_validate(SETTINGS)
    bot = Bot(Store.open(tmp_path / "state.db"), settings, Options(settings=settings),
              transport, echo=lambda text: None)
    for raw in raws:
        bot.take(raw, "test")
    bot.process(force={int(r["id"]) for r in bot.store.rows("SELECT id FROM series")})
    return bot


def parse(raw: bytes) -> EmailMessage:
    msg = email.message_from_bytes(raw.replace(b"\r\n", b"\n"), policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    return msg


def test_every_hostile_mail_gets_one_clean_reply(tmp_path: Path) -> None:
    names = sorted(CASES)
    outbox = tmp_path / "outbox"
    run_bot(tmp_path, [hostile(c, i) for i, c in enumerate(names)], OutboxDir(outbox))
    files = sorted(outbox.iterdir())
    assert len(files) == len(names) - len(NO_REPLY)
    for path in files:
        assert re.fullmatch(r"reviewbot-[0-9a-f]{32}\.eml", path.name)
        raw = path.read_bytes()
        msg = parse(raw)
        check_reply(raw, [a for _, a in email.utils.getaddresses(
            [str(v) for v in msg.get_all("To", []) + msg.get_all("Cc", [])])])
        assert REQUIRED <= {k.lower() for k in msg} <= REPLY_HEADERS
        # The victim's address may appear as words (a quoted display name, the subject),
        # never as an address: the recipients are checked below.
        assert re.fullmatch(r"<reviewbot\.[0-9a-f]{32}@bot\.example\.net>", msg["Message-ID"])
        assert "\x1b" not in str(msg["Subject"]) and "\r" not in str(msg["Subject"])
        assert all(ord(c) >= 32 for c in str(msg["Subject"]))
        recipients = {a for _, a in email.utils.getaddresses(
            [str(v) for v in msg.get_all("To", []) + msg.get_all("Cc", [])])}
        assert recipients in ({"alice@example.org", LIST}, {"eve@example.org", LIST})


def test_unsafe_parent_ids_are_left_out_not_passed_on(tmp_path: Path) -> None:
    """An id the reply cannot carry safely is dropped: the reply has no In-Reply-To rather
    than a broken one; a safe one (shell characters are just characters) is kept."""
    outbox = tmp_path / "outbox"
    run_bot(tmp_path, [hostile("shell metacharacters", 0), hostile("spaces and quotes", 1)],
            OutboxDir(outbox))
    replies = {str(parse(p.read_bytes())["Subject"]): parse(p.read_bytes())
               for p in outbox.iterdir()}
    shell = next(m for s, m in replies.items() if "case 0" in s)
    assert shell["In-Reply-To"] == "<$(touch${IFS}/tmp/owned);`id`|sh&x>"
    spaced = next(m for s, m in replies.items() if "case 1" in s)
    assert spaced["In-Reply-To"] is None and spaced["References"] is None
    assert not Path("/tmp/owned").exists()


def test_smtp_envelope_has_only_the_author_and_the_list(tmp_path: Path) -> None:
    sink = SmtpSink().start()
    try:
        settings = Settings.model_validate({**SETTINGS, "smtp": {
            "host": "127.0.0.1", "port": sink.port, "security": "none", "timeout": 5}})
        names = sorted(CASES)
        run_bot(tmp_path, [hostile(c, i) for i, c in enumerate(names)],
                SmtpTransport(settings.smtp))
    finally:
        sink.stop()
    assert len(sink.mails) == len(CASES) - len(NO_REPLY)
    for got in sink.mails:
        assert got.sender == "reviewbot@bot.example.net"
        assert set(got.recipients) in ({"alice@example.org", LIST}, {"eve@example.org", LIST})
        msg = parse(got.data)
        assert "bcc" not in {k.lower() for k in msg}
        check_reply(got.data.replace(b"\r\n", b"\n"), got.recipients)


@pytest.mark.parametrize("case", sorted(CASES))
def test_each_case_is_recorded_once(case: str, tmp_path: Path) -> None:
    bot = run_bot(tmp_path, [hostile(case, 7)] * 2, OutboxDir(tmp_path / "out"))
    rows = bot.store.rows("SELECT kind, status, reason FROM messages")
    assert len(rows) == 1
    if case in NO_REPLY:
        assert tuple(rows[0]) == NO_REPLY[case]
        assert not (tmp_path / "out").exists()
    else:
        assert rows[0]["status"] == "seen"
        assert len(list((tmp_path / "out").iterdir())) == 1
