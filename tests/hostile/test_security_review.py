"""Static checks of the security review: no shell, one place that starts processes, private
temp files, headers only through the email package. Enforced on every future change."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted([*ROOT.joinpath("reviewbot").rglob("*.py"),
                  *ROOT.joinpath("heuristics").rglob("*.py")])


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"), str(path))


def _name(node: ast.expr) -> str:
    if isinstance(node, ast.Attribute):
        return f"{_name(node.value)}.{node.attr}"
    return node.id if isinstance(node, ast.Name) else ""


@pytest.mark.parametrize("path", [*SOURCES, *ROOT.joinpath("fuzz").glob("*.py"),
                                  *ROOT.joinpath("benchmarks").glob("*.py")],
                         ids=lambda p: str(p.relative_to(ROOT)))
def test_no_shell(path: Path) -> None:
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Call):
            for kw in node.keywords:
                assert not (kw.arg == "shell" and not (isinstance(kw.value, ast.Constant)
                                                       and kw.value.value is False)), (
                    f"{path}:{node.lineno}: shell=")
            assert _name(node.func) not in ("os.system", "os.popen", "os.execl", "os.execlp",
                                            "os.spawnl", "eval", "exec", "pickle.loads",
                                            "tempfile.mktemp", "yaml.load"), (
                f"{path}:{node.lineno}: {_name(node.func)}")


def test_processes_start_in_one_place() -> None:
    """Only reviewbot/gitcmd.py imports subprocess (GitPython runs the rest as lists)."""
    importers = set()
    for path in SOURCES:
        for node in ast.walk(_tree(path)):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import) else
                     [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            if any(n.split(".")[0] in ("subprocess", "pty", "multiprocessing") for n in names):
                importers.add(path.relative_to(ROOT).as_posix())
    assert importers == {"reviewbot/gitcmd.py"}


def test_temporary_files_are_private() -> None:
    """mkdtemp/mkstemp (mode 0700/0600) only; nothing writes to a fixed /tmp path."""
    for path in SOURCES:
        text = path.read_text(encoding="utf-8")
        assert "/tmp/" not in text, path
        for node in ast.walk(_tree(path)):
            if isinstance(node, ast.Call) and _name(node.func).startswith("tempfile."):
                assert _name(node.func) in ("tempfile.mkdtemp", "tempfile.mkstemp",
                                            "tempfile.TemporaryDirectory"), (
                    f"{path}:{node.lineno}")


def test_outgoing_headers_are_set_through_the_email_package() -> None:
    """Reply headers are assigned on an EmailMessage (which refuses CR/LF in a value),
    never assembled as text; the reply module has no header-shaped string literals."""
    reply = ROOT / "reviewbot" / "reply.py"
    assigned = set()
    for node in ast.walk(_tree(reply)):
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
            key = node.targets[0].slice
            if isinstance(key, ast.Constant) and isinstance(key.value, str):
                assigned.add(key.value)
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            assert "\r\n" not in node.value and not any(
                node.value.startswith(h) for h in ("To: ", "Cc: ", "Bcc: ", "Subject: ")), (
                f"reply.py:{node.lineno}")
    assert assigned >= {"From", "To", "Subject", "Message-ID", "In-Reply-To", "References"}
