"""Assemble patch mails into series: threads, versions, order, completeness.

Replies that carry a diff are reviewed only when no ordinary submission
shares their thread (then they are the patch, e.g. "how about this?").
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from reviewbot.ingest import CoverMail, Ingested, PatchMail, subject_info


@dataclass(slots=True)
class Series:
    """One version of one series, patches in order."""

    version: int
    expected: int
    patches: list[PatchMail]
    cover: CoverMail | None = None
    family: str = ""
    superseded: list[int] = field(default_factory=list)

    @property
    def base_commit(self) -> str | None:
        """base-commit: from the cover letter, else from the first patch that has one."""
        if self.cover is not None and self.cover.base_commit:
            return self.cover.base_commit
        return next((p.base_commit for p in self.patches if p.base_commit), None)

    @property
    def complete(self) -> bool:
        """Every n/m patch is present."""
        if any(p.counters_inferred for p in self.patches):
            return True
        return {p.counter for p in self.patches} >= set(range(1, self.expected + 1))

    @property
    def title(self) -> str:
        """The cover letter's subject, else the first patch's."""
        if self.cover is not None:
            return self.cover.subject
        return self.patches[0].subject if self.patches else ""


def _thread_root(patch: PatchMail) -> str | None:
    if patch.references:
        return patch.references[0]
    return patch.in_reply_to or patch.message_id


def _family_key(title: str) -> str:
    return re.sub(r"\W+", " ", title.lower()).strip()


def assemble(ingested: Ingested, all_versions: bool = False) -> list[Series]:
    """Group patches into series; keep the newest version of each unless ``all_versions``."""
    covers = {c.message_id: c for c in ingested.covers if c.message_id}
    groups: dict[tuple[str, int], list[PatchMail]] = {}
    roots_with_submissions = {
        _thread_root(p) for p in ingested.patches if not p.is_reply and _thread_root(p)}
    for patch in ingested.patches:
        root = _thread_root(patch)
        if patch.is_reply and root in roots_with_submissions:
            continue  # discussion inside a series thread, not a submission
        if patch.message_id is None and not patch.references:
            # No threading: numbered patches from one directory form a series,
            # anything else stands alone.
            if patch.counters_inferred:
                key = "file:" + patch.source
            else:
                key = f"local:{patch.source.rsplit('/', 1)[0]}:{patch.expected}"
        else:
            key = root or patch.source
        groups.setdefault((key, patch.version), []).append(patch)

    series: list[Series] = []
    for (root, version), patches in groups.items():
        patches.sort(key=lambda p: (p.counter, p.source))
        cover = covers.get(root)
        if cover is None:
            cover = next((c for c in ingested.covers if c.version == version
                          and c.expected == patches[0].expected), None)
        title = cover.subject if cover is not None else patches[0].title
        family = _family_key(subject_info(title).title if cover is not None else title)
        series.append(Series(version, patches[0].expected, patches, cover, family))

    # Report in input order: the position of each series' first patch.
    order = {id(p): i for i, p in enumerate(ingested.patches)}
    series.sort(key=lambda s: min(order[id(p)] for p in s.patches))
    if all_versions:
        return series
    newest: dict[str, Series] = {}
    for item in series:
        best = newest.get(item.family)
        if best is None or item.version > best.version:
            if best is not None:
                item.superseded.append(best.version)
            newest[item.family] = item
        else:
            best.superseded.append(item.version)
    return sorted(newest.values(), key=lambda s: order[id(s.patches[0])])
