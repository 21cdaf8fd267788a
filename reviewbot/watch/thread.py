"""Has somebody already said it? Findings raised by a human (or another bot) in the thread.

A finding counts as already raised by a reply to the patch when the reply's
own (unquoted) text names the rule id, or when the reply quotes the offending
line and comments right under it (within a few lines), the way a reviewer
points at a line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_QUOTE_RE = re.compile(r"^\s*(?:>\s?)+")
_TRIM_RE = re.compile(r"^\[\s*\.\.\.\s*\]$|^\.\.\.$|^\[snip\]$", re.IGNORECASE)
COMMENT_WITHIN = 3
MIN_SNIPPET = 6


def _norm(code: str) -> str:
    code = code.strip()
    if code[:1] in ("+", "-"):
        code = code[1:]
    return " ".join(code.split())


def _quoted(line: str) -> str | None:
    match = _QUOTE_RE.match(line)
    if match is None:
        return None
    return line[match.end():]


def comments_on(body: str, snippet: str) -> bool:
    """Whether ``body`` quotes ``snippet`` and comments right under it."""
    target = _norm(snippet)
    if len(target) < MIN_SNIPPET:
        return False
    lines = body.split("\n")
    for index, line in enumerate(lines):
        quoted = _quoted(line)
        if quoted is None or _norm(quoted) != target:
            continue
        for follow in lines[index + 1:index + 1 + COMMENT_WITHIN + 1]:
            if _quoted(follow) is not None or not follow.strip():
                continue
            if _TRIM_RE.match(follow.strip()):
                continue
            return True
    return False


def names_rule(body: str, rule_id: str) -> bool:
    """Whether the unquoted text of ``body`` names ``rule_id``."""
    own = "\n".join(line for line in body.split("\n") if _quoted(line) is None)
    return re.search(rf"(?<![A-Za-z0-9-]){re.escape(rule_id)}(?!\d)", own) is not None


def already_raised(rule_id: str, snippet: str, replies: Iterable[str]) -> bool:
    """Whether any reply body already raised this finding."""
    return any(names_rule(body, rule_id) or comments_on(body, snippet) for body in replies)
