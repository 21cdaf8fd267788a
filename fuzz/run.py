#!/usr/bin/env python3
"""Coverage-guided fuzzing of one parser with atheris (libFuzzer for Python).

Usage: fuzz/run.py TARGET [SECONDS] [libFuzzer options...]

TARGET is one of ingest, diffs, engine, series, config, bot, maintainers (see
fuzz/targets.py).
The working corpus lives in .cache/fuzz/TARGET (seeded from the repository's
own synthetic patches, mails and config, and from every regression input under
tests/hostile/regressions/TARGET); crash, timeout and leak inputs are written
to .cache/fuzz/artifacts/. Needs atheris (pip install atheris); not part of the
default test run. One process, one core.
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import atheris

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

with atheris.instrument_imports():
    import fuzz.targets as targets


def seed(name: str, corpus: Path) -> None:
    """Copy the seed files of ``name`` into its corpus directory (once)."""
    corpus.mkdir(parents=True, exist_ok=True)
    sources = [ROOT / p for p in targets.SEEDS[name]]
    sources.append(ROOT / "tests" / "hostile" / "regressions" / name)
    for src in sources:
        files = sorted(src.rglob("*")) if src.is_dir() else [src]
        for path in files:
            if path.is_file() and path.stat().st_size < 1_000_000 and path.suffix != ".py":
                target = corpus / f"seed-{path.parent.name}-{path.name}"
                if not target.exists():
                    shutil.copyfile(path, target)


def main() -> int:
    if len(sys.argv) < 2 or sys.argv[1] not in targets.TARGETS:
        print(__doc__, file=sys.stderr)
        return 2
    name = sys.argv[1]
    seconds = sys.argv[2] if len(sys.argv) > 2 and sys.argv[2].isdigit() else "600"
    extra = sys.argv[3:] if len(sys.argv) > 2 and sys.argv[2].isdigit() else sys.argv[2:]
    work = ROOT / ".cache" / "fuzz"
    corpus = work / name
    artifacts = work / "artifacts" / name
    artifacts.mkdir(parents=True, exist_ok=True)
    seed(name, corpus)
    args = [sys.argv[0], str(corpus), f"-max_total_time={seconds}", "-timeout=60",
            "-rss_limit_mb=2048", "-max_len=262144", "-print_final_stats=1",
            f"-artifact_prefix={artifacts}/", *extra]
    one = targets.TARGETS[name]
    atheris.Setup(args, one)
    atheris.Fuzz()
    return 0


if __name__ == "__main__":
    sys.exit(main())
