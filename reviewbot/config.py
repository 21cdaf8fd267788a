"""Settings: config/default.toml, then a site file, git config, the environment, the command line.

Every section is a pydantic model with ``extra="forbid"``; a bad value fails
with a message naming its source (file, git config key or environment
variable) and the key. The git config and environment layers live in
``reviewbot.configlayers``.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from heuristics.model import KernelVersion, Severity
from heuristics.registry import unknown_selectors
from reviewbot.botconfig import (
    BotIdentity,
    LoreSettings,
    MailSettings,
    PatchworkSettings,
    PolicySettings,
    ScopeSettings,
    SmtpSettings,
    StorageSettings,
)
from reviewbot.dashboard.settings import DashboardSettings

_STRICT = ConfigDict(extra="forbid")


class ConfigError(Exception):
    """A configuration file is unreadable or invalid."""


class OutputSettings(BaseModel):
    """[output]: what is shown and what fails a run."""

    model_config = _STRICT

    min_severity: Severity = Severity.WARNING
    fail_on: Severity = Severity.WARNING
    docs_url: str = "https://reviewbot.invalid/rules/{rule}.html"

    @field_validator("docs_url")
    @classmethod
    def _has_rule(cls, value: str) -> str:
        if "{rule}" not in value:
            raise ValueError("must contain {rule}")
        return value


class KernelSettings(BaseModel):
    """[kernel]: the target kernel when nothing else says."""

    model_config = _STRICT

    version: str = ""

    @field_validator("version")
    @classmethod
    def _version(cls, value: str) -> str:
        if value:
            KernelVersion.parse(value)
        return value


class RuleSettings(BaseModel):
    """[rules]: selection, severity overrides and path scopes."""

    model_config = _STRICT

    select: list[str] = Field(default_factory=list)
    ignore: list[str] = Field(default_factory=list)
    scope: list[str] = Field(default_factory=list)
    severity: dict[str, Severity] = Field(default_factory=dict)
    paths: dict[str, list[str]] = Field(default_factory=dict)

    @field_validator("select", "ignore")
    @classmethod
    def _selectors(cls, value: list[str]) -> list[str]:
        bad = unknown_selectors(value)
        if bad:
            raise ValueError(f"no rule matches {bad}")
        return value

    @field_validator("severity", "paths")
    @classmethod
    def _rule_ids(cls, value: dict[str, Any]) -> dict[str, Any]:
        bad = unknown_selectors(value.keys())
        if bad:
            raise ValueError(f"no rule matches {bad}")
        return value


HookName = Literal["sendemail-validate", "pre-push"]
HOOK_NAMES: tuple[HookName, ...] = ("sendemail-validate", "pre-push")


class HookSettings(BaseModel):
    """[hooks]: the git hooks (sendemail-validate, pre-push)."""

    model_config = _STRICT

    enabled: bool = True
    fail_on: Severity = Severity.ERROR
    tree: bool = True
    install: list[HookName] = Field(default_factory=lambda: list(HOOK_NAMES))
    max_commits: int = Field(default=100, ge=1)


class LimitsSettings(BaseModel):
    """[limits]: what one message may cost; a message over a limit is skipped with the reason."""

    model_config = _STRICT

    max_message_bytes: int = Field(default=8 * 1024 * 1024, gt=0)
    max_patch_lines: int = Field(default=200_000, gt=0)
    max_seconds_per_message: float = Field(default=60.0, gt=0)
    max_memory_mb: int = Field(default=1024, ge=0)


class Settings(BaseModel):
    """The whole configuration."""

    model_config = _STRICT

    output: OutputSettings = Field(default_factory=OutputSettings)
    kernel: KernelSettings = Field(default_factory=KernelSettings)
    rules: RuleSettings = Field(default_factory=RuleSettings)
    hooks: HookSettings = Field(default_factory=HookSettings)
    bot: BotIdentity = Field(default_factory=BotIdentity)
    lore: LoreSettings = Field(default_factory=LoreSettings)
    scope: ScopeSettings = Field(default_factory=ScopeSettings)
    mail: MailSettings = Field(default_factory=MailSettings)
    smtp: SmtpSettings = Field(default_factory=SmtpSettings)
    patchwork: PatchworkSettings = Field(default_factory=PatchworkSettings)
    storage: StorageSettings = Field(default_factory=StorageSettings)
    policy: PolicySettings = Field(default_factory=PolicySettings)
    dashboard: DashboardSettings = Field(default_factory=DashboardSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``: tables merge key by key, anything else is replaced."""
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def describe(exc: ValidationError, source: str) -> str:
    """One readable line per validation error: ``source: key: problem``."""
    parts = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        msg = err["msg"]
        if err["type"] == "extra_forbidden":
            msg = "unknown key"
        parts.append(f"{source}: {key}: {msg}")
    return "; ".join(parts)


def default_data() -> dict[str, Any]:
    """The shipped defaults as a dict."""
    raw = resources.files("reviewbot_config").joinpath("default.toml").read_bytes()
    return tomllib.loads(raw.decode("utf-8"))


def read_site_file(path: Path) -> dict[str, Any]:
    """A site file's TOML as a dict (ConfigError naming the file when unreadable)."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from exc


def load_settings(path: Path | None = None, overrides: dict[str, Any] | None = None
                  ) -> Settings:
    """Defaults, then ``path`` (if given), then ``overrides``; validated."""
    data = default_data()
    source = "config/default.toml"
    if path is not None:
        site = read_site_file(path)
        try:
            Settings.model_validate(merge(default_data(), site))
        except ValidationError as exc:
            raise ConfigError(describe(exc, str(path))) from exc
        data = merge(data, site)
        source = str(path)
    if overrides:
        data = merge(data, overrides)
        source = "command line"
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(describe(exc, source)) from exc
