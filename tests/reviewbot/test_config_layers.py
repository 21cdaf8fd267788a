"""reviewbot config and the layers: defaults, site file, git config, environment, command line."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

import pytest

from reviewbot.cli import main
from tests.helpers import LEAK
from tests.reviewbot.kernelrepo import git


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty git repository, the current directory."""
    path = tmp_path / "repo"
    path.mkdir()
    git(path, "init", "--quiet")
    monkeypatch.chdir(path)
    return path


def config(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["config", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def origins(capsys: pytest.CaptureFixture[str], *args: str) -> dict[str, object]:
    status, out, err = config(capsys, "--format", "json", *args)
    assert status == 0, err
    data: dict[str, object] = json.loads(out)
    return data


def test_defaults_are_shown_as_valid_toml_with_their_origin(
        repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = config(capsys)
    assert status == 0
    data = tomllib.loads(out)
    assert data["hooks"] == {"enabled": True, "fail_on": "error", "tree": True,
                             "install": ["sendemail-validate", "pre-push"], "max_commits": 100}
    assert data["output"]["fail_on"] == "warning"
    assert 'fail_on = "error"' in out and "# config/default.toml" in out
    assert "site file (none)" in out


def test_each_layer_overrides_the_one_before_and_says_so(
        repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    site = tmp_path / "site.toml"
    site.write_text('[hooks]\nfail_on = "advice"\nmax_commits = 7\ntree = false\n'
                    '[rules]\nignore = ["NOFS-006"]\n')
    git(repo, "config", "reviewbot.config", str(site))
    git(repo, "config", "reviewbot.hooks.failOn", "warning")
    git(repo, "config", "reviewbot.hooks.max-commits", "9")
    with (repo / ".git" / "config").open("a") as fh:
        fh.write('[reviewbot "hooks"]\n\ttree\n')  # a bare key is git's "true"
    git(repo, "config", "--add", "reviewbot.rules.select", "NOFS")
    git(repo, "config", "--add", "reviewbot.rules.select", "EVICT,memalloc-unpaired")
    git(repo, "config", "reviewbot.rules.severity.NOFS-001", "advice")
    monkeypatch.setenv("REVIEWBOT_HOOKS_MAX_COMMITS", "11")
    monkeypatch.setenv("REVIEWBOT_RULES_PATHS", "NOFS-004=fs/,mm/;EVICT-001=fs/")
    monkeypatch.setenv("REVIEWBOT_SOMETHING_ELSE", "not a settings section: ignored")

    data = origins(capsys, "--fail-on", "error", "--ignore", "VMALLOC-004")
    settings, where = data["settings"], data["origins"]
    assert isinstance(settings, dict) and isinstance(where, dict)
    assert data["site_file"] == str(site)
    assert settings["hooks.fail_on"] == "warning"
    assert where["hooks.fail_on"] == "git config reviewbot.hooks.failon (file:.git/config)"
    assert settings["hooks.tree"] is True and "reviewbot.hooks.tree" in where["hooks.tree"]
    assert settings["hooks.max_commits"] == 11
    assert where["hooks.max_commits"] == "environment REVIEWBOT_HOOKS_MAX_COMMITS"
    assert settings["rules.select"] == ["NOFS", "EVICT", "memalloc-unpaired"]
    assert settings["rules.severity.NOFS-001"] == "advice"
    assert where["rules.severity.NOFS-001"].startswith("git config reviewbot.rules.severity")
    assert settings["rules.paths.NOFS-004"] == ["fs/", "mm/"]
    assert settings["rules.ignore"] == ["NOFS-006", "VMALLOC-004"]
    assert where["rules.ignore"] == "command line --ignore"
    assert settings["output.fail_on"] == "error"
    assert where["output.fail_on"] == "command line --fail-on"
    assert where["output.min_severity"] == "config/default.toml"

    monkeypatch.setenv("REVIEWBOT_CONFIG", str(tmp_path / "other.toml"))
    (tmp_path / "other.toml").write_text("[kernel]\nversion = \"6.1\"\n")
    data = origins(capsys, "kernel")
    assert data["settings"] == {"kernel.version": "6.1"}
    assert data["origins"] == {"kernel.version": str(tmp_path / "other.toml")}


@pytest.mark.parametrize(("setup", "message"), [
    (("git", "reviewbot.hooks.failon", "fatal"),
     "git config reviewbot.hooks.failon (file:.git/config): hooks.fail_on: Input should be"),
    (("git", "reviewbot.hooks.failonn", "error"),
     "git config reviewbot.hooks.failonn (file:.git/config): hooks.failonn: unknown key"),
    (("git", "reviewbot.hook.failon", "error"),
     "git config reviewbot.hook.failon (file:.git/config): hook: unknown key"),
    (("git", "reviewbot.failon", "error"), "git config reviewbot.failon (file:.git/config): "
                                           "unknown key"),
    (("git", "reviewbot.hooks.tree", "maybe"), "reviewbot.hooks.tree (file:.git/config): "
                                               "not a boolean: 'maybe'"),
    (("env", "REVIEWBOT_HOOKS_FAIL_ONN", "error"),
     "environment REVIEWBOT_HOOKS_FAIL_ONN: hooks.fail_onn: unknown key"),
    (("env", "REVIEWBOT_RULES_SEVERITY", "BOGUS-1=error"),
     "environment REVIEWBOT_RULES_SEVERITY: rules.severity: Value error, no rule matches"),
    (("env", "REVIEWBOT_HOOKS_MAX_COMMITS", "0"),
     "environment REVIEWBOT_HOOKS_MAX_COMMITS: hooks.max_commits: Input should be greater"),
])
def test_bad_values_name_their_source_and_key(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
        setup: tuple[str, str, str], message: str) -> None:
    kind, key, value = setup
    if kind == "git":
        git(repo, "config", key, value)
    else:
        monkeypatch.setenv(key, value)
    status, _, err = config(capsys)
    assert status == 2 and message in err, err
    leak = repo / "leak.patch"
    leak.write_text(LEAK)
    assert main(["check", str(leak)]) == 2  # check reads the same layers


def test_check_follows_git_config_and_the_environment(
        repo: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    leak = repo / "leak.patch"
    leak.write_text(LEAK)
    assert main(["check", str(leak)]) == 1
    git(repo, "config", "reviewbot.rules.severity.MEMALLOC-001", "advice")
    assert main(["check", str(leak)]) == 0
    monkeypatch.setenv("REVIEWBOT_OUTPUT_FAIL_ON", "advice")
    assert main(["check", str(leak)]) == 1
    assert main(["check", "--fail-on", "error", str(leak)]) == 0
    capsys.readouterr()


def test_a_key_filter_and_unknown_keys(repo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, _ = config(capsys, "hooks.fail_on")
    assert status == 0 and "[hooks]" in out and "max_commits" not in out
    status, _, err = config(capsys, "hooks.nope")
    assert status == 2 and "no setting named hooks.nope" in err


def test_outside_a_repository_global_git_config_still_counts(
        tmp_path: Path, capsys: pytest.CaptureFixture[str],
        monkeypatch: pytest.MonkeyPatch) -> None:
    outside = tmp_path / "plain"
    outside.mkdir()
    monkeypatch.chdir(outside)
    git(outside, "config", "--global", "reviewbot.output.minSeverity", "advice")
    data = origins(capsys, "output.min_severity")
    assert data["settings"] == {"output.min_severity": "advice"}
    origin = data["origins"]
    assert isinstance(origin, dict) and "file:" in origin["output.min_severity"]
    assert ".gitconfig" in origin["output.min_severity"]


def test_secret_values_are_never_printed() -> None:
    from reviewbot.commands.config_cmd import _shown

    assert _shown(("smtp", "password"), "hunter2") == "(hidden)"
    assert _shown(("patchwork", "token"), "abc") == "(hidden)"
    assert _shown(("smtp", "password_env"), "REVIEWBOT_SMTP_PASSWORD") == \
        "REVIEWBOT_SMTP_PASSWORD"
    assert _shown(("smtp", "password"), "") == ""
