"""A git tree rebuilt from a patch's own hunks, for reviewing in tree mode without a kernel.

Each changed C file's pre-image holds the hunk lines at their real line
numbers; the gaps between hunks carry the balancing wrappers the hunk parser
uses (named after the function each hunk header names), so the file parses
like the original and the patch applies exactly. Files whose gaps are too
small for the wrappers are left out (they are reviewed from hunks).
"""

from __future__ import annotations

from pathlib import Path

import git

from heuristics.cparse import window_wrapper
from heuristics.inputs import FileChange
from heuristics.tables import ApiTables
from reviewbot.ingest import PatchMail

_MERGE_GAP = 12  # hunks closer than this share one window (the gap stays blank)


def _windows(change: FileChange) -> list[tuple[str, list[tuple[int, str]]]]:
    """(section, pre-image lines) per window; nearby hunks are merged."""
    windows: list[tuple[str, list[tuple[int, str]]]] = []
    for hunk in sorted(change.hunks, key=lambda h: h.old_start):
        lines = [(ln.old_no, ln.text) for ln in hunk.lines
                 if ln.kind != "+" and ln.old_no is not None]
        if not lines:
            continue
        if windows and lines[0][0] - windows[-1][1][-1][0] <= _MERGE_GAP:
            prev = windows[-1][1]
            prev.extend((n, "") for n in range(prev[-1][0] + 1, lines[0][0]))
            prev.extend(lines)
        else:
            windows.append((hunk.section, lines))
    return windows


def pre_image(change: FileChange, tables: ApiTables) -> str | None:
    """The rebuilt pre-image of one file, or None when the wrappers do not fit."""
    out: dict[int, str] = {}
    previous_end = 0
    for section, lines in _windows(change):
        before, after = window_wrapper([t for _, t in lines], section, tables)
        start, end = lines[0][0], lines[-1][0]
        room = start - 1 - previous_end
        if room < len(before):
            return None
        for i, text in enumerate(before):
            out[start - len(before) + i] = text
        for number, text in lines:
            out[number] = text
        for i, text in enumerate(after):
            out[end + 1 + i] = text
        previous_end = end + len(after)
    if not out:
        return None
    last = max(out)
    return "\n".join(out.get(i, "") for i in range(1, last + 1)) + "\n"


def build(root: Path, patches: list[PatchMail], tables: ApiTables) -> list[str]:
    """A git repository at ``root`` holding the rebuilt pre-images; returns their paths."""
    root.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    for patch in patches[:1]:  # the first patch's pre-image is the base of the series
        for change in patch.files:
            if not change.is_c or change.is_new or change.is_binary:
                continue
            text = pre_image(change, tables)
            if text is None:
                continue
            path = root / (change.old_path or change.path)
            if not path.resolve().is_relative_to(root.resolve()):
                continue  # never write outside the tree
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8", errors="surrogateescape")
            written.append(change.old_path or change.path)
    repo = git.Repo.init(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "reviewbot")
        config.set_value("user", "email", "reviewbot@localhost.invalid")
        config.set_value("commit", "gpgSign", "false")
    repo.index.add(written)
    repo.index.commit("base: pre-images rebuilt from the patch")
    repo.close()
    return written
