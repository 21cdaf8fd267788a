"""The reviewbot command line: check, scan, rules, formats, exit codes, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from reviewbot.cli import main
from tests.helpers import LEAK

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "foofs-series.mbox"
SCHEMA = ROOT / ".cache" / "sarif-schema-2.1.0.json"


CLEAN = """\
--- a/fs/foofs/move.c
+++ b/fs/foofs/move.c
@@ -140,6 +140,7 @@ static int foofs_count(struct foofs_sb *sbi)
 	int n = 0;
 
 	spin_lock(&sbi->lock);
+	n = sbi->count;
 	spin_unlock(&sbi->lock);
 	return n;
 }
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(list(args))
    out = capsys.readouterr()
    return status, out.out, out.err


@pytest.fixture
def leak(tmp_path: Path) -> Path:
    path = tmp_path / "leak.patch"
    path.write_text(LEAK)
    return path


@pytest.fixture
def clean(tmp_path: Path) -> Path:
    path = tmp_path / "clean.patch"
    path.write_text(CLEAN)
    return path


def test_text_format_is_checkpatch_like(capsys: pytest.CaptureFixture[str], leak: Path) -> None:
    status, out, err = run(capsys, "check", str(leak))
    assert status == 1
    assert ("fs/foofs/move.c:145: error: [MEMALLOC-001 save-without-restore-on-path] this path "
            "returns from foofs_lock_two()") in out
    assert " return -ENOMEM;" in out.splitlines()
    assert out.rstrip().endswith("1 patch reviewed, 1 error, 0 warnings")
    assert err == ""


def test_clean_patch_exits_zero_and_terse_prints_nothing(
        capsys: pytest.CaptureFixture[str], clean: Path) -> None:
    assert run(capsys, "check", "--format", "terse", str(clean)) == (0, "", "")


def test_terse_lines_carry_error_tag(capsys: pytest.CaptureFixture[str], leak: Path) -> None:
    status, out, _ = run(capsys, "check", "--format", "terse", str(leak))
    assert status == 1
    assert out.splitlines() == [
        "fs/foofs/move.c:145: ERROR: [MEMALLOC-001] this path returns from foofs_lock_two() "
        "with PF_MEMALLOC_NOFS still set by memalloc_nofs_save() at line 142; every later "
        "allocation by this task silently becomes NOFS. Call memalloc_nofs_restore(flags) "
        "before returning or use the common exit label"]


def test_json_contract(capsys: pytest.CaptureFixture[str], leak: Path) -> None:
    status, out, _ = run(capsys, "check", "--format", "json", str(leak))
    data = json.loads(out)
    assert status == 1 and data["tool"] == "reviewbot" and data["version"]
    [review] = data["reviews"]
    assert review["error"] is None and review["mode"] == "hunk"
    assert {"source", "subject", "message_id", "findings"} <= review.keys()
    [finding] = review["findings"]
    assert {k: finding[k] for k in ("rule", "name", "category", "severity", "confidence",
                                    "file", "line", "function")} == {
        "rule": "MEMALLOC-001", "name": "save-without-restore-on-path",
        "category": "memalloc-unpaired", "severity": "error", "confidence": "high",
        "file": "fs/foofs/move.c", "line": 145, "function": "foofs_lock_two"}
    assert finding["snippet"] == "return -ENOMEM;"
    assert len(finding["fingerprint"]) == 16 and "145" not in finding["fingerprint"]


