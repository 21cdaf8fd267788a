"""Poll a public-inbox server (lore.kernel.org or any other) with liblore.

Each poll searches received-time windows (``rt:A..B``) from the cursor (minus
[lore] overlap_seconds, since mail reaches an archive late) up to now, one
window at a time. A window's messages are all taken before the cursor moves to
its end, so a crash or a failed fetch never skips mail; messages seen before
are skipped by Message-ID. A fetch that fails (unreachable, timeout, 5xx,
truncated or corrupt gzip) is retried with backoff, then the poll gives up for
this cycle with the cursor where it was.
"""

from __future__ import annotations

import hashlib
import logging
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import requests
from liblore import LibloreError, LoreNode, RemoteError
from liblore.utils import split_mbox_as_bytes

from reviewbot import __version__
from reviewbot.config import Settings
from reviewbot.policy import list_forms
from reviewbot.watch.bot import Bot
from reviewbot.watch.errors import SourceError

log = logging.getLogger(__name__)
NodeFactory = Callable[[str], LoreNode]


def _term(prefix: str, value: str) -> str:
    value = value.replace('"', "")
    return f'{prefix}:"{value}"'


def build_query(settings: Settings, override: str | None = None) -> str:
    """The search terms without the time window: --query, [lore] query, or [scope]."""
    if override:
        return override.strip()
    if settings.lore.query:
        return settings.lore.query.strip()
    parts = []
    lists = [next(f for f in sorted(list_forms(name)) if "@" not in f)
             for name in settings.scope.lists if name.strip()]
    if lists:
        parts.append("(" + " OR ".join(_term("l", name) for name in lists) + ")")
    if settings.lore.query_paths and settings.scope.paths:
        parts.append("(" + " OR ".join(_term("dfn", p.rstrip("/"))
                                       for p in settings.scope.paths) + ")")
    return " AND ".join(parts)


def make_node(settings: Settings) -> NodeFactory:
    """A LoreNode factory with the configured timeouts and no cache."""
    def factory(url: str) -> LoreNode:
        node = LoreNode(url, request_timeout=(settings.lore.connect_timeout,
                                              settings.lore.read_timeout),
                        follow_upstream=False)
        node.set_user_agent("reviewbot", __version__)
        return node
    return factory


@dataclass(slots=True)
class PollResult:
    """What one poll of one source did."""

    windows: int = 0
    messages: int = 0
    complete: bool = True


class LoreSource:
    """One public-inbox URL and one query."""

    def __init__(self, url: str, query: str, settings: Settings, node: LoreNode,
                 clock: Callable[[], float] = time.time) -> None:
        self.url = url.rstrip("/")
        self.query = query
        self.settings = settings
        self.node = node
        self.clock = clock
        digest = hashlib.sha256(query.encode()).hexdigest()[:12]
        self.key = f"lore:{self.url}|{digest}"

    def _window_query(self, start: int, end: int | None) -> str:
        window = f"rt:{start}..{end if end is not None else ''}"
        return f"({self.query}) AND {window}" if self.query else window

    def fetch(self, query: str, bot: Bot) -> list[bytes]:
        """The raw messages a search finds; SourceError after the retries."""
        lore = self.settings.lore
        delay = lore.backoff_seconds
        last = ""
        for attempt in range(lore.retries + 1):
            if attempt:
                if bot.stop.wait(min(delay, lore.max_backoff_seconds)):
                    break
                delay *= 2
            try:
                mbox = self.node.get_mbox_by_query(query, nocache=True)
            except RemoteError as exc:
                if exc.status_code == 404:
                    return []  # public-inbox: "No results found"
                last = f"{exc}"
            except (LibloreError, requests.RequestException, OSError, EOFError,
                    zlib.error) as exc:
                last = f"{type(exc).__name__}: {exc}"
            else:
                messages = split_mbox_as_bytes(mbox)
                return messages
            log.warning("%s: fetch failed (attempt %d): %s", self.url, attempt + 1, last)
        raise SourceError(f"{self.url}: {last or 'stopped'}")

    def poll(self, bot: Bot) -> PollResult:
        """Take every message received since the cursor, window by window."""
        lore = self.settings.lore
        result = PollResult()
        now = self.clock()
        cursor = bot.store.cursor(self.key)
        if cursor is None:
            start = now - lore.backfill_hours * 3600
        else:
            start = float(cursor) - lore.overlap_seconds
        window = lore.window_hours * 3600
        while not bot.stop.requested():
            end: float | None = start + window
            assert end is not None  # type narrowing  # nosec B101
            if end >= now:
                end = None
            sent = self.clock()
            raws = self.fetch(self._window_query(int(start), int(end) if end else None), bot)
            result.windows += 1
            for raw in raws:
                if bot.stop.requested():
                    result.complete = False
                    return result
                bot.take(raw, self.key)
                result.messages += 1
            reached = end if end is not None else self._reached(sent)
            bot.store.set_cursor(self.key, str(int(reached)))
            if end is None:
                break
            start = end
        else:
            result.complete = False
        return result

    def _reached(self, sent: float) -> float:
        """How far an open-ended answer reaches: when it was asked, or the mirror's as-of."""
        as_of = self.node.last_as_of
        return min(sent, as_of.timestamp()) if as_of is not None else sent


def lore_sources(urls: Sequence[str], query: str, settings: Settings,
                 factory: NodeFactory | None = None) -> list[LoreSource]:
    """One source per URL."""
    make = factory or make_node(settings)
    return [LoreSource(url, query, settings, make(url)) for url in urls]
