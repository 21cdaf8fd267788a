"""A small, safe Markdown renderer for the subset the rule docs use.

Headings (``#`` to ``######``, rendered from ``<h2>`` down), paragraphs,
bullet and numbered lists, fenced code blocks (``diff`` blocks get per-line
classes) and inline code spans. Every character of the input is escaped; raw
HTML, links and images are shown as text, never interpreted.
"""

from __future__ import annotations

import re

from markupsafe import Markup, escape

_HEADING_RE = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_FENCE_RE = re.compile(r"^(\s*)(`{3,}|~{3,})\s*([A-Za-z0-9_+-]*)\s*([^`]*?)\s*$")
_BULLET_RE = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBER_RE = re.compile(r"^\s*\d{1,9}[.)]\s+(.*)$")
_CODE_SPAN_RE = re.compile(r"(`+)(.+?)(?<!`)\1(?!`)", re.DOTALL)


def inline(text: str) -> Markup:
    """Escaped text with ``code spans`` as ``<code>``."""
    out: list[str] = []
    pos = 0
    for match in _CODE_SPAN_RE.finditer(text):
        out.append(str(escape(text[pos:match.start()])))
        code = match.group(2)
        if code.startswith(" ") and code.endswith(" ") and code.strip():
            code = code[1:-1]
        out.append(f"<code>{escape(code)}</code>")
        pos = match.end()
    out.append(str(escape(text[pos:])))
    return Markup("".join(out))  # noqa: S704  # every piece above is escaped  # nosec B704


def _diff_line(line: str) -> str:
    if line.startswith(("+++", "---")):
        css = "hdr"
    elif line.startswith("@@"):
        css = "hunk"
    elif line.startswith("+"):
        css = "add"
    elif line.startswith("-"):
        css = "del"
    else:
        return str(escape(line))
    return f'<span class="{css}">{escape(line)}</span>'


def code_block(lines: list[str], lang: str = "", info: str = "") -> Markup:
    """A ``<pre>`` block; ``diff`` lines are classed add/del/hunk/hdr; ``info`` (the rest of
    the fence line, e.g. ``kernel=5.10``) is shown above it."""
    lang = re.sub(r"[^A-Za-z0-9_-]", "", lang)[:20]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    if lang == "diff":
        body = "\n".join(_diff_line(line) for line in lines)
    else:
        body = str(escape("\n".join(lines)))
    css = f' class="code lang-{lang}"' if lang else ' class="code"'
    caption = f'<p class="code-info">{escape(info)}</p>' if info else ""
    # caption, css and body are escaped (css from a [A-Za-z0-9_-] class name)
    return Markup(f"{caption}<pre{css}><code>{body}</code></pre>")  # noqa: S704  # nosec B704


def render(text: str) -> Markup:
    """The Markdown ``text`` as HTML."""
    lines = text.replace("\r\n", "\n").split("\n")
    out: list[str] = []
    para: list[str] = []
    items: list[list[str]] = []
    kind = ""

    def flush() -> None:
        nonlocal para, items, kind
        if para:
            out.append(f"<p>{inline(' '.join(s.strip() for s in para))}</p>")
            para = []
        if items:
            tag = "ol" if kind == "ol" else "ul"
            body = "".join(f"<li>{inline(' '.join(s.strip() for s in item))}</li>"
                           for item in items)
            out.append(f"<{tag}>{body}</{tag}>")
            items = []
            kind = ""

    i = 0
    while i < len(lines):
        line = lines[i]
        fence = _FENCE_RE.match(line)
        if fence:
            flush()
            marker, indent = fence.group(2), len(fence.group(1))
            code: list[str] = []
            i += 1
            while i < len(lines) and not (lines[i].strip().startswith(marker) and
                                          not lines[i].strip().strip(marker[0])):
                code.append(lines[i][indent:] if lines[i][:indent].isspace() else lines[i])
                i += 1
            out.append(str(code_block(code, fence.group(3), fence.group(4))))
            i += 1
            continue
        heading = _HEADING_RE.match(line)
        bullet = _BULLET_RE.match(line)
        number = _NUMBER_RE.match(line)
        if not line.strip():
            flush()
        elif heading:
            flush()
            level = max(2, len(heading.group(1)))
            out.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
        elif bullet or number:
            item_kind = "ul" if bullet else "ol"
            if para or (items and kind != item_kind):
                flush()
            kind = item_kind
            found = bullet or number
            assert found is not None  # type narrowing  # nosec B101
            items.append([found.group(1)])
        elif items and line[:1].isspace():
            items[-1].append(line)
        else:
            if items:
                flush()
            para.append(line)
        i += 1
    flush()
    return Markup("\n".join(out))  # noqa: S704  # built from escaped pieces  # nosec B704
