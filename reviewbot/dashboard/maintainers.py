"""The kernel's MAINTAINERS file: entries, the people in them, and which files they cover.

The semantics are those of ``scripts/get_maintainer.pl``:

- entries are separated by blank lines; the first line is the title, the rest
  are ``T: value`` lines (``M:`` maintainer, ``R:`` reviewer, ``L:`` list,
  ``S:`` status, ``F:``/``X:`` file patterns, ``N:`` file regexes, ``K:``
  content regexes, and ``W:``/``Q:``/``T:``/``B:``/``C:``/``P:`` kept as is);
- ``F:`` is a pattern where ``*`` and ``?`` are wildcards; with a trailing
  ``/`` it covers everything in and below that directory, otherwise it must
  match from the start and the file must sit at the pattern's depth
  (``drivers/net/*`` covers ``drivers/net/a.c`` but not ``drivers/net/x/a.c``);
- ``X:`` uses the same syntax and excludes a file from the entry (``F:`` and
  ``N:`` alike);
- ``N:`` is a regular expression searched anywhere in the path (extended
  syntax: whitespace in the pattern is ignored);
- ``K:`` matches patch contents and is kept, not used for files.

A more specific match (a deeper pattern) sorts first, as get_maintainer does.
"""

from __future__ import annotations

import email.utils
import fnmatch
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from warnings import catch_warnings, simplefilter

_TAG_RE = re.compile(r"^([A-Z]):\s*(.*?)\s*$")
_MAX_PATTERN = 1000


@dataclass(frozen=True, slots=True)
class Person:
    """A maintainer or reviewer: a display name and an address (lower case)."""

    name: str
    email: str


@dataclass(frozen=True, slots=True)
class FilePattern:
    """One ``F:`` or ``X:`` pattern, compiled."""

    text: str
    regex: re.Pattern[str]
    directory: bool
    slashes: int

    @classmethod
    def compile(cls, text: str) -> FilePattern:
        """Compile a pattern: ``*`` is any run of characters, ``?`` one character.

        The match is anchored at the start only, like get_maintainer's
        ``m@^pattern@``. fnmatch's translation (``[`` made literal) runs in
        linear time however many ``*`` a pattern has.
        """
        regex = re.compile(fnmatch.translate(text.replace("[", "[[]") + "*"))
        return cls(text, regex, text.endswith("/"), text.count("/"))

    def matches(self, path: str) -> bool:
        """Whether ``path`` is covered (directories recursively, files at the same depth)."""
        if self.regex.match(path) is None:
            return False
        return self.directory or path.count("/") == self.slashes

    def depth(self) -> int:
        """How specific the pattern is (get_maintainer's pattern depth)."""
        if self.text.startswith("*"):
            return -1
        return self.slashes + (0 if self.directory else 1)

    def literal_head(self) -> str | None:
        """The first path component when it has no wildcard, else None."""
        head, sep, _ = self.text.partition("/")
        if not sep or "*" in head or "?" in head:
            return None
        return head


@dataclass(slots=True, eq=False)
class Entry:
    """One MAINTAINERS entry (compared by identity)."""

    title: str
    maintainers: list[Person] = field(default_factory=list)
    reviewers: list[Person] = field(default_factory=list)
    lists: list[str] = field(default_factory=list)
    status: str = ""
    files: list[FilePattern] = field(default_factory=list)
    excludes: list[FilePattern] = field(default_factory=list)
    regexes: list[re.Pattern[str]] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    other: dict[str, list[str]] = field(default_factory=dict)

    @property
    def people(self) -> list[Person]:
        """Maintainers, then reviewers."""
        return [*self.maintainers, *self.reviewers]

    def match(self, path: str) -> int | None:
        """How specifically the entry covers ``path`` (None: not at all)."""
        if any(x.matches(path) for x in self.excludes):
            return None
        best: int | None = None
        for pattern in self.files:
            if pattern.matches(path):
                depth = pattern.depth()
                best = depth if best is None else max(best, depth)
        if best is None and any(r.search(path) for r in self.regexes):
            best = 0
        return best


def _person(value: str) -> Person | None:
    name, address = email.utils.parseaddr(value)
    if "@" not in address:
        return None
    return Person(name.strip() or address, address.strip().lower())


