"""Where things link to: the mail archive, and the site's own page names."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from urllib.parse import quote

from reviewbot.dashboard.scopes import slug

_RULE_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,40}$")


def archive_url(template: str, msgid: str) -> str:
    """``template`` with ``{msgid}`` replaced by the URL-encoded Message-ID (no <>)."""
    bare = msgid.strip().removeprefix("<").removesuffix(">")
    return template.replace("{msgid}", quote(bare, safe="@"))


def rule_page(rule: str) -> str:
    """The rule page's path in the site (``rules/<ID>.html``)."""
    name = rule if _RULE_ID_RE.match(rule) else slug(rule)
    return f"rules/{name}.html"


def series_page(series_id: int) -> str:
    """The series page's path in the site."""
    return f"series/{int(series_id)}.html"


def paged(base: str, page: int) -> str:
    """Page ``page`` (1-based) of a paged listing: ``base.html``, ``base-2.html``, ..."""
    return f"{base}.html" if page <= 1 else f"{base}-{page}.html"


def when(ts: float | None) -> str:
    """A Unix time as ``YYYY-MM-DD HH:MM UTC`` (empty for None)."""
    if ts is None:
        return ""
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def iso(ts: float) -> str:
    """A Unix time in RFC 3339 (Atom, JSON)."""
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def percent(value: float | None) -> str:
    """``0.25`` as ``25%``; None as an en dash."""
    return "\u2013" if value is None else f"{value * 100:.0f}%"
