"""The Atom feed of new findings (RFC 4287), built with ElementTree (escaped by it).

A finding is "new" unless it repeats the previous version's (still-present)
or was answered as a false positive. Characters XML 1.0 cannot carry are
dropped.
"""

from __future__ import annotations

import re
import uuid
import xml.etree.ElementTree as ET  # builds a document, never parses one  # nosec B405
from collections.abc import Sequence

from reviewbot import __version__
from reviewbot.dashboard.data import Dataset, Finding
from reviewbot.dashboard.links import archive_url, iso, series_page
from reviewbot.dashboard.settings import DashboardSettings

ATOM = "http://www.w3.org/2005/Atom"
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
_NAMESPACE = uuid.UUID("6f0c1d9e-5d7e-4c1b-9a8e-2f4b3c5d6e7f")
OLD_STATUSES = ("still-present", "false-positive")


def xml_text(value: str) -> str:
    """``value`` without characters XML 1.0 forbids."""
    return _NOT_XML.sub("", value)


def new_findings(data: Dataset, limit: int) -> list[Finding]:
    """The newest ``limit`` findings that are new (see module docstring)."""
    fresh = [f for f in data.findings if f.status not in OLD_STATUSES]
    fresh.sort(key=lambda f: (-f.reviewed_at, -f.id))
    return fresh[:limit]


def _sub(parent: ET.Element, tag: str, text: str | None = None, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, f"{{{ATOM}}}{tag}", {k: xml_text(v) for k, v in attrs.items()})
    if text is not None:
        el.text = xml_text(text)
    return el


def entry_id(data: Dataset, f: Finding) -> str:
    """A stable id: the series key, patch, fingerprint and line."""
    s = data.series.get(f.series_id)
    name = "\0".join([s.key if s else str(f.series_id), f.msgid, f.fingerprint, str(f.line)])
    return uuid.uuid5(_NAMESPACE, name).urn


def render(data: Dataset, settings: DashboardSettings, findings: Sequence[Finding]) -> bytes:
    """The feed document."""
    ET.register_namespace("", ATOM)
    base = settings.base_url
    feed = ET.Element(f"{{{ATOM}}}feed")
    _sub(feed, "title", f"{settings.title}: new findings")
    _sub(feed, "id", uuid.uuid5(_NAMESPACE, f"feed\0{base or settings.title}").urn)
    updated = max([f.reviewed_at for f in findings], default=data.read_at)
    _sub(feed, "updated", iso(updated))
    _sub(feed, "link", rel="self", href=f"{base}feed.atom")
    _sub(feed, "link", rel="alternate", type="text/html", href=f"{base}index.html")
    _sub(feed, "generator", f"reviewbot {__version__}")
    author = _sub(feed, "author")
    _sub(author, "name", "reviewbot")
    for f in findings:
        s = data.series.get(f.series_id)
        entry = _sub(feed, "entry")
        where = f"{f.file}:{f.line}" + (f" ({f.function})" if f.function else "")
        _sub(entry, "title", f"[{f.severity}] {f.rule} {where}: {f.message}"[:300])
        _sub(entry, "id", entry_id(data, f))
        _sub(entry, "updated", iso(f.reviewed_at))
        _sub(entry, "link", rel="alternate", type="text/html",
             href=f"{base}{series_page(f.series_id)}#f{f.id}")
        _sub(entry, "link", rel="related", href=archive_url(settings.archive_url, f.msgid))
        if s is not None:
            person = _sub(entry, "author")
            _sub(person, "name", s.author_name or s.author_email or "unknown")
        _sub(entry, "category", term=f.category)
        body = [f"{f.patch_subject}", f"{f.rule} {f.name} ({f.severity}, {f.confidence} "
                f"confidence) at {where}", "", f.message]
        if f.quote:
            body += ["", f.quote]
        if f.suggestion:
            body += ["", f.suggestion]
        _sub(entry, "content", "\n".join(body), type="text")
    return bytes(ET.tostring(feed, encoding="utf-8", xml_declaration=True))
