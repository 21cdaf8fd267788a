"""Frozen data model shared by the analysis core and its callers."""

from __future__ import annotations

import hashlib
import re
from enum import StrEnum
from functools import lru_cache, total_ordering

from pydantic import BaseModel, ConfigDict


class Category(StrEnum):
    """The four hazard families."""

    NOFS_MISUSE = "nofs-misuse"
    MEMALLOC_UNPAIRED = "memalloc-unpaired"
    VMALLOC_NOFS = "vmalloc-nofs"
    EVICT_BLOCKING = "evict-blocking"


class _Ranked(StrEnum):
    """A StrEnum ordered by rank, not by its string value.

    str already defines every comparison, so functools.total_ordering would
    silently keep string order for most of them: all four are spelt out.
    """

    @property
    def rank(self) -> int:
        """Numeric order, lowest first."""
        raise NotImplementedError

    def _cmp(self, other: object) -> int:
        if type(other) is not type(self):
            raise TypeError(f"cannot compare {type(self).__name__} with {type(other).__name__}")
        assert isinstance(other, _Ranked)  # type narrowing  # nosec B101
        return self.rank - other.rank

    def __lt__(self, other: object) -> bool:
        return self._cmp(other) < 0

    def __le__(self, other: object) -> bool:
        return self._cmp(other) <= 0

    def __gt__(self, other: object) -> bool:
        return self._cmp(other) > 0

    def __ge__(self, other: object) -> bool:
        return self._cmp(other) >= 0

    def __hash__(self) -> int:
        return str.__hash__(self)


class Severity(_Ranked):
    """How bad a finding is: error > warning > advice."""

    ADVICE = "advice"
    WARNING = "warning"
    ERROR = "error"

    @property
    def rank(self) -> int:
        """Numeric order, advice lowest."""
        return _SEVERITY_RANK[self]


_SEVERITY_RANK = {Severity.ADVICE: 0, Severity.WARNING: 1, Severity.ERROR: 2}


class Confidence(_Ranked):
    """How sure the rule is that the hazard is real: high > medium > low."""

    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        """Numeric order, low lowest."""
        return _CONFIDENCE_RANK[self]

    def lower(self) -> Confidence:
        """One step less sure (low stays low)."""
        return {Confidence.HIGH: Confidence.MEDIUM}.get(self, Confidence.LOW)


_CONFIDENCE_RANK = {Confidence.LOW: 0, Confidence.MEDIUM: 1, Confidence.HIGH: 2}


_VERSION_RE = re.compile(r"v?(\d+)\.(\d+)(?:\.(\d+|y))?")


@total_ordering
class KernelVersion(BaseModel):
    """A mainline kernel release, compared by (major, minor[, sub for 2.6.x])."""

    model_config = ConfigDict(frozen=True)

    parts: tuple[int, ...]

    @classmethod
    def parse(cls, text: str) -> KernelVersion:
        """Parse "6.1", "v5.17-rc3", "6.1.y", "2.6.38"; raise ValueError otherwise."""
        return _parse_version(text)

    @classmethod
    def _parse(cls, text: str) -> KernelVersion:
        match = _VERSION_RE.fullmatch(text.strip().split("-")[0])
        if not match:
            raise ValueError(f"not a kernel version: {text!r}")
        major, minor, sub = match.groups()
        parts = [int(major), int(minor)]
        # Only the 2.6.x era numbered releases with a third component.
        if (int(major), int(minor)) == (2, 6) and sub and sub != "y":
            parts.append(int(sub))
        return cls(parts=tuple(parts))

    def __str__(self) -> str:
        return ".".join(str(p) for p in self.parts)

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, KernelVersion):
            return NotImplemented
        return self.parts < other.parts

    def __hash__(self) -> int:
        return hash(self.parts)


@lru_cache(maxsize=256)
def _parse_version(text: str) -> KernelVersion:
    return KernelVersion._parse(text)


class RuleMeta(BaseModel):
    """Declarative facts about a rule, fixed at registration."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    category: Category
    severity: Severity
    confidence: Confidence
    summary: str
    docs: str


class Finding(BaseModel):
    """One hazard a rule found at one place in the post-image."""

    model_config = ConfigDict(frozen=True)

    rule: str
    name: str
    category: Category
    severity: Severity
    confidence: Confidence
    file: str
    line: int
    function: str | None
    message: str
    snippet: str
    fingerprint: str
    suggestion: str | None = None
    added: bool = False


def fingerprint(rule: str, path: str, function: str | None, key: str) -> str:
    """Line-free identity of a finding: stable across rerolls and unrelated edits."""
    normalised = " ".join(key.split())
    data = "\x1f".join((rule, path, function or "", normalised))
    return hashlib.sha256(data.encode("utf-8", "surrogateescape")).hexdigest()[:16]
