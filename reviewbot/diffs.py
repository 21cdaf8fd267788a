"""Find the unified diff in a mail body, repair mail damage, parse with unidiff.

Mail transports and clients damage diffs in a few well-known ways: trailing
whitespace stripped (a blank context line becomes an empty line, and a
trailing blank context line at the end of a file disappears), CRLF line
ends, footers appended by list software. The repair pass fixes exactly
those so that :mod:`unidiff` can parse the result; it never invents content.
"""

from __future__ import annotations

import re

from unidiff.errors import UnidiffParseError
from unidiff.patch import PatchSet

from heuristics.inputs import FileChange, from_patched_file

_HUNK_RE = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")
_DIFF_START_RE = re.compile(r"^(diff --git |Index: |--- \S)", re.MULTILINE)


class DiffError(ValueError):
    """The text holds no parseable unified diff."""


def find_diff(body: str) -> str | None:
    """The diff part of a body (from the first diff header), or None."""
    for match in _DIFF_START_RE.finditer(body):
        start = match.start()
        line = body[start:body.find("\n", start) if "\n" in body[start:] else len(body)]
        if line.startswith("--- "):
            rest = body[start:].split("\n", 2)
            if len(rest) < 2 or not rest[1].startswith("+++ "):
                continue
        return body[start:]
    return None


def _hunk_header(old_start: int, old_len: int, new_start: int, new_len: int, tail: str) -> str:
    return f"@@ -{old_start},{old_len} +{new_start},{new_len} @@{tail}"


def repair(diff: str) -> str:
    """Undo transport damage so the hunk counts match the hunk bodies."""
    lines = diff.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    i, n = 0, len(lines)
    while i < n:
        line = lines[i]
        if line.startswith("GIT binary patch"):
            # Skip the base85 payload up to the next file.
            out.append("Binary files differ")
            i += 1
            while i < n and not lines[i].startswith("diff --git "):
                i += 1
            continue
        match = _HUNK_RE.match(line)
        if not match:
            out.append(line)
            i += 1
            continue
        old_start, old_len = int(match.group(1)), int(match.group(2) or 1)
        new_start, new_len = int(match.group(3)), int(match.group(4) or 1)
        old_left, new_left = old_len, new_len
        body: list[str] = []
        i += 1
        while i < n and (old_left > 0 or new_left > 0):
            cur = lines[i]
            nxt = lines[i + 1] if i + 1 < n else ""
            if cur == "-- " and nxt[:1] not in (" ", "+", "-", "@"):
                break  # signature separator, not a removed line
            if cur.startswith("\\"):
                body.append(cur)
            elif cur.startswith(" ") or (cur == "" and old_left > 0 and new_left > 0):
                body.append(cur if cur else " ")
                old_left -= 1
                new_left -= 1
            elif cur.startswith("+") and new_left > 0:
                body.append(cur)
                new_left -= 1
            elif cur.startswith("-") and old_left > 0:
                body.append(cur)
                old_left -= 1
            else:
                break
            i += 1
        while i < n and lines[i].startswith("\\"):
            body.append(lines[i])
            i += 1
        used_old = old_len - old_left
        used_new = new_len - new_left
        out.append(_hunk_header(old_start, used_old, new_start, used_new, match.group(5)))
        out.extend(body)
    return "\n".join(out)


def parse_diff(diff: str) -> list[FileChange]:
    """Parse (after repair) into file changes; raise DiffError if nothing parses."""
    fixed = repair(diff)
    try:
        patch = PatchSet(fixed)
    except UnidiffParseError as exc:
        raise DiffError(f"malformed diff: {exc}") from exc
    # A header that names no file at all ("--- \"", a lone quote) is damage, not a change.
    changes = [change for change in map(from_patched_file, patch) if change.path]
    if not changes:
        raise DiffError("no file changes found in the diff")
    return changes