def _list_address(value: str) -> str:
    token = value.split()[0] if value.split() else ""
    return token.strip("<>,").lower()


def _add(entry: Entry, tag: str, value: str, warnings: list[str], where: str) -> None:
    if not value:
        return
    if tag in ("M", "R"):
        person = _person(value)
        if person is None:
            warnings.append(f"{where}: {tag}: not an address: {value[:80]!r}")
        else:
            (entry.maintainers if tag == "M" else entry.reviewers).append(person)
    elif tag == "L":
        entry.lists.append(_list_address(value))
    elif tag == "S":
        entry.status = value
    elif tag in ("F", "X"):
        if len(value) > _MAX_PATTERN:
            warnings.append(f"{where}: {tag}: pattern too long")
            return
        (entry.files if tag == "F" else entry.excludes).append(FilePattern.compile(value))
    elif tag == "N":
        try:
            if len(value) > _MAX_PATTERN:
                raise re.error("pattern too long")
            with catch_warnings():  # FutureWarnings about odd sets are not ours
                simplefilter("ignore")
                entry.regexes.append(re.compile(value, re.VERBOSE))
        except (re.error, RecursionError, OverflowError) as exc:
            warnings.append(f"{where}: N: bad regex {value[:80]!r}: {exc}")
    elif tag == "K":
        entry.keywords.append(value)
    else:
        entry.other.setdefault(tag, []).append(value)


def parse(text: str) -> tuple[list[Entry], list[str]]:
    """The entries of a MAINTAINERS file and warnings about lines that were skipped.

    Blocks without ``T:`` lines (the preamble) are not entries.
    """
    entries: list[Entry] = []
    warnings: list[str] = []
    block: list[tuple[int, str]] = []
    for number, line in enumerate([*text.splitlines(), ""], start=1):
        if line.strip():
            block.append((number, line))
            continue
        if block:
            entry = _entry(block, warnings)
            if entry is not None:
                entries.append(entry)
            block = []
    return entries, warnings


def _entry(block: list[tuple[int, str]], warnings: list[str]) -> Entry | None:
    tags = [(n, _TAG_RE.match(line)) for n, line in block]
    if not any(m for _, m in tags):
        return None
    first, title_match = tags[0]
    if title_match is not None:
        warnings.append(f"line {first}: an entry without a title line")
        return None
    entry = Entry(block[0][1].strip())
    for number, match in tags[1:]:
        if match is None:
            warnings.append(f"line {number}: not a 'T: value' line in {entry.title[:60]!r}")
            continue
        _add(entry, match.group(1), match.group(2), warnings, f"line {number}")
    return entry


class Index:
    """Answers "which entries cover this file", fast, over many files."""

    def __init__(self, entries: Iterable[Entry]) -> None:
        self.entries = list(entries)
        self._by_head: dict[str, list[int]] = {}
        self._always: list[int] = []
        for i, entry in enumerate(self.entries):
            heads = {p.literal_head() for p in entry.files}
            if None in heads or entry.regexes:
                self._always.append(i)
                continue
            for head in heads:
                assert head is not None  # type narrowing  # nosec B101
                self._by_head.setdefault(head, []).append(i)
        self._cache: dict[str, list[Entry]] = {}

    def entries_for(self, path: str) -> list[Entry]:
        """The entries covering ``path``, most specific first (file order breaks ties)."""
        cached = self._cache.get(path)
        if cached is not None:
            return cached
        head = path.split("/", 1)[0]
        candidates = sorted({*self._always, *self._by_head.get(head, [])})
        scored: list[tuple[int, int]] = []
        for i in candidates:
            depth = self.entries[i].match(path)
            if depth is not None:
                scored.append((-depth, i))
        result = [self.entries[i] for _, i in sorted(scored)]
        self._cache[path] = result
        return result

    def people(self) -> dict[str, tuple[Person, list[Entry]]]:
        """Every maintainer and reviewer by address, with the entries naming them."""
        out: dict[str, tuple[Person, list[Entry]]] = {}
        for entry in self.entries:
            for person in entry.people:
                known = out.get(person.email)
                if known is None:
                    out[person.email] = (person, [entry])
                elif all(e is not entry for e in known[1]):
                    known[1].append(entry)
        return out
