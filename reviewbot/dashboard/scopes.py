"""Slices of the data: per mailing list, per MAINTAINERS entry, per maintainer.

A list's scope is every series sent to it, with all their findings. A
subsystem's (MAINTAINERS entry's) scope is the findings in files the entry
covers and the series they belong to; a maintainer's is the union over the
entries naming them in ``M:`` or ``R:``. Series without findings touch no
known file and so appear only on list pages.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from reviewbot.dashboard.data import Dataset, Finding, Series
from reviewbot.dashboard.maintainers import Entry, Index, Person


def slug(text: str) -> str:
    """A file-name-safe, unique name for ``text`` (readable part plus a short hash)."""
    readable = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:60].strip("-")
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:8]
    return f"{readable}-{digest}" if readable else digest


@dataclass(slots=True)
class Scope:
    """A named slice: its series (newest first) and findings."""

    kind: str  # "list", "subsystem", "maintainer"
    key: str
    title: str
    slug: str
    series: list[Series] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    person: Person | None = None
    _series_ids: set[int] = field(default_factory=set)
    _finding_ids: set[int] = field(default_factory=set)

    def add(self, series: Iterable[Series], findings: Iterable[Finding]) -> None:
        """Add series and findings (each once)."""
        for s in series:
            if s.id not in self._series_ids:
                self._series_ids.add(s.id)
                self.series.append(s)
        for f in findings:
            if f.id not in self._finding_ids:
                self._finding_ids.add(f.id)
                self.findings.append(f)

    def finish(self) -> Scope:
        """Sort: series newest first, findings most severe then newest."""
        self.series.sort(key=lambda s: (-s.when, -s.id))
        self.findings.sort(key=lambda f: (-f.reviewed_at, -f.id))
        return self


def list_scopes(data: Dataset) -> list[Scope]:
    """One scope per mailing list (by the name the bot recorded), by name."""
    scopes: dict[str, Scope] = {}
    for s in data.series.values():
        for name in s.lists:
            scope = scopes.get(name)
            if scope is None:
                scope = scopes[name] = Scope("list", name, name, slug(name))
            scope.add([s], s.findings)
    return [scopes[k].finish() for k in sorted(scopes)]


def subsystem_scopes(data: Dataset, index: Index) -> list[Scope]:
    """One scope per MAINTAINERS entry that covers at least one finding, by title."""
    scopes: dict[int, Scope] = {}
    for f in data.findings:
        series = data.series.get(f.series_id)
        if series is None:
            continue
        for entry in index.entries_for(f.file):
            scope = scopes.get(id(entry))
            if scope is None:
                scope = scopes[id(entry)] = Scope(
                    "subsystem", entry.title, entry.title, slug(entry.title), entries=[entry])
            scope.add([series], [f])
    return sorted((s.finish() for s in scopes.values()), key=lambda s: (s.title, s.slug))


def maintainer_scopes(subsystems: Iterable[Scope]) -> list[Scope]:
    """One scope per person named in M: or R: of an entry with findings, by address."""
    scopes: dict[str, Scope] = {}
    for sub in subsystems:
        entry = sub.entries[0]
        for person in entry.people:
            scope = scopes.get(person.email)
            if scope is None:
                scope = scopes[person.email] = Scope(
                    "maintainer", person.email, f"{person.name} <{person.email}>",
                    slug(person.email), person=person)
            if all(e is not entry for e in scope.entries):
                scope.entries.append(entry)
            scope.add(sub.series, sub.findings)
    return [scopes[k].finish() for k in sorted(scopes)]
