"""Quote the hunk lines around a finding the way a reviewer trims a patch in a reply.

Each finding gets the file header once per file, the ``@@`` line of its hunk
once per hunk, a few lines above the offending line, the offending line
itself, and any line of the same hunk its message refers to ("at line 64").
Skipped lines become ``[ ... ]``. Every line fits the width (tabs count as 8).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass

from heuristics.inputs import FileChange, Hunk

TRIM = "[ ... ]"
_LINE_REF_RE = re.compile(r"\bline (\d+)\b")


def fit(line: str, width: int) -> str:
    """``line`` cut to ``width`` display columns (tabs expanded), marked when cut."""
    if len(line.expandtabs(8)) <= width:
        return line
    mark = " [...]"
    cut = line
    while cut and len((cut + mark).expandtabs(8)) > width:
        cut = cut[:-1]
    return cut + mark


def wrap(text: str, width: int, indent: str = "") -> list[str]:
    """Plain paragraph wrapping; words longer than the width (URLs) stay whole."""
    out: list[str] = []
    for para in text.split("\n"):
        if not para.strip():
            out.append("")
            continue
        out.extend(textwrap.wrap(para, width=width, initial_indent=indent,
                                 subsequent_indent=indent, break_long_words=False,
                                 break_on_hyphens=False) or [""])
    return out


@dataclass(frozen=True, slots=True)
class Located:
    """Where a post-image line sits in a file change."""

    hunk_index: int
    line_index: int


def locate(change: FileChange, line: int) -> Located | None:
    """The hunk line showing post-image ``line`` (an added line preferred)."""
    best: Located | None = None
    for h_index, hunk in enumerate(change.hunks):
        for l_index, hline in enumerate(hunk.lines):
            if hline.new_no == line:
                if hline.kind == "+":
                    return Located(h_index, l_index)
                best = best or Located(h_index, l_index)
    return best


def _hunk_header(hunk: Hunk) -> str:
    section = f" {hunk.section.strip()}" if hunk.section.strip() else ""
    return f"@@ -{hunk.old_start},{hunk.old_len} +{hunk.new_start},{hunk.new_len} @@{section}"


class Quoter:
    """Quotes successive findings of one patch without repeating lines."""

    def __init__(self, files: Sequence[FileChange], context: int, width: int) -> None:
        self.files = {f.path: f for f in files}
        self.context = context
        self.width = width
        self._file: str | None = None
        self._hunk: int | None = None
        self._last: int = -1

    def _q(self, text: str) -> str:
        return fit("> " + text if text else ">", self.width)

    def quote(self, path: str, line: int, message: str = "", snippet: str = "") -> list[str]:
        """The quoted lines leading up to ``path``:``line``."""
        change = self.files.get(path)
        where = locate(change, line) if change is not None else None
        if change is None or where is None:
            self._file, self._hunk, self._last = None, None, -1
            return [TRIM, self._q("+" + snippet)] if snippet else []
        out: list[str] = []
        if self._file != path:
            old = change.old_path or path
            out.append(self._q(f"diff --git a/{old} b/{path}"))
            self._file, self._hunk, self._last = path, None, -1
        hunk = change.hunks[where.hunk_index]
        if self._hunk != where.hunk_index:
            out.append(self._q(_hunk_header(hunk)))
            self._hunk, self._last = where.hunk_index, -1
        wanted: set[int] = set(range(max(0, where.line_index - self.context),
                                     where.line_index + 1))
        for match in _LINE_REF_RE.finditer(message):
            ref = int(match.group(1))
            for idx, hline in enumerate(hunk.lines):
                if hline.new_no == ref and idx < where.line_index:
                    wanted.add(idx)
        for idx in sorted(i for i in wanted if i > self._last):
            if idx > self._last + 1:
                out.append(TRIM)
            hline = hunk.lines[idx]
            out.append(self._q(hline.kind + hline.text))
            self._last = idx
        return out
