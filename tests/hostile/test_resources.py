"""Resource bounds: the memory cap, the pre-flight check before tree-sitter, the retry guard."""

from __future__ import annotations

import resource
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from heuristics import PatchInput
from heuristics.model import KernelVersion
from reviewbot.config import Settings
from reviewbot.diffs import parse_diff
from reviewbot.limits import check_memory, limit_memory
from reviewbot.pipeline import Options
from reviewbot.store import Store
from reviewbot.watch.bot import Bot
from reviewbot.watch.reviewer import MAX_REVIEW_ATTEMPTS
from tests.hostile.corpus import ROOT, mail


def test_limit_memory_lowers_the_data_limit_only() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_DATA)
    limit_memory(0)
    assert resource.getrlimit(resource.RLIMIT_DATA) == (soft, hard)
    limit_memory(4096)
    assert resource.getrlimit(resource.RLIMIT_DATA)[0] == 4096 * 1024 * 1024
    limit_memory(8192)  # never raised again
    assert resource.getrlimit(resource.RLIMIT_DATA)[0] == 4096 * 1024 * 1024


def _patch(lines: int) -> PatchInput:
    body = "".join(f"+;;;;;;;; {i}\n" for i in range(lines))
    diff = f"--- /dev/null\n+++ b/fs/foofs/x.c\n@@ -0,0 +1,{lines} @@\n{body}"
    return PatchInput("x", "", tuple(parse_diff(diff)), KernelVersion.parse("6.12"))


def test_check_memory_refuses_what_would_not_fit_under_the_cap() -> None:
    check_memory(_patch(200_000))  # no cap: nothing to check
    limit_memory(512)
    check_memory(_patch(10))
    with pytest.raises(MemoryError, match=r"parsing needs up to \d+ MiB, \d+ MiB left under "
                                          r"\[limits\] max_memory_mb"):
        check_memory(_patch(600_000))


def test_tree_sitter_never_runs_out_of_memory_under_the_cap(tmp_path: Path) -> None:
    """Without the pre-flight check, tree-sitter's failed malloc under RLIMIT_DATA is a
    segmentation fault; with it, the patch fails alone and the process goes on."""
    script = textwrap.dedent("""
        import sys
        from reviewbot.ingest import read_bytes
        from reviewbot.limits import limit_memory
        from reviewbot.pipeline import Options, review_ingested
        limit_memory(200)
        raw = sys.stdin.buffer.read()
        try:
            review_ingested(read_bytes(raw, "bomb"), Options())
        except MemoryError:
            print("MemoryError")
        again = review_ingested(read_bytes(open("examples/foofs-series.mbox", "rb").read(),
                                           "ok"), Options())
        print(len(again.reviews), sum(len(r.findings) for r in again.reviews) > 0)
    """)
    bomb = "".join(";" for _ in range(4_000_000))
    diff = f"--- /dev/null\n+++ b/fs/foofs/x.c\n@@ -0,0 +1,1 @@\n+{bomb}\n"
    done = subprocess.run([sys.executable, "-c", script], input=diff.encode(), cwd=ROOT,
                          capture_output=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert done.stdout.decode().split() == ["MemoryError", "3", "True"]


@pytest.fixture
def bot(tmp_path: Path) -> Bot:
    settings = Settings.model_validate({"bot": {"address": "reviewbot@bot.example.net"},
                                        "scope": {"paths": []}})
    bot = Bot(Store.open(tmp_path / "state.db"), settings, Options(settings=settings),
              echo=lambda text: None)
    assert bot.take(mail(msgid="p@example.org"), "test").status == "seen"
    return bot


def _series(bot: Bot) -> int:
    row = bot.store.one("SELECT id FROM series")
    assert row is not None
    return int(row["id"])


def test_a_review_that_killed_the_process_is_retried(bot: Bot) -> None:
    series = _series(bot)
    with bot.store.tx():  # one earlier attempt died half-way
        bot.store.execute("INSERT INTO meta(key, value) VALUES (?, '1')",
                          (f"review-attempts:{series}",))
    bot.process(force={series})
    row = bot.store.one("SELECT status FROM series WHERE id = ?", (series,))
    assert row is not None and row["status"] == "reviewed"
    assert bot.store.one("SELECT 1 FROM meta WHERE key LIKE 'review-attempts:%'") is None


def test_a_review_that_killed_the_process_three_times_is_failed(bot: Bot) -> None:
    series = _series(bot)
    with bot.store.tx():
        bot.store.execute("INSERT INTO meta(key, value) VALUES (?, ?)",
                          (f"review-attempts:{series}", str(MAX_REVIEW_ATTEMPTS)))
    bot.process(force={series})
    row = bot.store.one("SELECT status, reason FROM series WHERE id = ?", (series,))
    assert row is not None and row["status"] == "failed"
    reason = ("the review did not finish in 3 attempts (the process died: out of memory or a "
              "crash)")
    assert row["reason"] == reason
    msg = bot.store.one("SELECT status, reason FROM messages WHERE msgid = 'p@example.org'")
    assert msg is not None and tuple(msg) == ("failed", reason)
    assert bot.store.one("SELECT COUNT(*) AS n FROM reviews")["n"] == 0  # type: ignore[index]


def test_out_of_memory_in_a_review_fails_that_series_alone(bot: Bot,
                                                           monkeypatch: pytest.MonkeyPatch
                                                           ) -> None:
    import reviewbot.watch.reviewer as reviewer

    def boom(*args: object, **kwargs: object) -> object:
        raise MemoryError

    monkeypatch.setattr(reviewer, "review_series", boom)
    series = _series(bot)
    bot.process(force={series})
    row = bot.store.one("SELECT status, reason FROM series WHERE id = ?", (series,))
    assert row is not None and tuple(row) == (
        "failed", "review failed: out of memory ([limits] max_memory_mb)")
