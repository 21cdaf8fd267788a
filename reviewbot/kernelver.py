"""Which kernel a patch targets: flag, stable subject prefix, tree, mail date, mainline."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from heuristics.model import KernelVersion
from heuristics.tables import ApiTables
from reviewbot.ingest import PatchMail


def version_for_date(when: datetime.datetime, tables: ApiTables) -> KernelVersion | None:
    """The development kernel at ``when``: the release after the newest one before it."""
    day = when.date().isoformat()
    releases = sorted(tables.releases, key=lambda r: r.date)
    if not releases or day < releases[0].date:
        return None
    for i, rel in enumerate(releases):
        if rel.date > day:
            return KernelVersion.parse(rel.version)
        if i == len(releases) - 1:
            return None  # after the table: current mainline
    return None


def resolve(explicit: str | None, patches: Iterable[PatchMail], tables: ApiTables,
            tree_version: str | None = None) -> tuple[KernelVersion, str]:
    """(version, source) where source is flag|subject|tree|date|default."""
    if explicit:
        return KernelVersion.parse(explicit), "flag"
    patches = list(patches)
    for patch in patches:
        if patch.stable_version:
            return KernelVersion.parse(patch.stable_version), "subject"
    if tree_version:
        return KernelVersion.parse(tree_version), "tree"
    dates = [p.date for p in patches if p.date is not None]
    if dates:
        got = version_for_date(min(dates), tables)
        if got is not None:
            return got, "date"
    return tables.mainline_version, "default"
