"""Review results on the wire: the JSON contract other tools build on."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from heuristics.model import Finding

# Default docs link ([output] docs_url overrides it).
DOCS_URL = "https://reviewbot.invalid/rules/{rule}.html"


class ReportedFinding(Finding):
    """A finding as reported: rule docs link and, in series/tree mode, attribution."""

    model_config = ConfigDict(frozen=True)

    docs_url: str = ""
    preexisting: bool = False
    fixed_later_in_series: bool = False
    introduced_by: str | None = None


class Review(BaseModel):
    """The review of one patch (or one scanned file, or an input that failed)."""

    source: str
    subject: str
    message_id: str | None = None
    error: str | None = None
    mode: Literal["hunk", "tree", "scan"] = "hunk"
    kernel_version: str | None = None
    kernel_version_source: str | None = None
    series_version: int | None = None
    patch_index: int | None = None
    patch_count: int | None = None
    apply_error: str | None = None
    findings: list[ReportedFinding] = Field(default_factory=list)
    preexisting: list[ReportedFinding] = Field(default_factory=list)
    fixed_later_in_series: list[ReportedFinding] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class Report(BaseModel):
    """Everything one run produced."""

    tool: str = "reviewbot"
    version: str
    reviews: list[Review] = Field(default_factory=list)
