"""[dashboard]: the maintainer dashboard, its server and the digests (see config/default.toml)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field, field_validator

_STRICT = ConfigDict(extra="forbid")


def _http_url(value: str) -> str:
    if not value.startswith(("https://", "http://")):
        raise ValueError("must be an http(s) URL")
    if any(c.isspace() or ord(c) < 32 or c in "<>\"'" for c in value):
        raise ValueError("must not contain spaces, quotes, angle brackets or control characters")
    return value


class DashboardSettings(BaseModel):
    """[dashboard]: site title, archive links, MAINTAINERS, paging, feed, server."""

    model_config = _STRICT

    title: str = "reviewbot dashboard"
    archive_url: str = "https://lore.kernel.org/r/{msgid}"
    base_url: str = ""
    maintainers: str = ""
    page_size: int = Field(default=100, ge=10, le=10000)
    feed_entries: int = Field(default=200, ge=1, le=10000)
    top_findings: int = Field(default=10, ge=1, le=100)
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, lt=65536)
    poll_seconds: float = Field(default=2.0, gt=0)

    @field_validator("title")
    @classmethod
    def _title(cls, value: str) -> str:
        if any(ord(c) < 32 for c in value) or len(value) > 200:
            raise ValueError("a short line without control characters")
        return value

    @field_validator("archive_url")
    @classmethod
    def _archive(cls, value: str) -> str:
        if "{msgid}" not in value:
            raise ValueError("must contain {msgid}")
        return _http_url(value)

    @field_validator("base_url")
    @classmethod
    def _base(cls, value: str) -> str:
        if not value:
            return value
        return _http_url(value).rstrip("/") + "/"
