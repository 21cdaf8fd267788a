"""Configuration sections of the list bot: [bot], [lore], [scope], [mail], [smtp],
[patchwork], [storage] and [policy] (documented key by key in config/default.toml).

Secrets (the SMTP password, the patchwork token) come from the config file or
from the environment variable each section names; they are never logged.
"""

from __future__ import annotations

import os
import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from heuristics.model import Confidence, Severity

_STRICT = ConfigDict(extra="forbid")
_ADDRESS_RE = re.compile(r"^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9.-]+$")

CcMode = Literal["muted", "author", "maintainers", "lists"]


def _address(value: str) -> str:
    if value and not _ADDRESS_RE.match(value):
        raise ValueError(f"not a plain e-mail address: {value!r}")
    return value


class BotIdentity(BaseModel):
    """[bot]: who the bot is in its mails."""

    model_config = _STRICT

    name: str = "reviewbot"
    address: str = "reviewbot@localhost"
    msgid_domain: str = ""
    contact: str = ""
    docs_url: str = "https://reviewbot.invalid/rules/{rule}"

    @field_validator("address")
    @classmethod
    def _addr(cls, value: str) -> str:
        if not value:
            raise ValueError("the bot needs an address")
        return _address(value)

    @field_validator("msgid_domain")
    @classmethod
    def _domain(cls, value: str) -> str:
        if value and not re.fullmatch(r"[A-Za-z0-9.-]+", value):
            raise ValueError(f"not a domain name: {value!r}")
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if any(ord(c) < 32 for c in value):
            raise ValueError("control characters in the bot name")
        return value

    @property
    def domain(self) -> str:
        """The right-hand side of the bot's Message-IDs."""
        return self.msgid_domain or self.address.rsplit("@", 1)[1]


class LoreSettings(BaseModel):
    """[lore]: polling public-inbox servers."""

    model_config = _STRICT

    urls: list[str] = Field(default_factory=lambda: ["https://lore.kernel.org/all"])
    query: str = ""
    query_paths: bool = False
    interval: float = Field(default=300.0, gt=0)
    backfill_hours: float = Field(default=24.0, ge=0)
    window_hours: float = Field(default=6.0, gt=0)
    overlap_seconds: float = Field(default=900.0, ge=0)
    connect_timeout: float = Field(default=10.0, gt=0)
    read_timeout: float = Field(default=60.0, gt=0)
    retries: int = Field(default=3, ge=0)
    backoff_seconds: float = Field(default=2.0, ge=0)
    max_backoff_seconds: float = Field(default=120.0, ge=0)


class ScopeSettings(BaseModel):
    """[scope]: which lists and paths the bot reviews, and how it waits for series."""

    model_config = _STRICT

    lists: list[str] = Field(default_factory=list)
    paths: list[str] = Field(default_factory=lambda: [
        "fs/", "mm/", "block/", "drivers/block/", "drivers/md/", "drivers/nvme/",
        "drivers/scsi/", "include/linux/"])
    grace_minutes: float = Field(default=60.0, ge=0)
    max_series_patches: int = Field(default=200, gt=0)


class MailSettings(BaseModel):
    """[mail]: what the replies say and when a reply is written at all."""

    model_config = _STRICT

    on_clean: Literal["silent", "patchwork"] = "silent"
    announce_fixed: Literal["never", "with-findings", "always"] = "with-findings"
    max_findings_per_reply: int = Field(default=8, gt=0)
    quote_context: int = Field(default=3, ge=0, le=20)
    width: int = Field(default=78, ge=40, le=78)
    template_dir: str = ""


class SmtpSettings(BaseModel):
    """[smtp]: the outgoing mail server."""

    model_config = _STRICT

    host: str = ""
    port: int = Field(default=587, gt=0, lt=65536)
    security: Literal["starttls", "ssl", "none"] = "starttls"
    username: str = ""
    password: str = Field(default="", repr=False)
    password_env: str = "REVIEWBOT_SMTP_PASSWORD"  # noqa: S105 - a variable name
    ca_file: str = ""
    timeout: float = Field(default=30.0, gt=0)
    send_interval_seconds: float = Field(default=0.0, ge=0)
    retry_seconds: float = Field(default=60.0, ge=0)
    max_attempts: int = Field(default=50, gt=0)

    def secret(self) -> str:
        """The password: the config value, else the environment variable."""
        return self.password or os.environ.get(self.password_env, "")


