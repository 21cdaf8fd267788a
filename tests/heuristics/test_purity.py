"""heuristics/ is the pure core: it imports nothing that does IO."""

from __future__ import annotations

import ast
from pathlib import Path

import heuristics

FORBIDDEN = {
    "requests", "git", "sqlite3", "socket", "smtplib", "subprocess", "liblore", "urllib",
    "http", "shutil", "tempfile", "asyncio", "aiosmtpd", "ftplib", "ssl", "select",
    "multiprocessing", "threading", "signal", "pathlib", "io", "os", "glob",
}
ROOT = Path(heuristics.__file__).parent


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module.split(".")[0])
    return out


def test_heuristics_imports_nothing_io() -> None:
    files = sorted(ROOT.rglob("*.py"))
    assert len(files) > 10
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) & FORBIDDEN) for p in files}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_heuristics_has_no_open_or_print() -> None:
    for path in sorted(ROOT.rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
                assert node.func.id not in ("open", "print", "input", "exec", "eval"), (
                    f"{path.name}:{node.lineno} calls {node.func.id}()")
