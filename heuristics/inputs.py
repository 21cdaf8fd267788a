"""What the analysis core is given: changed files with their hunks.

Built by the caller from :mod:`unidiff` objects (``from_patched_file``), or
for a whole file with every line new (``whole_file``).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Literal

from unidiff.patch import PatchedFile

from heuristics.model import KernelVersion

LineKind = Literal[" ", "+", "-"]

# Top-level directories of the kernel tree: a path starting with one of these
# is already relative to the tree root (a -p0 diff), anything else carries a
# prefix such as a/, b/ or "xfs.orig/" that patch -p1 strips.
_TREE_TOPS = frozenset({
    "arch", "block", "certs", "crypto", "Documentation", "drivers", "fs", "include",
    "init", "io_uring", "ipc", "kernel", "lib", "LICENSES", "mm", "net", "rust",
    "samples", "scripts", "security", "sound", "tools", "usr", "virt", "MAINTAINERS",
    "Makefile", "Kconfig",
})


@dataclass(frozen=True, slots=True)
class HunkLine:
    """One line of a hunk with its pre- and post-image line numbers."""

    kind: LineKind
    text: str
    old_no: int | None
    new_no: int | None


@dataclass(frozen=True, slots=True)
class Hunk:
    """A unified-diff hunk; ``section`` is the text after the second @@."""

    old_start: int
    old_len: int
    new_start: int
    new_len: int
    section: str
    lines: tuple[HunkLine, ...]


@dataclass(frozen=True, slots=True)
class FileChange:
    """One changed file: its hunks, and the full texts when a tree supplies them."""

    path: str
    old_path: str | None
    hunks: tuple[Hunk, ...]
    is_new: bool = False
    is_deleted: bool = False
    is_binary: bool = False
    pre_text: str | None = None
    post_text: str | None = None

    @property
    def is_c(self) -> bool:
        """Whether this is C source or a header."""
        return self.path.endswith((".c", ".h"))

    def added_lines(self) -> Iterator[HunkLine]:
        """Every + line."""
        for hunk in self.hunks:
            yield from (ln for ln in hunk.lines if ln.kind == "+")

    def removed_lines(self) -> Iterator[HunkLine]:
        """Every - line."""
        for hunk in self.hunks:
            yield from (ln for ln in hunk.lines if ln.kind == "-")


@dataclass(frozen=True, slots=True)
class PatchInput:
    """One patch (or one scanned file set) as the rules see it."""

    subject: str
    commit_message: str
    files: tuple[FileChange, ...]
    kernel_version: KernelVersion
    scan: bool = False
    extra: dict[str, str] = field(default_factory=dict)


def tree_path(path: str | None) -> str | None:
    """Strip a diff prefix (a/, b/, "xfs.orig/") the way ``patch -p1`` would."""
    if path is None or path == "/dev/null":
        return None
    path = path.strip()
    if len(path) >= 2 and path.startswith('"') and path.endswith('"'):
        path = path[1:-1]
    if not path or path == '"':
        return None
    first, sep, rest = path.partition("/")
    if not sep or first in _TREE_TOPS:
        return path
    return rest


def from_patched_file(pf: PatchedFile) -> FileChange:
    """Convert a :class:`unidiff.PatchedFile` into a :class:`FileChange`."""
    target = tree_path(pf.target_file)
    source = tree_path(pf.source_file)
    path = target or source or pf.path
    hunks = []
    for h in pf:
        lines = []
        for ln in h:
            kind: LineKind
            if ln.is_added:
                kind = "+"
            elif ln.is_removed:
                kind = "-"
            elif ln.is_context:
                kind = " "
            else:
                continue  # "\ No newline at end of file"
            text = ln.value.rstrip("\r\n")
            lines.append(HunkLine(kind, text, ln.source_line_no, ln.target_line_no))
        hunks.append(Hunk(
            h.source_start, h.source_length, h.target_start, h.target_length,
            h.section_header or "", tuple(lines),
        ))
    return FileChange(
        path=path,
        old_path=source,
        hunks=tuple(hunks),
        is_new=bool(pf.is_added_file),
        is_deleted=bool(pf.is_removed_file),
        is_binary=bool(getattr(pf, "is_binary_file", False)),
    )


def whole_file(path: str, text: str) -> FileChange:
    """A file reviewed as if every line were new (``reviewbot scan``)."""
    lines = text.splitlines()
    body = tuple(HunkLine("+", t, None, i) for i, t in enumerate(lines, start=1))
    hunk = Hunk(0, 0, 1, len(lines), "", body)
    return FileChange(path=path, old_path=None, hunks=(hunk,), is_new=True, post_text=text)


def with_texts(change: FileChange, pre: str | None, post: str | None) -> FileChange:
    """The same change with full pre/post texts attached (tree mode)."""
    return FileChange(
        change.path, change.old_path, change.hunks, change.is_new, change.is_deleted,
        change.is_binary, pre, post,
    )


def c_files(files: Iterable[FileChange]) -> list[FileChange]:
    """The C sources and headers among ``files``, binaries dropped."""
    return [f for f in files if f.is_c and not f.is_binary]
