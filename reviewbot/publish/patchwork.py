"""Post one check per patch to patchwork through its REST API, never twice.

Calls used (patchwork 2.2+ REST API, unversioned ``/api/``):

- ``GET  /api/patches/?msgid=<id>``: find the patch by Message-ID;
- ``GET  /api/patches/<n>/checks/``: the checks already there (a check with
  our context means an earlier attempt got through: nothing is posted again);
- ``POST /api/patches/<n>/checks/``: ``state``, ``target_url``, ``context``,
  ``description``, with ``Authorization: Token <token>``.

5xx answers and unreachable servers are retried with backoff; the existing
checks are listed again before every POST.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import requests

from reviewbot import __version__
from reviewbot.botconfig import PatchworkSettings


class PatchworkError(Exception):
    """Patchwork did not take the check; ``permanent`` means retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False) -> None:
        super().__init__(message)
        self.permanent = permanent


class PatchNotFound(PatchworkError):
    """Patchwork does not know the patch (yet)."""


@dataclass(frozen=True, slots=True)
class Check:
    """One check to post."""

    msgid: str
    state: str
    context: str
    description: str
    target_url: str


def api_base(url: str) -> str:
    """``https://host/`` or ``https://host/api`` -> ``https://host/api``."""
    url = url.rstrip("/")
    return url if url.endswith("/api") else url + "/api"


class PatchworkClient:
    """A small client for the calls above."""

    def __init__(self, settings: PatchworkSettings, url: str | None = None,
                 token: str | None = None, sleep: Callable[[float], None] = time.sleep) -> None:
        self.settings = settings
        self.base = api_base(url or settings.url)
        self._token = token or settings.secret()
        self._sleep = sleep
        self.session = requests.Session()
        self.session.headers["User-Agent"] = f"reviewbot/{__version__}"

    def _attempts(self) -> Iterator[int]:
        """Attempt numbers, sleeping with exponential backoff before each retry."""
        delay = self.settings.backoff_seconds
        for attempt in range(self.settings.retries + 1):
            if attempt:
                self._sleep(delay)
                delay *= 2
            yield attempt

    def _call(self, method: str, path: str, **kwargs: Any) -> requests.Response:
        url = f"{self.base}{path}"
        last = ""
        for _attempt in self._attempts():
            try:
                resp = self.session.request(method, url, timeout=self.settings.timeout, **kwargs)
            except requests.RequestException as exc:
                last = f"{type(exc).__name__}"
                continue
            if resp.status_code >= 500:
                last = f"HTTP {resp.status_code}"
                continue
            return resp
        raise PatchworkError(f"{method} {path}: {last} after {self.settings.retries + 1} tries")

    def find_patch(self, msgid: str) -> int:
        """The patch id for a Message-ID; PatchNotFound if patchwork has none."""
        resp = self._call("GET", "/patches/", params={"msgid": msgid})
        if resp.status_code != 200:
            raise PatchworkError(f"patch lookup: HTTP {resp.status_code}",
                                 permanent=resp.status_code in (400, 404))
        data = resp.json()
        items = data.get("results", []) if isinstance(data, dict) else data
        for item in items:
            if isinstance(item, dict) and isinstance(item.get("id"), int):
                return int(item["id"])
        raise PatchNotFound(f"patchwork has no patch {msgid!r} yet")

    def has_check(self, patch_id: int, context: str) -> bool:
        """Whether the patch already has a check with this context."""
        resp = self._call("GET", f"/patches/{patch_id}/checks/")
        if resp.status_code != 200:
            raise PatchworkError(f"listing checks: HTTP {resp.status_code}")
        data = resp.json()
        items = data.get("results", []) if isinstance(data, dict) else data
        return any(isinstance(c, dict) and c.get("context") == context for c in items)

    def post(self, check: Check) -> None:
        """Post the check unless one with its context is already there (5xx: retried)."""
        if not self._token:
            raise PatchworkError("no patchwork token (--token, [patchwork] token or "
                                 f"${self.settings.token_env})")
        patch_id = self.find_patch(check.msgid)
        body = {"state": check.state, "target_url": check.target_url,
                "context": check.context, "description": check.description}
        headers = {"Authorization": f"Token {self._token}"}
        last = ""
        for _attempt in self._attempts():
            # The server may have stored an earlier attempt that failed on the way back.
            if self.has_check(patch_id, check.context):
                return
            try:
                resp = self.session.post(f"{self.base}/patches/{patch_id}/checks/", json=body,
                                         headers=headers, timeout=self.settings.timeout)
            except requests.RequestException as exc:
                last = type(exc).__name__
                continue
            if resp.status_code in (200, 201):
                return
            if resp.status_code >= 500:
                last = f"HTTP {resp.status_code}"
                continue
            raise PatchworkError(f"posting the check: HTTP {resp.status_code}",
                                 permanent=resp.status_code in (400, 404, 405))
        raise PatchworkError(f"posting the check: {last} after {self.settings.retries + 1} tries")

    def close(self) -> None:
        """Close the HTTP session."""
        self.session.close()
