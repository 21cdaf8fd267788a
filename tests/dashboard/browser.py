"""A real headless Chromium (Debian's ``chromium``), a tiny PNG decoder, and an HTML reader
for the dashboard tests."""

from __future__ import annotations

import struct
import subprocess
import tempfile
import zlib
from collections import Counter
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlsplit

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync"]


def chromium(*args: str, timeout: float = 90.0) -> subprocess.CompletedProcess[str]:
    """Run chromium with the test flags and a fresh profile directory."""
    assert CHROMIUM.exists(), "Debian's chromium is needed (scripts/test installs it)"
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run([str(CHROMIUM), *FLAGS, f"--user-data-dir={profile}", *args],
                              capture_output=True, text=True, timeout=timeout, check=False)


def dump_dom(url: str) -> str:
    """The DOM after loading ``url``, serialised by the browser."""
    done = chromium("--dump-dom", url)
    assert done.returncode == 0 and "<html" in done.stdout, done.stderr[-2000:]
    return done.stdout


def screenshot(url: str, out: Path, width: int = 1280, height: int = 1800) -> Path:
    """A PNG of the page as the browser renders it."""
    done = chromium(f"--screenshot={out}", f"--window-size={width},{height}",
                    "--hide-scrollbars", url)
    assert done.returncode == 0 and out.exists(), done.stderr[-2000:]
    return out


@dataclass
class Image:
    """Decoded pixels: ``rows[y][x]`` is an (r, g, b) tuple."""

    width: int
    height: int
    rows: list[list[tuple[int, int, int]]]
    _histogram: Counter[tuple[int, int, int]] | None = None

    def colors(self, box: tuple[int, int, int, int] | None = None) -> set[tuple[int, int, int]]:
        """Distinct colours, in ``(x0, y0, x1, y1)`` or the whole image."""
        if box is None:
            return set(self.histogram())
        x0, y0, x1, y1 = box
        return {px for row in self.rows[y0:y1] for px in row[x0:x1]}

    def histogram(self) -> Counter[tuple[int, int, int]]:
        """Pixels per colour (computed once)."""
        if self._histogram is None:
            self._histogram = Counter(px for row in self.rows for px in row)
        return self._histogram

    def count(self, color: tuple[int, int, int], tolerance: int = 0) -> int:
        """How many pixels are (about) ``color``."""
        return sum(n for px, n in self.histogram().items()
                   if all(abs(a - b) <= tolerance for a, b in zip(px, color, strict=True)))


def _paeth(a: int, b: int, c: int) -> int:
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def read_png(path: Path) -> Image:
    """Decode an 8-bit RGB or RGBA, non-interlaced PNG (what Chromium writes)."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = depth = ctype = interlace = 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, ctype, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and ctype in (2, 6) and interlace == 0, (depth, ctype, interlace)
    bpp = 3 if ctype == 2 else 4
    raw = zlib.decompress(idat)
    stride = width * bpp
    rows: list[list[tuple[int, int, int]]] = []
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        line = bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b = prev[i]
            c = prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                line[i] = (line[i] + _paeth(a, b, c)) & 0xFF
        rows.append([(line[x], line[x + 1], line[x + 2]) for x in range(0, stride, bpp)])
        prev = line
    return Image(width, height, rows)


class Page(HTMLParser):
    """What a page holds: tags, links, element ids and its text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)

    @classmethod
    def of(cls, html: str) -> Page:
        """Parse ``html``."""
        page = cls()
        page.feed(html)
        page.close()
        return page

    def content(self) -> str:
        """The text, whitespace collapsed."""
        return " ".join(" ".join(self.text).split())

    def links(self) -> list[str]:
        """Every href and src."""
        return [v for _, attrs in self.tags for k, v in attrs.items()
                if k in ("href", "src") and v is not None]

    def ids(self) -> set[str]:
        """Every id attribute."""
        return {str(a["id"]) for _, a in self.tags if a.get("id")}

    def count(self, tag: str) -> int:
        """How many ``tag`` elements."""
        return sum(1 for t, _ in self.tags if t == tag)


def check_links(site: Path, page: str, html: str, external: str) -> int:
    """Every link of ``page`` is a file of ``site`` (and its #fragment an id there) or starts
    with ``external``; the number of links checked."""
    checked = 0
    for link in Page.of(html).links():
        checked += 1
        if link.startswith(("http://", "https://")):
            assert link.startswith(external), f"{page}: external link {link}"
            continue
        parts = urlsplit(link)
        assert not parts.scheme and not parts.netloc, f"{page}: {link}"
        target = (site / page).parent / unquote(parts.path) if parts.path else site / page
        target = target.resolve()
        assert target.is_relative_to(site.resolve()), f"{page}: {link} leaves the site"
        assert target.is_file(), f"{page}: {link} -> missing {target}"
        if parts.fragment and target.suffix == ".html":
            ids = Page.of(target.read_text(encoding="utf-8")).ids()
            assert parts.fragment in ids, f"{page}: {link}: no #{parts.fragment}"
    return checked
