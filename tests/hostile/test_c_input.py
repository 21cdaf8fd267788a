"""Hostile C: a 1 MB line, deep nesting of every kind, and an analysis that runs out of time.

Nothing may raise RecursionError (the scope pairing walker runs on an explicit
stack, the gfp evaluator and gate reader are depth-bounded, syntax deeper
than MAX_SYNTAX_DEPTH is refused with a note), and no input may hold the
analysis of one patch longer than [limits] max_seconds_per_message.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from heuristics import PatchInput, analyse, whole_file
from heuristics.cparse import MAX_SYNTAX_DEPTH
from heuristics.inputs import with_texts
from heuristics.model import KernelVersion
from reviewbot.apitables import default_tables
from reviewbot.cli import main
from reviewbot.config import Settings
from reviewbot.diffs import parse_diff
from reviewbot.pipeline import Options
from reviewbot.store import Store
from reviewbot.watch.bot import Bot
from tests.hostile.corpus import mail

TOO_DEEP = f"fs/foofs/long.c: cannot parse: syntax nested deeper than {MAX_SYNTAX_DEPTH} levels"


def function(*middle: str) -> list[str]:
    """A function that saves a NOFS scope, runs ``middle`` and leaks it on -ENOMEM."""
    return ["static int foofs_fn(struct inode *inode, gfp_t gfp)", "{",
            "\tunsigned int nofs = memalloc_nofs_save();", *middle,
            "\tmemalloc_nofs_restore(nofs);", "\treturn 0;", "}"]


def new_file_diff(lines: list[str], path: str = "fs/foofs/long.c") -> str:
    return (f"--- /dev/null\n+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n"
            + "".join(f"+{line}\n" for line in lines))


def check(capsys: pytest.CaptureFixture[str], tmp_path: Path, diff: str, *args: str
          ) -> tuple[int, dict[str, Any], str]:
    path = tmp_path / "in.patch"
    path.write_text(diff)
    status = main(["check", "--format", "json", "--min-severity", "advice", *args, str(path)])
    out = capsys.readouterr()
    return status, json.loads(out.out)["reviews"][0], out.err


MB = 1_000_000
ONE_LINE = {
    # (line, expected notes): parsed and analysed, or refused as too deep, never slow.
    "initializer": ("static const int table[] = {" + "1, " * (MB // 3) + "};", []),
    "string": ('\tpr_info("' + "x" * MB + '");', []),
    "comment": ("/* " + "x" * MB + " */", []),
    "calls": ("".join(f"f{i}(x);" for i in range(MB // 9)), []),
    "quotes": ("'\"" * (MB // 2), []),
    "chained +": ("\terr = foofs_call(" + "a + " * (MB // 4) + "b);", [TOO_DEEP]),
    "braces": ("{" * (MB // 2) + "}" * (MB // 2), [TOO_DEEP]),
    "parentheses": ("x = " + "(" * (MB // 2) + ")" * (MB // 2) + ";", [TOO_DEEP]),
}


@pytest.mark.parametrize("case", sorted(ONE_LINE))
def test_one_megabyte_on_one_line(case: str, capsys: pytest.CaptureFixture[str],
                                  tmp_path: Path) -> None:
    line, notes = ONE_LINE[case]
    assert len(line) >= MB - 10
    start = time.monotonic()
    status, review, err = check(capsys, tmp_path, new_file_diff(function(line)))
    assert time.monotonic() - start < 30
    assert review["error"] is None and err == ""
    assert review["notes"] == [f"internal: {n}" for n in notes]
    assert status in (0, 1)


def test_one_megabyte_line_in_scan_mode(capsys: pytest.CaptureFixture[str],
                                        tmp_path: Path) -> None:
    src = tmp_path / "fs" / "foofs" / "table.c"
    src.parent.mkdir(parents=True)
    src.write_text("\n".join(function("static const int t[] = {" + "1, " * (MB // 3) + "};",
                                      "\tif (!inode)", "\t\treturn -ENOMEM;")) + "\n")
    status = main(["scan", "--format", "json", str(src)])
    review = json.loads(capsys.readouterr().out)["reviews"][0]
    assert review["error"] is None and review["notes"] == []
    assert [f["rule"] for f in review["findings"]] == ["MEMALLOC-001"] and status == 1


DEPTH = 2000
SHAPES = {
    "if blocks": (["\tif (x) {"] * DEPTH, ["\t}"] * DEPTH),
    "bare blocks": (["\t{"] * DEPTH, ["\t}"] * DEPTH),
    "while loops": (["\twhile (x) {"] * DEPTH, ["\t}"] * DEPTH),
    "do loops": (["\tdo {"] * DEPTH, ["\t} while (0);"] * DEPTH),
    "switches": (["\tswitch (x) { case 1: {"] * DEPTH, ["\t} }"] * DEPTH),
    "list_for_each_entry": (["\tlist_for_each_entry(p, &h, list) {"] * DEPTH, ["\t}"] * DEPTH),
    "else-if chain": (["\tif (a0) {", "\t\tx();"] + [f"\t}} else if (a{i}) {{" for i in range(
        1, DEPTH * 2)] + ["\t} else {"], ["\t}"]),
    "labels": ([f"l{i}:" for i in range(DEPTH * 2)], []),
}


def _shape(name: str) -> list[str]:
    opening, closing = SHAPES[name]
    return function(*opening, "\t\treturn -ENOMEM;", *closing)


@pytest.mark.parametrize("name", sorted(SHAPES))
@pytest.mark.parametrize("mode", ["hunk", "tree", "scan"])
def test_deep_nesting_is_walked_without_recursion(name: str, mode: str) -> None:
    """The leak at the bottom of 2,000 levels is found, and no rule failed."""
    lines = _shape(name)
    tables = default_tables()
    files = tuple(parse_diff(new_file_diff(lines)))
    if mode == "tree":
        files = (with_texts(files[0], None, "\n".join(lines) + "\n"),)
    elif mode == "scan":
        files = (whole_file("fs/foofs/long.c", "\n".join(lines) + "\n"),)
    patch = PatchInput("deep", "", files, KernelVersion.parse("6.12"), scan=mode == "scan")
    start = time.monotonic()
    result = analyse(patch, tables)
    assert time.monotonic() - start < 20
    assert result.errors == []
    assert "MEMALLOC-001" in {f.rule for f in result.findings}


def test_nesting_beyond_the_bound_is_a_note_not_a_crash(capsys: pytest.CaptureFixture[str],
                                                        tmp_path: Path) -> None:
    lines = function(*(["\tif (x) {"] * 20_000), "\t\treturn -ENOMEM;", *(["\t}"] * 20_000))
    status, review, err = check(capsys, tmp_path, new_file_diff(lines))
    assert review["notes"] == [f"internal: {TOO_DEEP}"] and review["error"] is None
    assert status == 0 and err == ""


@pytest.mark.parametrize("expression", [
    "(" * 5000 + "GFP_NOFS" + ")" * 5000,
    "GFP_NOFS" + " | __GFP_ZERO" * 3000,
    "x ? GFP_KERNEL : " * 2000 + "GFP_NOFS",
    "~" * 5000 + "__GFP_FS",
    "(gfp_t)" * 3000 + "GFP_NOFS",
])
def test_gfp_evaluator_is_bounded(expression: str) -> None:
    lines = function(f"\tp = kmalloc(8, {expression});", "\tif (!p)", "\t\treturn -ENOMEM;")
    patch = PatchInput("gfp", "", tuple(parse_diff(new_file_diff(lines))),
                       KernelVersion.parse("6.12"))
    result = analyse(patch, default_tables())
    assert result.errors == []
    assert "MEMALLOC-001" in {f.rule for f in result.findings}


MANY_SAVES = new_file_diff(function("".join(f"c{i} = memalloc_nofs_save();"
                                            for i in range(30000))))


def test_time_limit_stops_one_slow_patch_in_check(capsys: pytest.CaptureFixture[str],
                                                  tmp_path: Path) -> None:
    """30,000 scopes in one function: the analysis is stopped at the limit, not after."""
    cfg = tmp_path / "site.toml"
    cfg.write_text("[limits]\nmax_seconds_per_message = 1\n")
    start = time.monotonic()
    status, review, err = check(capsys, tmp_path, MANY_SAVES, "--config", str(cfg))
    assert time.monotonic() - start < 10
    message = ("skipped: the analysis took longer than [limits] max_seconds_per_message (1 s)")
    assert review["error"] == message and review["findings"] == []
    assert status == 2 and err.strip().endswith(message)


def test_time_limit_in_the_bot_records_the_message_as_skipped(tmp_path: Path) -> None:
    settings = Settings.model_validate({
        "bot": {"address": "reviewbot@bot.example.net"}, "scope": {"paths": []},
        "limits": {"max_seconds_per_message": 1}})
    bot = Bot(Store.open(tmp_path / "state.db"), settings, Options(settings=settings),
              echo=lambda text: None)
    slow = mail(msgid="slow@example.org", body="Scopes.\n---\n" + MANY_SAVES)
    fast = mail(msgid="fast@example.org", subject="[PATCH] foofs: other")
    for raw in (slow, fast):
        assert bot.take(raw, "test").status == "seen"
    start = time.monotonic()
    bot.process(force={int(r["id"]) for r in bot.store.rows("SELECT id FROM series")})
    assert time.monotonic() - start < 15
    rows = {r["msgid"]: (r["status"], r["reason"]) for r in bot.store.rows(
        "SELECT msgid, status, reason FROM messages")}
    assert rows["slow@example.org"] == (
        "skipped", "skipped: the analysis took longer than [limits] max_seconds_per_message "
                   "(1 s)")
    assert rows["fast@example.org"] == ("seen", None)
    reviewed = {r["msgid"]: r["action"] for r in bot.store.rows("SELECT msgid, action FROM "
                                                                 "reviews")}
    assert reviewed["slow@example.org"] == "error"
    assert bot.store.one("SELECT COUNT(*) AS n FROM findings WHERE msgid = 'fast@example.org'"
                         )["n"] == 1  # type: ignore[index]