class PatchworkSettings(BaseModel):
    """[patchwork]: posting one check per patch."""

    model_config = _STRICT

    url: str = ""
    token: str = Field(default="", repr=False)
    token_env: str = "REVIEWBOT_PATCHWORK_TOKEN"  # noqa: S105 - a variable name
    context: str = "reviewbot"
    target_url: str = "https://lore.kernel.org/r/{msgid}"
    timeout: float = Field(default=30.0, gt=0)
    retries: int = Field(default=3, ge=0)
    backoff_seconds: float = Field(default=2.0, ge=0)
    retry_seconds: float = Field(default=300.0, ge=0)
    max_attempts: int = Field(default=48, gt=0)

    @field_validator("context")
    @classmethod
    def _context(cls, value: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9_.-]+", value):
            raise ValueError("a patchwork check context is letters, digits, - _ and .")
        return value

    def secret(self) -> str:
        """The API token: the config value, else the environment variable."""
        return self.token or os.environ.get(self.token_env, "")


class StorageSettings(BaseModel):
    """[storage]: the SQLite state."""

    model_config = _STRICT

    db: str = ""
    keep_raw_days: float = Field(default=30.0, ge=0)


class ListPolicy(BaseModel):
    """One list's policy; unset keys take [policy.default]'s value."""

    model_config = _STRICT

    mode: CcMode | None = None
    maintainers: list[str] | None = None
    embargo_hours: float | None = Field(default=None, ge=0)
    max_per_hour: int | None = Field(default=None, ge=0)
    max_per_thread: int | None = Field(default=None, ge=0)
    min_severity: Severity | None = None
    min_confidence: Confidence | None = None

    @field_validator("maintainers")
    @classmethod
    def _maintainers(cls, value: list[str] | None) -> list[str] | None:
        for item in value or []:
            _address(item)
        return value


class DefaultListPolicy(BaseModel):
    """[policy.default]: the policy of every list not named under [policy.lists]."""

    model_config = _STRICT

    mode: CcMode = "muted"
    maintainers: list[str] = Field(default_factory=list)
    embargo_hours: float = Field(default=0.0, ge=0)
    max_per_hour: int = Field(default=20, ge=0)
    max_per_thread: int = Field(default=10, ge=0)
    min_severity: Severity = Severity.WARNING
    min_confidence: Confidence = Confidence.MEDIUM

    @field_validator("maintainers")
    @classmethod
    def _maintainers(cls, value: list[str]) -> list[str]:
        for item in value:
            _address(item)
        return value

    def merged(self, over: ListPolicy | None) -> DefaultListPolicy:
        """This policy with a list's own keys on top."""
        if over is None:
            return self
        return self.model_copy(update=over.model_dump(exclude_none=True))


class PolicySettings(BaseModel):
    """[policy]: kill switch, opt-outs, and per-list policies."""

    model_config = _STRICT

    kill_switch: bool = False
    kill_file: str = ""
    opt_out_addresses: list[str] = Field(default_factory=list)
    opt_out_paths: list[str] = Field(default_factory=list)
    default: DefaultListPolicy = Field(default_factory=DefaultListPolicy)
    lists: dict[str, ListPolicy] = Field(default_factory=dict)

    @field_validator("lists")
    @classmethod
    def _lower(cls, value: dict[str, ListPolicy]) -> dict[str, ListPolicy]:
        return {k.strip().lower(): v for k, v in value.items()}

    def killed(self) -> bool:
        """Whether the global kill switch is on (config key or kill file present)."""
        return self.kill_switch or bool(self.kill_file and os.path.exists(self.kill_file))
