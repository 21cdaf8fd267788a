"""Long runs show progress on stderr when it is a terminal, and nothing otherwise."""

from __future__ import annotations

import os
import pty
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_progress_on_a_terminal_only(tmp_path: Path) -> None:
    src = tmp_path / "fs" / "foofs"
    src.mkdir(parents=True)
    for i in range(3):
        (src / f"f{i}.c").write_text(f"static int f{i}(void)\n{{\n\treturn {i};\n}}\n")
    args = [sys.executable, "-m", "reviewbot", "scan", str(tmp_path / "fs")]

    leader, follower = pty.openpty()
    proc = subprocess.Popen(args, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=follower, cwd=ROOT)
    os.close(follower)
    out, _ = proc.communicate(timeout=120)
    tty = b""
    while True:
        try:
            chunk = os.read(leader, 4096)
        except OSError:
            break
        if not chunk:
            break
        tty += chunk
    os.close(leader)
    assert proc.returncode == 0
    assert b"[1/3] fs/foofs/f0.c" in tty and b"[3/3]" in tty
    assert b"3 files reviewed" in out

    piped = subprocess.run(args, capture_output=True, cwd=ROOT, timeout=120)
    assert piped.returncode == 0 and piped.stderr == b""
