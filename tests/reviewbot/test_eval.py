"""reviewbot eval on a small synthetic labelled corpus (the format of the project corpus)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reviewbot.cli import main
from tests.helpers import LEAK as DIFF

LEAK = """Subject: [PATCH] foofs: lock two pages

Take both pages under one NOFS scope.
---
""" + DIFF
FIXED = LEAK.replace("""-	if (!page[0])
+	if (!page[0]) {""", "").replace("""
 	if (!page[0])
 		return -ENOMEM;""", """
-	if (!page[0])
+	if (!page[0]) {
+		memalloc_nofs_restore(flags);
 		return -ENOMEM;
+	}""").replace("@@ -140,7 +140,9 @@", "@@ -140,7 +140,12 @@")


def case(root: Path, name: str, mbox: str, label: dict) -> None:
    folder = root / name
    folder.mkdir()
    (folder / "patch.mbox").write_text(mbox)
    (folder / "label.json").write_text(json.dumps({"id": name, **label}))


def place(line: int, category: str = "memalloc-unpaired") -> dict:
    return {"category": category, "file": "fs/foofs/move.c", "line": line,
            "function": "foofs_lock_two", "why": "synthetic"}


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    root = tmp_path / "corpus"
    root.mkdir()
    case(root, "001-leak", LEAK, {"origin": "posted-patch", "polarity": "positive",
                                  "expect": [place(145)], "hunk_context_sufficient": True})
    case(root, "002-fixed", FIXED, {"origin": "fix-commit", "polarity": "negative",
                                    "expect": [place(146)], "hunk_context_sufficient": True})
    case(root, "003-missed", LEAK.replace("fs/foofs/move.c", "fs/foofs/other.c"),
         {"origin": "posted-patch", "polarity": "positive",
          "expect": [place(145, "evict-blocking")], "hunk_context_sufficient": False})
    return root


def test_eval_table_misses_and_json(capsys: pytest.CaptureFixture[str], corpus: Path) -> None:
    assert main(["eval", str(corpus)]) == 0
    out = capsys.readouterr().out
    assert "reviewbot eval: 3 cases, line tolerance 3" in out
    hunk = out.split("Cases with hunk_context_sufficient: true")[1].split("\n\n")[0]
    row = next(line for line in hunk.splitlines() if line.strip().startswith("memalloc"))
    assert row.split() == ["memalloc-unpaired", "1", "0", "0", "1", "1.00", "1.00"]
    assert "003-missed  [evict-blocking, tree] fs/foofs/move.c:145" in out
    assert "false alarms (0):" in out

    assert main(["eval", "--format", "json", str(corpus)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["all"]["evict-blocking"] == {"tp": 0, "fp": 0, "miss": 1, "tn": 0,
                                             "precision": None, "recall": 0.0}
    assert data["hunk_context_sufficient"]["memalloc-unpaired"]["recall"] == 1.0


def test_eval_counts_a_false_alarm(capsys: pytest.CaptureFixture[str], corpus: Path) -> None:
    (corpus / "002-fixed" / "patch.mbox").write_text(LEAK)
    label = json.loads((corpus / "002-fixed" / "label.json").read_text())
    label["expect"] = [place(145)]
    (corpus / "002-fixed" / "label.json").write_text(json.dumps(label))
    main(["eval", str(corpus)])
    out = capsys.readouterr().out
    assert "false alarms (1):" in out
    assert "002-fixed  [memalloc-unpaired] fs/foofs/move.c:145 <- MEMALLOC-001 error :145" in out


def test_eval_traffic_noise(capsys: pytest.CaptureFixture[str], corpus: Path,
                            tmp_path: Path) -> None:
    traffic = tmp_path / "traffic"
    traffic.mkdir()
    (traffic / "01-leak.mbox").write_text(LEAK)
    (traffic / "02-clean.mbox").write_text(FIXED)
    main(["eval", str(corpus), "--traffic", str(traffic)])
    out = capsys.readouterr().out
    assert "traffic: 2 inputs, 2 patches, 1 findings at warning or above" in out
    assert "01-leak.mbox: fs/foofs/move.c:145 MEMALLOC-001 error" in out


def test_synthetic_tree_reviews_hunk_insufficient_cases_in_tree_mode(
        capsys: pytest.CaptureFixture[str], corpus: Path) -> None:
    assert main(["eval", "--synthetic-tree", str(corpus)]) == 0
    out = capsys.readouterr().out
    section = out.split("tree review against a tree rebuilt from the patch's files")[1]
    assert "Cases with hunk_context_sufficient: false (1)" in out
    row = next(line for line in section.splitlines() if line.strip().startswith("evict"))
    assert row.split()[:4] == ["evict-blocking", "0", "0", "1"]
    assert "tree miss: 003-missed [evict-blocking] fs/foofs/move.c:145" in out


def test_synthetic_pre_image_keeps_hunk_lines_in_place() -> None:
    from reviewbot.apitables import default_tables
    from reviewbot.diffs import parse_diff
    from reviewbot.synthtree import pre_image

    [change] = parse_diff(DIFF)
    text = pre_image(change, default_tables())
    assert text is not None
    lines = text.splitlines()
    assert lines[139] == "\tstruct page *page[2];"
    assert lines[143] == "\t\treturn -ENOMEM;"
    assert any(line.startswith("void foofs_lock_two(void)") for line in lines[:139])
