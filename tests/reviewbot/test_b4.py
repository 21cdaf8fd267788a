"""The real b4: prep-perpatch-check-cmd (b4 prep --check) and review-perpatch-check-cmd.

b4 runs in a child Python whose sockets may only reach loopback addresses; any
other attempt is logged and the test fails. Its lore addresses point at a
closed loopback port as well.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.reviewbot.hookenv import HARMLESS, NEW_LEAKY_FUNCTION, commit, run
from tests.reviewbot.kernelrepo import KernelRepo, git

pytest.importorskip("b4")

GUARD = """
import ipaddress, socket, sys
LOG = sys.argv.pop(1)
def _refuse(what):
    with open(LOG, "a") as fh:
        fh.write(what + "\\n")
    raise OSError("network use in a test: " + what)
_connect = socket.socket.connect
def connect(self, address):
    host = address[0] if isinstance(address, tuple) else None
    if host is not None and self.family in (socket.AF_INET, socket.AF_INET6):
        try:
            loopback = ipaddress.ip_address(host).is_loopback
        except ValueError:
            loopback = host == "localhost"
        if not loopback:
            _refuse(str(host))
    return _connect(self, address)
socket.socket.connect = connect
_getaddrinfo = socket.getaddrinfo
def getaddrinfo(host, *args, **kwargs):
    if host not in (None, "localhost", "127.0.0.1", "::1"):
        _refuse("resolve " + str(host))
    return _getaddrinfo(host, *args, **kwargs)
socket.getaddrinfo = getaddrinfo
"""

B4 = GUARD + """
from b4.command import cmd
sys.argv[0] = "b4"
sys.exit(cmd())
"""

# What b4 review's check runner does for one patch, set up as the b4 command sets up.
REVIEW_CHECK = GUARD + """
import email, json
import b4
import b4.review.checks as checks
from b4.command import setup_parser
b4.setup_config(setup_parser().parse_args(["--offline-mode", "prep", "--show-revision"]))
b4.can_network = False
perpatch, _series = checks.load_check_cmds()
msg = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=b4.emlpolicy)
results = checks.run_perpatch_checks([("patch", msg)], perpatch, b4.git_get_toplevel())
print(json.dumps({"cmds": perpatch, "results": results["patch"]}))
"""

DEAD = "http://127.0.0.1:9"
VMALLOC_NOFS = ("fs/foofs/table.c", "\tsbi->table = NULL;\n",
                "\tsbi->table = __vmalloc(size, GFP_NOFS);\n")


@pytest.fixture
def repo(tmp_path: Path) -> KernelRepo:
    """A kernel-like tree configured for b4 without any network."""
    repo = KernelRepo(tmp_path / "linux")
    for key, value in (("user.name", "Test Author"), ("user.email", "author@example.org"),
                       ("b4.midmask", f"{DEAD}/all/%s"), ("b4.linkmask", f"{DEAD}/r/%s"),
                       ("b4.searchmask", f"{DEAD}/all/?x=m&q=%s"),
                       ("b4.send-endpoint-web", "NONE"),
                       ("b4.prep-perpatch-check-cmd", "reviewbot check --format terse -"),
                       ("b4.review-perpatch-check-cmd",
                        "reviewbot check --format b4-review -")):
        git(repo.path, "config", key, value)
    return repo


def b4(repo: KernelRepo, log: Path, *args: str) -> str:
    done = run(repo.path, sys.executable, "-c", B4, str(log), "--offline-mode", *args)
    assert done.returncode == 0, done.stdout
    return done.stdout


def prep_branch(repo: KernelRepo, log: Path, name: str, edit: tuple[str, str, str],
                subject: str) -> None:
    b4(repo, log, "prep", "-n", name, "-f", "main")
    commit(repo, edit, subject)


def test_prep_check_fails_a_hazard_and_passes_a_clean_patch(
        repo: KernelRepo, tmp_path: Path) -> None:
    log = tmp_path / "network.log"
    prep_branch(repo, log, "foofs-rename", NEW_LEAKY_FUNCTION, "foofs: add foofs_rename_entry")
    out = b4(repo, log, "prep", "--check", "--no-cache")
    assert "reviewbot check --format terse -" in out
    assert ("reviewbot: fs/foofs/dir.c:12: ERROR: [MEMALLOC-001] this path returns from "
            "foofs_rename_entry()") in out
    assert "foofs: add foofs_rename_entry" in out
    assert "Success: 0, Warning: 0, Error: 1" in out

    git(repo.path, "checkout", "--quiet", "main")
    prep_branch(repo, log, "foofs-log", HARMLESS, "foofs: log directory touches")
    out = b4(repo, log, "prep", "--check", "--no-cache")
    assert "foofs: log directory touches" in out and "reviewbot:" not in out
    assert "Success: 1, Warning: 0, Error: 0" in out
    assert not log.exists(), log.read_text()


def test_prep_check_shows_lines_without_error_as_warnings(
        repo: KernelRepo, tmp_path: Path) -> None:
    log = tmp_path / "network.log"
    git(repo.path, "config", "b4.prep-perpatch-check-cmd",
        "reviewbot check --format terse --min-severity advice -")
    prep_branch(repo, log, "foofs-table", VMALLOC_NOFS, "foofs: allocate the table with vmalloc")
    out = b4(repo, log, "prep", "--check", "--no-cache")
    assert "reviewbot: fs/foofs/table.c:38: NOTE: [NOFS-001]" in out
    assert "reviewbot: fs/foofs/table.c:38: NOTE: [VMALLOC-001]" in out
    assert "Success: 0, Warning: 2, Error: 0" in out
    assert not log.exists(), log.read_text()


def test_review_check_command_speaks_b4s_protocol(repo: KernelRepo, tmp_path: Path) -> None:
    log = tmp_path / "network.log"
    commit(repo, NEW_LEAKY_FUNCTION, "foofs: add foofs_rename_entry")
    bad = repo.format_patch("HEAD~1..HEAD", tmp_path / "bad")[0]
    commit(repo, HARMLESS, "foofs: log directory touches")
    good = repo.format_patch("HEAD~1..HEAD", tmp_path / "good")[0]

    results = {}
    for name, patch in (("bad", bad), ("good", good)):
        done = run(repo.path, sys.executable, "-c", REVIEW_CHECK, str(log), str(patch))
        assert done.returncode == 0, done.stdout
        data = json.loads(done.stdout)
        assert data["cmds"] == ["reviewbot check --format b4-review -"]
        results[name] = data["results"]
    [fail] = results["bad"]
    assert fail["tool"] == "reviewbot" and fail["status"] == "fail"
    assert fail["summary"] == "reclaim-recursion hazards: 1 error, 0 warning"
    assert "[MEMALLOC-001 save-without-restore-on-path]" in fail["details"]
    assert results["good"] == [{"tool": "reviewbot", "status": "pass",
                                "summary": "no reclaim-recursion hazards found",
                                "url": None, "details": ""}]
    assert not log.exists(), log.read_text()
