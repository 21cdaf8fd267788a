"""Where a function holds a transaction, a reclaim-shared lock or a NOFS/NOIO scope.

Regions are computed in source order from begin/end calls (a textual
approximation that matches kernel style: begin, work, error exits, end). A
region with no visible end stays open to the end of what is visible.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from tree_sitter import Node

from heuristics.cparse import Call, CFunction
from heuristics.model import KernelVersion
from heuristics.tables import ApiTables, PathClasses

RegionKind = Literal["scope", "txn", "lock", "held"]


@dataclass(frozen=True, slots=True)
class Region:
    """A span of lines with a context that constrains allocations."""

    kind: RegionKind
    label: str
    open_line: int
    close_line: int | None
    makes_nofs: bool
    needs_nofs: bool
    scope_kind: str | None
    open_call: str
    fs: str | None = None

    def covers(self, line: int) -> bool:
        """Whether ``line`` lies strictly after the opening call and before the close."""
        return self.open_line < line and (self.close_line is None or line <= self.close_line)


@dataclass(frozen=True, slots=True)
class _Open:
    key: str
    region: Region


def _guard_end(fn: CFunction, call: Call) -> int | None:
    """Last line of the block a guard() lives in (the guard's lifetime)."""
    node: Node | None = call.node
    while node is not None and node.type != "compound_statement":
        node = node.parent
    if node is None:
        return None
    lines = fn.unit.real_lines(node)
    return lines[-1] if lines else None


def _scoped_guard_end(fn: CFunction, call: Call) -> int | None:
    """Last line of the block following scoped_guard(...)."""
    stmt = call.node.parent
    sibling = stmt.next_named_sibling if stmt is not None else None
    if sibling is not None and sibling.type == "compound_statement":
        lines = fn.unit.real_lines(sibling)
        return lines[-1] if lines else None
    return call.line


def _scope_kind_from_text(text: str, tables: ApiTables) -> str | None:
    for flag, kind in tables.scope.pf_flags.items():
        if flag in text:
            return kind
    return None


def compute_regions(
    fragments: Sequence[CFunction],
    tables: ApiTables,
    version: KernelVersion,
    path: str,
    openers: Mapping[str, str],
    closers: Mapping[str, str],
) -> list[Region]:
    """Regions of one function, from its visible fragments in order."""
    done: list[Region] = []
    open_: list[_Open] = []

    def close(key: str, line: int) -> None:
        for i in range(len(open_) - 1, -1, -1):
            if open_[i].key == key:
                reg = open_.pop(i).region
                done.append(Region(reg.kind, reg.label, reg.open_line, line, reg.makes_nofs,
                                   reg.needs_nofs, reg.scope_kind, reg.open_call, reg.fs))
                return

    def add_scope(kind: str, call: Call, end: int | None = None) -> None:
        region = Region("scope", f"{call.name}() scope", call.line, end,
                        makes_nofs=kind in ("nofs", "noio"), needs_nofs=False,
                        scope_kind=kind, open_call=call.name)
        if end is not None:
            done.append(region)
        else:
            open_.append(_Open(f"scope:{kind}", region))

    for fn in fragments:
        for call in fn.calls:
            name = call.name
            if name in tables.scope.save_kind:
                kind = tables.scope.save_kind[name]
                if kind == "flags":
                    kind = _scope_kind_from_text(call.text, tables) or "flags"
                add_scope(kind, call)
            elif name in tables.scope.restore_kind:
                kind = tables.scope.restore_kind[name]
                if kind == "flags":
                    # memalloc_flags_restore closes the innermost flags scope
                    for cand in reversed(open_):
                        if cand.region.kind == "scope":
                            close(cand.key, call.line)
                            break
                else:
                    close(f"scope:{kind}", call.line)
            elif call.guard_class is not None or name == "scoped_guard":
                cls = call.guard_class if call.guard_class is not None else (
                    call.arg_texts[0] if call.arg_texts else "")
                guard_kind = tables.scope.guard_classes.get(cls)
                if guard_kind is None:
                    continue
                if guard_kind == "flags":
                    guard_kind = _scope_kind_from_text(call.text, tables) or "flags"
                end = _guard_end(fn, call) if name == "guard" else _scoped_guard_end(fn, call)
                add_scope(guard_kind, call, end or fn.end_line)
            elif name in openers:
                add_scope(openers[name], call)
                _open_lock_for_helper(name, call, tables, open_, version)
            elif name in closers:
                close(f"scope:{closers[name]}", call.line)
                for cand in reversed(open_):
                    if cand.region.kind == "lock" and cand.region.open_call == name.replace(
                            "_up_", "_down_"):
                        close(cand.key, call.line)
                        break
            elif name in tables.txn_begin:
                txn = tables.txn_begin[name]
                makes = txn.implies_nofs(version)
                open_.append(_Open(f"txn:{txn.fs}", Region(
                    "txn", f"{txn.fs} transaction", call.line, None, makes_nofs=makes,
                    needs_nofs=not makes, scope_kind=None, open_call=name, fs=txn.fs)))
            elif name in tables.txn_end:
                close(f"txn:{tables.txn_end[name].fs}", call.line)
            elif name in tables.held_acquire and call.args and not _reclaim_lock(
                    name, call, tables, path):
                pair = tables.held_acquire[name]
                open_.append(_Open(f"held:{pair}:{call.arg_texts[0]}", Region(
                    "held", call.arg_texts[0], call.line, None, makes_nofs=False,
                    needs_nofs=False, scope_kind=None, open_call=name)))
            elif name in tables.held_release and call.args and not _reclaim_lock(
                    name, call, tables, path, release=True):
                close(f"held:{tables.held_release[name]}:{call.arg_texts[0]}", call.line)
            elif name in tables.lock_acquire:
                for lock in tables.lock_acquire[name]:
                    if lock.paths and not PathClasses.matches(path, lock.paths):
                        continue
                    if lock.arg_contains and lock.arg_contains not in call.text:
                        continue
                    open_.append(_Open(f"lock:{lock.name}", Region(
                        "lock", lock.name, call.line, None, makes_nofs=False, needs_nofs=True,
                        scope_kind=None, open_call=name)))
                    break
            elif name in tables.lock_release:
                for lock in tables.lock_release[name]:
                    if lock.arg_contains and lock.arg_contains not in call.text:
                        continue
                    close(f"lock:{lock.name}", call.line)
                    break
    return done + [o.region for o in open_]


def _reclaim_lock(name: str, call: Call, tables: ApiTables, path: str,
                  release: bool = False) -> bool:
    """Whether an ordinary lock call is one of the reclaim-shared locks of the table."""
    table = tables.lock_release if release else tables.lock_acquire
    for lock in table.get(name, []):
        if lock.paths and not PathClasses.matches(path, lock.paths):
            continue
        if lock.arg_contains is None or lock.arg_contains in call.text:
            return True
    return False


def _open_lock_for_helper(name: str, call: Call, tables: ApiTables, open_: list[_Open],
                          version: KernelVersion) -> None:
    """Scope helpers that also take a reclaim-shared lock (ext4_writepages_down_read)."""
    if "_down_" in name:
        open_.append(_Open(f"lock:{name}", Region(
            "lock", name, call.line, None, makes_nofs=False, needs_nofs=True,
            scope_kind=None, open_call=name)))


def active(regions: Sequence[Region], line: int) -> list[Region]:
    """Regions covering ``line``."""
    return [r for r in regions if r.covers(line)]