def test_fingerprint_survives_a_reroll_that_moves_lines(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    moved = tmp_path / "v2.patch"
    moved.write_text(LEAK.replace("-140,7 +140,9", "-190,7 +190,9"))
    first = json.loads(run(capsys, "check", "--format", "json", str(tmp_path / "v2.patch"))[1])
    (tmp_path / "v1.patch").write_text(LEAK)
    second = json.loads(run(capsys, "check", "--format", "json", str(tmp_path / "v1.patch"))[1])
    f1, f2 = first["reviews"][0]["findings"][0], second["reviews"][0]["findings"][0]
    assert f1["line"] != f2["line"] and f1["fingerprint"] == f2["fingerprint"]


def test_sarif_validates_against_the_official_schema(
        capsys: pytest.CaptureFixture[str]) -> None:
    if not SCHEMA.is_file():
        pytest.fail(f"{SCHEMA} missing: run scripts/fetch-sarif-schema (scripts/test does)")
    status, out, _ = run(capsys, "check", "--format", "sarif", str(EXAMPLE))
    log = json.loads(out)
    schema = json.loads(SCHEMA.read_text())
    jsonschema.validate(log, schema)
    results = log["runs"][0]["results"]
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert status == 1 and len(results) == 4
    assert {r["ruleId"] for r in results} == {"MEMALLOC-001", "EVICT-001", "EVICT-002",
                                              "NOFS-005"}
    for result in results:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        assert result["partialFingerprints"]["reviewbot/v1"]


def test_b4_review_protocol(capsys: pytest.CaptureFixture[str], leak: Path, clean: Path
                            ) -> None:
    _, out, _ = run(capsys, "check", "--format", "b4-review", str(leak), str(clean))
    entries = json.loads(out)
    assert [e["status"] for e in entries] == ["fail", "pass"]
    for entry in entries:
        assert set(entry) == {"tool", "status", "summary", "url", "details"}
        assert entry["tool"] == "reviewbot"
    assert "MEMALLOC-001" in entries[0]["details"]


def test_stdin_and_unreadable_input(capsys: pytest.CaptureFixture[str], leak: Path,
                                    tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    junk = tmp_path / "junk.bin"
    junk.write_bytes(b"\x00\xff" * 500)
    status, out, err = run(capsys, "check", "--format", "json", str(junk), str(leak))
    assert status == 2
    assert err.strip().splitlines() == [f"reviewbot: {junk}: binary data, not a patch or mail"]
    reviews = json.loads(out)["reviews"]
    assert [bool(r["error"]) for r in reviews] == [False, True]
    assert reviews[0]["findings"][0]["rule"] == "MEMALLOC-001"


def test_select_ignore_and_fail_on(capsys: pytest.CaptureFixture[str], leak: Path) -> None:
    assert run(capsys, "check", "--ignore", "memalloc-unpaired", str(leak))[0] == 0
    assert run(capsys, "check", "--select", "NOFS,EVICT", str(leak))[0] == 0
    assert run(capsys, "check", "--select", "MEMALLOC-00", str(leak))[0] == 1
    assert run(capsys, "check", "--fail-on", "error", str(leak))[0] == 1
    status, _, err = run(capsys, "check", "--select", "BOGUS-1", str(leak))
    assert status == 2 and "no rule matches BOGUS-1" in err


def test_config_overrides_and_errors(capsys: pytest.CaptureFixture[str], leak: Path,
                                     tmp_path: Path) -> None:
    cfg = tmp_path / "site.toml"
    cfg.write_text('[rules.severity]\n"MEMALLOC-001" = "advice"\n')
    status, out, _ = run(capsys, "check", "--config", str(cfg), str(leak))
    assert status == 0 and "0 errors, 0 warnings" in out
    cfg.write_text('[rules.paths]\n"MEMALLOC-001" = ["mm/"]\n')
    assert run(capsys, "check", "--config", str(cfg), str(leak))[0] == 0
    cfg.write_text('[output]\ncolour = true\n')
    status, _, err = run(capsys, "check", "--config", str(cfg), str(leak))
    assert status == 2 and f"{cfg}: output.colour: unknown key" in err


def test_kernel_version_changes_the_verdict(capsys: pytest.CaptureFixture[str],
                                            tmp_path: Path) -> None:
    patch = tmp_path / "v.patch"
    patch.write_text("""\
--- a/fs/foofs/buf.c
+++ b/fs/foofs/buf.c
@@ -60,6 +60,6 @@ static void *foofs_alloc_large(size_t size)
 {
 	void *ptr;
 
-	ptr = vmalloc(size);
+	ptr = __vmalloc(size, GFP_NOFS);
 	return ptr;
 }
""")
    old = json.loads(run(capsys, "check", "--format", "json", "--min-severity", "advice",
                         "--kernel-version", "5.10", str(patch))[1])
    new = json.loads(run(capsys, "check", "--format", "json", "--min-severity", "advice",
                         "--kernel-version", "6.6", str(patch))[1])
    [f_old] = [f for f in old["reviews"][0]["findings"] if f["category"] == "vmalloc-nofs"]
    [f_new] = [f for f in new["reviews"][0]["findings"] if f["category"] == "vmalloc-nofs"]
    assert (f_old["rule"], f_old["severity"]) == ("VMALLOC-001", "error")
    assert (f_new["rule"], f_new["severity"]) == ("VMALLOC-001", "advice")
    assert old["reviews"][0]["kernel_version_source"] == "flag"
    status, _, err = run(capsys, "check", "--kernel-version", "banana", str(patch))
    assert status == 2 and "not a kernel version" in err


def test_rules_list_and_explain(capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = run(capsys, "rules", "list")
    assert status == 0 and len(out.splitlines()) >= 30
    assert out.splitlines()[0].startswith("EVICT-001")
    status, out, _ = run(capsys, "rules", "explain", "nofs-005")
    for section in ("## What it does", "## Why is this bad?", "## Example", "## Use instead",
                    "## Known problems", "## References"):
        assert section in out
    assert run(capsys, "rules", "explain", "NOFS-999")[0] == 2


def test_scan_audits_whole_files(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    src = tmp_path / "fs" / "foofs" / "super.c"
    src.parent.mkdir(parents=True)
    src.write_text("""\
static void foofs_evict_inode(struct inode *inode)
{
	filemap_write_and_wait(inode->i_mapping);
	truncate_inode_pages_final(&inode->i_data);
	clear_inode(inode);
}
""")
    (src.parent / "garbage.c").write_bytes(b"}}}{{ \xff\xfe ((( int int int ;;; \x00 #if\n" * 50)
    status, out, _ = run(capsys, "scan", "--format", "json", str(tmp_path / "fs"))
    reviews = json.loads(out)["reviews"]
    assert status == 1
    assert [r["subject"] for r in reviews] == ["fs/foofs/garbage.c", "fs/foofs/super.c"]
    assert reviews[0]["error"] is None and reviews[0]["findings"] == []
    [finding] = reviews[1]["findings"]
    assert (finding["rule"], finding["line"], finding["function"]) == (
        "EVICT-002", 3, "foofs_evict_inode")


def test_console_script_runs_the_example(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-m", "reviewbot", "check", str(EXAMPLE)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    assert "[MEMALLOC-001 save-without-restore-on-path]" in proc.stdout
    assert "3 patches reviewed, 2 errors, 2 warnings" in proc.stdout


def test_outside_the_review_scope_findings_are_advice(capsys: pytest.CaptureFixture[str],
                                                      tmp_path: Path) -> None:
    patch = tmp_path / "drm.patch"
    patch.write_text("""\
--- a/drivers/gpu/drm/foo/foo_shrinker.c
+++ b/drivers/gpu/drm/foo/foo_shrinker.c
@@ -90,6 +90,7 @@ static unsigned long foo_gem_shrink_scan_objects(struct shrinker *s, struct shrink_control *sc)
 {
 	unsigned long freed;
 
+	mutex_lock(&foo_gem_lock);
 	freed = foo_gem_purge(sc->nr_to_scan);
 	mutex_unlock(&foo_gem_lock);
 	return freed;
""")
    status, out, _ = run(capsys, "check", "--format", "json", "--min-severity", "advice",
                         str(patch))
    [finding] = json.loads(out)["reviews"][0]["findings"]
    assert (finding["rule"], finding["severity"]) == ("EVICT-004", "advice")
    assert status == 0
    cfg = tmp_path / "everywhere.toml"
    cfg.write_text("[rules]\nscope = []\n")
    assert run(capsys, "check", "--config", str(cfg), str(patch))[0] == 1


def test_terminal_escapes_in_untrusted_text_are_neutralised(
        capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    mail = tmp_path / "evil.eml"
    mail.write_bytes(b"From: x@example.org\nSubject: [PATCH] \x1b]0;pwned\x07 \x1b[2Jclear\n"
                     b"Message-ID: <e@x>\n\nBody.\n---\n" + LEAK.replace(
                         "return -ENOMEM;", "return -ENOMEM; /* \x1b[31mred\x1b[0m */").encode())
    status, out, _ = run(capsys, "check", str(mail))
    assert status == 1 and "\x1b" not in out and "\x07" not in out
    assert "\\x1b[2Jclear" in out
    status, out, _ = run(capsys, "check", "--format", "terse", str(mail))
    assert "\x1b" not in out
