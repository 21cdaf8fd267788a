"""The bot's state machine with a controlled clock: grace periods, late patches, embargo,
rate limits, thread limits, dry run, outbox directory, interrupted deliveries."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reviewbot.config import load_settings
from reviewbot.pipeline import Options
from reviewbot.publish import SendError
from reviewbot.publish.files import DryRun, OutboxDir, eml_name
from reviewbot.store import Store
from reviewbot.watch.bot import Bot
from tests.listbot import mails

LIST = mails.LIST
HOUR = 3600.0


class Clock:
    """Time that only moves when told."""

    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


class Recorder:
    """A transport that keeps what it is given (or fails when told)."""

    name = "recorder"
    final_status = "sent"

    def __init__(self) -> None:
        self.sent: list[tuple[bytes, list[str], str]] = []
        self.fail: SendError | None = None

    def send(self, raw: bytes, sender: str, recipients: list[str], message_id: str) -> None:
        if self.fail is not None:
            raise self.fail
        self.sent.append((raw, recipients, message_id))

    def close(self) -> None:
        pass


def _bot(tmp_path: Path, clock: Clock, policy: dict[str, Any] | None = None,
         transport: Any = None, **sections: dict[str, Any]) -> Bot:
    overrides: dict[str, Any] = {
        "bot": {"address": "reviewbot@bot.example.net"},
        "policy": {"lists": {LIST: {"mode": "lists", **(policy or {})}}},
        **sections,
    }
    settings = load_settings(None, overrides)
    store = Store.open(tmp_path / "state.db")
    return Bot(store, settings, Options(settings=settings),
               transport if transport is not None else Recorder(), clock=clock,
               echo=lambda _text: None)


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def bot(tmp_path: Path, clock: Clock) -> Iterator[Bot]:
    b = _bot(tmp_path, clock)
    yield b
    b.store.close()


def _sent(bot: Bot) -> list[tuple[bytes, list[str], str]]:
    assert isinstance(bot.transport, Recorder)
    return bot.transport.sent


def _statuses(bot: Bot) -> list[str]:
    return [r["status"] for r in bot.store.rows("SELECT status FROM outbox ORDER BY id")]


def test_incomplete_series_waits_for_the_grace_period_then_late_patch(
        bot: Bot, clock: Clock) -> None:
    cover, p1, p2, p3 = mails.series("g1")
    for raw in (cover, p1, p3):
        bot.take(raw, "t")
    bot.process()
    assert bot.store.rows("SELECT * FROM reviews") == []
    clock.now += 61 * 60  # [scope] grace_minutes = 60
    bot.process()
    assert len(bot.store.rows("SELECT * FROM reviews")) == 2
    assert _sent(bot) == []
    bot.take(p2, "t")  # late: reviewed on its own, right away
    bot.process()
    assert len(bot.store.rows("SELECT * FROM reviews")) == 3
    assert len(_sent(bot)) == 1
    assert bot.store.one("SELECT status FROM series")["status"] == "reviewed"  # type: ignore[index]


def test_embargo_drops_findings_a_human_raised_meanwhile(tmp_path: Path, clock: Clock) -> None:
    bot = _bot(tmp_path, clock, {"embargo_hours": 2})
    for raw in mails.series("e1"):
        bot.take(raw, "t")
    bot.process()
    assert _sent(bot) == [] and _statuses(bot) == ["pending"]
    clock.now += HOUR
    bot.take(mails.reply("e1", 1, 2, "You leak the NOFS scope on this path.",
                         quote="+\tif (!blk)\n+\t\treturn -ENOMEM;"), "t")
    clock.now += 2 * HOUR
    bot.process()
    assert _sent(bot) == []
    assert _statuses(bot) == ["dropped"]
    row = bot.store.one("SELECT status, mailed FROM findings")
    assert row is not None and (row["status"], row["mailed"]) == ("already-raised", 0)


def test_embargo_sends_when_nobody_raised_it(tmp_path: Path, clock: Clock) -> None:
    bot = _bot(tmp_path, clock, {"embargo_hours": 2})
    for raw in mails.series("e2"):
        bot.take(raw, "t")
    bot.take(mails.reply("e2", 1, 2, "Looks fine to me otherwise."), "t")
    bot.process()
    clock.now += 2 * HOUR + 1
    bot.process()
    assert len(_sent(bot)) == 1


def test_rate_limit_per_list_per_hour(tmp_path: Path, clock: Clock) -> None:
    bot = _bot(tmp_path, clock, {"max_per_hour": 1})
    for tag in ("r1", "r2"):
        for raw in mails.series(tag, fs=f"{tag}fs"):
            bot.take(raw, "t")
    bot.process()
    assert len(_sent(bot)) == 1 and _statuses(bot) == ["sent", "pending"]
    clock.now += HOUR + 1
    bot.process()
    assert len(_sent(bot)) == 2


def _two_hazards(tag: str) -> list[bytes]:
    root = mails.msgid(tag, 1, 0)
    out = [mails.mail(mid=root, subject="[PATCH 0/2] two filesystems", body="cover\n")]
    for counter, fs in ((1, "foofs"), (2, "barfs")):
        mid = mails.msgid(tag, 1, counter)
        out.append(mails.mail(mid=mid, subject=f"[PATCH {counter}/2] {fs}: NOFS scope",
                              body="msg\n---\n" + mails.diff_scope(fs, fixed=False),
                              in_reply_to=root, references=(root,)))
    return out


def test_thread_limit_holds_the_rest(tmp_path: Path, clock: Clock) -> None:
    bot = _bot(tmp_path, clock, {"max_per_thread": 1})
    for raw in _two_hazards("t1"):
        bot.take(raw, "t")
    bot.process()
    assert len(_sent(bot)) == 1
    assert _statuses(bot) == ["sent", "held"]
    actions = [r["action"] for r in bot.store.rows("SELECT action FROM reviews ORDER BY id")]
    assert actions == ["mailed", "held"]


def test_below_threshold_findings_are_recorded_not_mailed(tmp_path: Path, clock: Clock
                                                          ) -> None:
    bot = _bot(tmp_path, clock, {"min_confidence": "high", "min_severity": "error"})
    for raw in mails.series("b1"):
        bot.take(raw, "t")
    bot.process()
    row = bot.store.one("SELECT status FROM findings")
    assert row is not None
    # MEMALLOC-001 is an error with high confidence: still mailed.
    assert row["status"] == "new" and len(_sent(bot)) == 1


def test_outside_scope_paths_is_skipped(tmp_path: Path, clock: Clock) -> None:
    bot = _bot(tmp_path, clock, scope={"paths": ["mm/"]})
    for raw in mails.series("o1"):
        bot.take(raw, "t")
    bot.process()
    row = bot.store.one("SELECT status, reason FROM series")
    assert row is not None and (row["status"], row["reason"]) == (
        "skipped", "outside [scope] paths")
    assert _sent(bot) == []


def test_dry_run_prints_and_is_never_sent_later(tmp_path: Path, clock: Clock) -> None:
    out = io.StringIO()
    bot = _bot(tmp_path, clock, transport=DryRun(out))
    for raw in mails.series("d1"):
        bot.take(raw, "t")
    bot.process()
    assert "Subject: Re: [PATCH 2/3]" in out.getvalue()
    assert _statuses(bot) == ["dry-run"]
    bot.store.close()
    real = _bot(tmp_path, clock)
    real.process()
    assert _sent(real) == []


def test_outbox_dir_writes_one_eml_per_reply(tmp_path: Path, clock: Clock) -> None:
    outdir = tmp_path / "out"
    bot = _bot(tmp_path, clock, transport=OutboxDir(outdir))
    for raw in mails.series("x1"):
        bot.take(raw, "t")
    bot.process()
    row = bot.store.one("SELECT message_id, raw FROM outbox")
    assert row is not None
    files = list(outdir.iterdir())
    assert [f.name for f in files] == [eml_name(row["message_id"])]
    assert files[0].read_bytes() == row["raw"]


def test_interrupted_delivery_is_uncertain_until_seen_in_the_archive(
        tmp_path: Path, clock: Clock) -> None:
    bot = _bot(tmp_path, clock)
    assert isinstance(bot.transport, Recorder)
    bot.transport.fail = SendError("down")
    for raw in mails.series("u1"):
        bot.take(raw, "t")
    bot.process()
    # Simulate a crash inside the SMTP dialogue.
    with bot.store.tx():
        bot.store.execute("UPDATE outbox SET status = 'sending'")
    row = bot.store.one("SELECT message_id, raw FROM outbox")
    assert row is not None
    bot.store.close()
    again = _bot(tmp_path, clock)
    assert _statuses(again) == ["uncertain"]
    again.process()
    assert _sent(again) == []  # not sent a second time
    again.take(row["raw"], "t")  # the reply shows up on the list
    assert _statuses(again) == ["sent"]


def test_a_resend_is_not_answered_with_the_same_findings_again(bot: Bot) -> None:
    for raw in mails.series("rs"):
        bot.take(raw, "t")
    bot.process()
    assert len(_sent(bot)) == 1
    for raw in mails.series("rs-resend", prefix="PATCH RESEND"):
        bot.take(raw, "t")
    bot.process()
    assert len(_sent(bot)) == 1
    rows = bot.store.rows("SELECT s.title, f.status FROM findings f JOIN series s ON "
                          "s.id = f.series_id ORDER BY f.id")
    assert [r["status"] for r in rows] == ["new", "already-raised"]
