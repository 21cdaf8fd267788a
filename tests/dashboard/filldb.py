"""Fill a state database through the list bot's real pipeline (intake, series assembly,
review, policy, outbox, sending) with a controlled clock: three weeks of synthetic
traffic on two lists, a reroll that fixes its finding, a false-positive reply, and a
series whose subject and author carry markup, quotes and non-ASCII text.
"""

from __future__ import annotations

import base64
import email
import email.policy
import email.utils
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from reviewbot.config import load_settings
from reviewbot.pipeline import Options
from reviewbot.store import Store
from reviewbot.watch.bot import Bot
from tests.listbot import mails

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "rules"
LIST = mails.LIST
OTHER = "linux-barfs@lists.example.org"
OTHER_ID = "linux-barfs.lists.example.org"
DAY = 86400.0
START = 1_800_000_000.0  # 2027-01-15
HOSTILE_TITLE = 'foofs: <script>alert("x")</script> "quoted" & \'single\' \u2014 Zo\u00eb\u2019s \u00fcn\u00efc\u00f8de \u2713'
HOSTILE_AUTHOR = ('<script>alert(1)</script> Zo\u00eb "Q" O\'Br\u00efen', "zoe@example.org")
AUTHORS = [("Alice Developer", "alice@example.org"), ("Carl Coder", "carl@example.org"),
           ("Dana Hacker", "dana@example.org")]
PATCHES = [
    "evict-mutex-in-drop-inode", "memalloc-goto-error-path-leak", "nofs-nofs-in-block-driver",
    "vmalloc-implicit-under-segctor", "evict-shrinker-mutex", "memalloc-kind-mismatch",
    "nofs-mapping-mask-data-inode", "evict-release-folio-waits", "memalloc-cookie-merged",
    "nofs-convert-btrfs-unexplained", "memalloc-out-of-order", "evict-nofail-in-shrinker",
    "nofs-single-call-scope", "memalloc-direct-pf-flags", "evict-txn-linked-path",
    "vmalloc-kvmalloc-nofs-mainline",
]


class Clock:
    """Time that only moves when told."""

    def __init__(self, now: float = START) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sink:
    """A transport that accepts every reply."""

    name = "sink"
    final_status = "sent"

    def __init__(self) -> None:
        self.sent: list[str] = []

    def send(self, raw: bytes, sender: str, recipients: list[str], message_id: str) -> None:
        self.sent.append(message_id)

    def close(self) -> None:
        pass


@dataclass
class Filled:
    """What was put in the database."""

    db: Path
    series_msgids: dict[str, str] = field(default_factory=dict)
    fp_rule: str = ""


def rewrite(raw: bytes, **headers: Any) -> bytes:
    """The mail with some headers replaced (built with the email package)."""
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    assert isinstance(msg, EmailMessage)
    for name, value in headers.items():
        name = name.replace("_", "-")
        del msg[name]
        msg[name] = value
    return msg.as_bytes()


def fixture_mail(name: str, mid: str, author: tuple[str, str], when: float,
                 to_other: bool) -> bytes:
    """A rule fixture diff as a one-patch mail."""
    lines = (FIXTURES / f"{name}.patch").read_text().splitlines(keepends=True)
    diff = "".join(line for line in lines if not line.startswith("#"))
    message = next((line.split(":", 1)[1].strip() for line in lines
                    if line.startswith("# message:")), f"Change for {name}.")
    body = f"{message}\n\nSigned-off-by: {author[0]} <{author[1]}>\n---\n{diff}-- \n2.47.0\n"
    raw = mails.mail(mid=mid, subject=f"[PATCH] {name.replace('-', ' ')}", body=body,
                     author=author, when=when)
    if to_other:
        raw = rewrite(raw, To=OTHER, List_Id=f"<{OTHER_ID}>")
    return raw


def encoded(text: str) -> str:
    """``text`` as RFC 2047 encoded words that decode back to exactly ``text`` (built by
    hand: other tests' libraries may change the email package's charset defaults)."""
    chunks = [text[i:i + 30] for i in range(0, len(text), 30)]
    return " ".join("=?utf-8?b?" + base64.b64encode(c.encode()).decode("ascii") + "?="
                    for c in chunks)


def set_header(raw: bytes, name: str, value: str) -> bytes:
    """Replace the one-line header ``name`` of a generated mail with ``value`` (ASCII)."""
    head, sep, body = raw.partition(b"\n\n")
    lines = [line for line in head.split(b"\n")
             if not line.lower().startswith(name.lower().encode() + b":")]
    return b"\n".join([*lines, f"{name}: {value}".encode("ascii")]) + sep + body


def hostile(raws: list[bytes]) -> list[bytes]:
    """A generated series retitled and re-authored with markup, quotes and non-ASCII text."""
    out = []
    for raw in raws:
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        prefix = str(msg["Subject"]).split("]", 1)[0] + "]"
        raw = set_header(raw, "Subject", encoded(f"{prefix} {HOSTILE_TITLE}"))
        raw = set_header(raw, "From", f"{encoded(HOSTILE_AUTHOR[0])} <{HOSTILE_AUTHOR[1]}>")
        out.append(raw)
    return out


def fill(db: Path) -> Filled:
    """Run three weeks of traffic through a bot on ``db`` (closed afterwards)."""
    clock = Clock()
    settings = load_settings(None, {
        "bot": {"address": "reviewbot@bot.example.net"},
        "policy": {"lists": {LIST: {"mode": "lists"}, OTHER: {"mode": "author"}}}})
    bot = Bot(Store.open(db), settings, Options(settings=settings), Sink(), clock=clock,
              echo=lambda _text: None)
    filled = Filled(db)

    def deliver(*raws: bytes) -> None:
        for raw in raws:
            bot.take(raw, "test")
        bot.process()

    try:
        deliver(*mails.series("s1"))
        filled.series_msgids["s1"] = mails.msgid("s1", 1, 0)
        for i, name in enumerate(PATCHES):
            clock.now = START + DAY * (1 + i * 1.3)
            deliver(fixture_mail(name, f"fx{i}@example.org", AUTHORS[i % 3], clock.now,
                                 to_other=i % 3 == 2))
        clock.now = START + 5.5 * DAY
        reply_row = bot.store.one("SELECT o.message_id, f.rule FROM outbox o JOIN findings f "
                                  "ON f.review_id = o.review_id WHERE o.status = 'sent' "
                                  "ORDER BY o.id DESC LIMIT 1")
        assert reply_row is not None
        filled.fp_rule = str(reply_row["rule"])
        deliver(mails.reply("fp", 1, 1, f"reviewbot: false-positive {filled.fp_rule}\n\n"
                            "This cannot happen here.", parent=reply_row["message_id"],
                            root=reply_row["message_id"]))
        clock.now = START + 9 * DAY
        deliver(*mails.series("s1", version=2, fixed=True))
        clock.now = START + 12 * DAY
        deliver(*hostile(mails.series("xss")))
        filled.series_msgids["xss"] = mails.msgid("xss", 1, 0)
    finally:
        bot.close()
        bot.store.close()
    return filled
