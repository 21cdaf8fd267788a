"""What a rule sees: one image of a file, or one file's change, plus patch-wide facts."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from tree_sitter import Node

from heuristics.cparse import Call, CFunction, CUnit, node_text
from heuristics.gates import GateReader
from heuristics.gfp import GfpEvaluator, GfpValue
from heuristics.inputs import FileChange, HunkLine
from heuristics.model import KernelVersion
from heuristics.regions import Region, active, compute_regions
from heuristics.tables import ApiTables, PathClasses, VmallocCall

Image = Literal["post", "pre"]
Mode = Literal["hunk", "tree", "scan"]


@dataclass
class PatchContext:
    """Facts about the whole patch: target kernel, message, cross-file knowledge."""

    tables: ApiTables
    version: KernelVersion
    subject: str
    commit_message: str
    mode: Mode
    version_known: bool = True
    openers: dict[str, str] = field(default_factory=dict)
    closers: dict[str, str] = field(default_factory=dict)
    callbacks: dict[str, set[str]] = field(default_factory=dict)

    @cached_property
    def gfp(self) -> GfpEvaluator:
        """gfp expression evaluator."""
        return GfpEvaluator(self.tables.gfp)

    @cached_property
    def gates(self) -> GateReader:
        """Condition-fact reader."""
        return GateReader(self.tables.reclaim, self.gfp)

    def learn(self, unit: CUnit) -> None:
        """Collect scope helpers and callback assignments from one parsed image."""
        scope = self.tables.scope
        source = unit.source
        if any(f.encode() in source for f in self.tables.reclaim.callback_by_field):
            for assign in unit.ops_assignments:
                cb = self.tables.reclaim.callback_by_field.get(assign.field)
                if cb is not None:
                    self.callbacks.setdefault(assign.value, set()).add(cb.kind)
        if b"memalloc_" not in source:
            return
        for fn in unit.functions:
            if fn.name is None:
                continue
            for call in fn.calls:
                if call.name in scope.save_kind and _escapes(call.node):
                    self.openers.setdefault(fn.name, scope.save_kind[call.name])
                elif call.name in scope.restore_kind and call.args and (
                        call.args[0].type == "field_expression"
                        or node_text(call.args[0]) in {n for _, n in fn.params}):
                    self.closers.setdefault(fn.name, scope.restore_kind[call.name])

    def seed_helpers(self) -> None:
        """Add the table's scope helpers that exist on the target kernel."""
        for helper in self.tables.scope.helpers:
            since = KernelVersion.parse(helper.since) if helper.since else None
            if since is not None and self.version < since:
                continue
            target = self.openers if helper.role == "open" else self.closers
            target.setdefault(helper.name, helper.kind)

    def message_mentions(self, *words: str) -> bool:
        """Whether the commit message mentions any of ``words`` (case-insensitive)."""
        text = (self.subject + "\n" + self.commit_message).lower()
        return any(w.lower() in text for w in words)


def _is_static(fn: CFunction) -> bool:
    """Whether a function definition is declared static."""
    for child in fn.node.children:
        if child.type == "storage_class_specifier" and node_text(child) == "static":
            return True
        if child.type in ("function_declarator", "pointer_declarator", "compound_statement"):
            break
    return False


def _escapes(call: Node) -> bool:
    """Whether a save's cookie leaves the function (returned or stored in an object)."""
    parent = call.parent
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        parent = parent.parent
    if parent is None:
        return False
    if parent.type == "return_statement":
        return True
    if parent.type == "assignment_expression":
        left = parent.child_by_field_name("left")
        return left is not None and left.type in ("field_expression", "pointer_expression",
                                                  "subscript_expression")
    return False


class ImageContext:
    """One image (post or pre) of one file."""

    def __init__(self, patch: PatchContext, unit: CUnit, image: Image,
                 changed: frozenset[int]) -> None:
        self.patch = patch
        self.unit = unit
        self.path = unit.path
        self.image = image
        self.changed = changed
        self.tables = patch.tables
        self.version = patch.version
        self.mode = patch.mode
        self._regions: dict[int, list[Region]] = {}

    # -- functions -----------------------------------------------------------

    @property
    def functions(self) -> list[CFunction]:
        """Functions and fragments in source order."""
        return self.unit.functions

    @cached_property
    def _fragments(self) -> dict[str, list[CFunction]]:
        out: dict[str, list[CFunction]] = {}
        for fn in self.unit.functions:
            if fn.name:
                out.setdefault(fn.name, []).append(fn)
        return out

    def fragments(self, fn: CFunction) -> list[CFunction]:
        """The visible fragments of ``fn``'s function up to and including ``fn``."""
        if not fn.name:
            return [fn]
        frags = self._fragments.get(fn.name, [fn])
        return [f for f in frags if f.start_line <= fn.start_line] or [fn]

    def regions(self, fn: CFunction) -> list[Region]:
        """Transactions, reclaim-shared locks and scopes of ``fn`` (carried across fragments)."""
        key = id(fn)
        if key not in self._regions:
            self._regions[key] = compute_regions(
                self.fragments(fn), self.tables, self.version, self.path,
                self.patch.openers, self.patch.closers)
        return self._regions[key]

    def regions_at(self, fn: CFunction, line: int) -> list[Region]:
        """Regions covering ``line`` in ``fn``, including those every caller holds."""
        return self.inherited_regions(fn) + active(self.regions(fn), line)

    # -- the call graph inside this file ------------------------------------

    @cached_property
    def callers(self) -> dict[str, list[tuple[CFunction, Call]]]:
        """Function name -> (caller, call site) for calls between functions of this file."""
        defined = {fn.name for fn in self.unit.functions if fn.name}
        out: dict[str, list[tuple[CFunction, Call]]] = {}
        for fn in self.unit.functions:
            for call in fn.calls:
                if call.name in defined and call.name != fn.name:
                    out.setdefault(call.name, []).append((fn, call))
        return out

    def inherited_regions(self, fn: CFunction, depth: int = 0) -> list[Region]:
        """Regions held at every call site of a static helper (the caller's transaction).

        Only for static functions whose whole definition is visible, so that no
        caller elsewhere can call it without the region.
        """
        if not fn.name or depth > 2 or not fn.complete or not _is_static(fn):
            return []
        cache: dict[str, list[Region]] = self.__dict__.setdefault("_inherited", {})
        if fn.name in cache:
            return cache[fn.name]
        cache[fn.name] = []  # cycles inherit nothing
        sites = self.callers.get(fn.name, [])
        per_site = [self.inherited_regions(caller, depth + 1) + active(
            self.regions(caller), call.line) for caller, call in sites]
        out: list[Region] = []
        if per_site and all(per_site):
            first_caller = sites[0][0].display_name
            for region in per_site[0]:
                same = all(any(r.kind == region.kind and r.label == region.label
                               and r.makes_nofs == region.makes_nofs for r in regions)
                           for regions in per_site[1:])
                if same:
                    out.append(Region(region.kind, f"{region.label} (held by "
                                      f"{first_caller}() around every call)",
                                      fn.start_line, None, region.makes_nofs,
                                      region.needs_nofs, region.scope_kind,
                                      region.open_call, region.fs))
        cache[fn.name] = out
        return out

    def reached_from(self, fn: CFunction) -> dict[str, str]:
        """Callback kind -> the callback function that reaches ``fn`` (up to 3 calls up)."""
        return {kind: name for kind, (name, _) in self._reached(fn).items()}

    def callback_depth(self, fn: CFunction, kind: str) -> int:
        """0 when ``fn`` is the callback, else how many calls below it ``fn`` runs."""
        if kind in self._direct_callback_kinds(fn):
            return 0
        return self._reached(fn).get(kind, ("", 0))[1]

    def _reached(self, fn: CFunction) -> dict[str, tuple[str, int]]:
        if not fn.name:
            return {}
        cache: dict[str, dict[str, tuple[str, int]]] = self.__dict__.setdefault(
            "_reached_cache", {})
        if fn.name in cache:
            return cache[fn.name]
        found: dict[str, tuple[str, int]] = {}
        seen = {fn.name}
        frontier = [fn.name]
        for depth in range(1, 4):
            nxt = []
            for name in frontier:
                for caller, _call in self.callers.get(name, []):
                    if caller.name is None or caller.name in seen:
                        continue
                    seen.add(caller.name)
                    for kind in self._direct_callback_kinds(caller):
                        found.setdefault(kind, (caller.name, depth))
                    nxt.append(caller.name)
            frontier = nxt
        cache[fn.name] = found
        return found

    @cached_property
    def calls_by_line(self) -> dict[int, list[Call]]:
        """Every call in every function, by the line it starts on."""
        out: dict[int, list[Call]] = {}
        for fn in self.unit.functions:
            for call in fn.calls:
                out.setdefault(call.line, []).append(call)
        return out

    @cached_property
    def in_filesystem(self) -> bool:
        """Whether this file is filesystem code."""
        return self.in_paths(self.paths.filesystems)

    def callback_kinds(self, fn: CFunction) -> set[str]:
        """Reclaim/atomic callback kinds ``fn`` serves (ops tables, shrinkers, name)."""
        if not fn.name:
            return set()
        return self._direct_callback_kinds(fn) | set(self.reached_from(fn))

    def callback_via(self, fn: CFunction, kind: str) -> str | None:
        """The callback that reaches ``fn`` for ``kind``, or None when ``fn`` is it."""
        if kind in self._direct_callback_kinds(fn):
            return None
        return self.reached_from(fn).get(kind)

    def _direct_callback_kinds(self, fn: CFunction) -> set[str]:
        if not fn.name:
            return set()
        cache: dict[str, set[str]] = self.__dict__.setdefault("_callback_cache", {})
        key = f"{fn.name}:{len(fn.params)}:{any('gfp_t' in t for t, _ in fn.params)}"
        if key not in cache:
            cache[key] = self._callback_kinds(fn)
        return cache[key]

    def _callback_kinds(self, fn: CFunction) -> set[str]:
        assert fn.name is not None  # type narrowing  # nosec B101
        kinds = set(self.patch.callbacks.get(fn.name, set()))
        for cb in self.tables.reclaim.callbacks:
            if any(fn.name.endswith(sfx) for sfx in cb.name_suffixes) or (
                    self.in_filesystem
                    and any(fn.name.startswith(p) for p in cb.name_prefixes)):
                if cb.kind == "release_folio" and fn.name.endswith("_release_page") \
                        and fn.params and not any("gfp_t" in t for t, _ in fn.params) \
                        and len(fn.params) >= 2:
                    continue  # a page-release helper, not ->releasepage(page, gfp)
                kinds.add(cb.kind)
        return kinds

    # -- lines ---------------------------------------------------------------

    def is_changed(self, line: int) -> bool:
        """Whether ``line`` was added (post image) or removed (pre image)."""
        return line in self.changed

    def text(self, line: int) -> str:
        """Source text of a line."""
        return self.unit.line_text(line)

    # -- gfp -----------------------------------------------------------------

    def gfp_values(self, fn: CFunction) -> dict[str, GfpValue]:
        """Local variables assigned gfp masks in ``fn`` (joined over assignments)."""
        cache = self.__dict__.setdefault("_gfp_vars", {})
        key = id(fn)
        if key in cache:
            return cache[key]  # type: ignore[no-any-return]
        values: dict[str, GfpValue] = {}
        gfp = self.patch.gfp
        for frag in self.fragments(fn):
            if frag.body is None:
                continue
            for node in self.unit.assignments_in(frag.body):
                if node.type == "init_declarator":
                    target = node.child_by_field_name("declarator")
                    value = node.child_by_field_name("value")
                else:
                    target = node.child_by_field_name("left")
                    value = node.child_by_field_name("right")
                    op = node.child_by_field_name("operator")
                    if op is None or node_text(op) != "=":
                        if target is not None and target.type == "identifier" \
                                and value is not None:
                            name = node_text(target)
                            old = values.get(name, GfpValue.unknown())
                            rhs = gfp.evaluate(value)
                            operator = node_text(op) if op is not None else ""
                            values[name] = (old.or_(rhs) if operator == "|=" else
                                            old.and_(rhs) if operator == "&=" else
                                            GfpValue.unknown())
                        continue
                if target is None or value is None or target.type != "identifier":
                    continue
                name = node_text(target)
                got = gfp.evaluate(value)
                values[name] = got if name not in values else values[name].join(got)
        cache[key] = values
        return values

    def gfp_of(self, fn: CFunction, node: Node) -> GfpValue:
        """Evaluate a gfp expression inside ``fn``."""
        values = self.gfp_values(fn)
        return self.patch.gfp.evaluate(node, values.get)

    def alloc_gfp(self, fn: CFunction, call: Call) -> tuple[int, GfpValue] | None:
        """(index, value) of an allocating call's gfp argument, if it has one."""
        vcall = self.vmalloc_call(call)
        index: int | None
        if vcall is not None:
            index = vcall.gfp_index(len(call.args))
        else:
            index = self.tables.gfp.alloc_calls.get(call.name)
        if index is not None and index < len(call.args):
            return index, self.gfp_of(fn, call.args[index])
        if vcall is not None:
            return None
        for i, arg in enumerate(call.args):
            if self.patch.gfp.mentions_gfp(arg):
                return i, self.gfp_of(fn, arg)
        return None

    def vmalloc_call(self, call: Call) -> VmallocCall | None:
        """The vmalloc-family entry for a call, if it is one."""
        return self.tables.vmalloc.by_name.get(call.name)

    # -- paths ---------------------------------------------------------------

    def in_paths(self, globs: Sequence[str]) -> bool:
        """Whether this file is under any of ``globs``."""
        return PathClasses.matches(self.path, list(globs))

    @property
    def paths(self) -> PathClasses:
        """Path classes from the tables."""
        return self.tables.paths


@dataclass(frozen=True, slots=True)
class ChangeBlock:
    """A run of - lines followed by + lines inside one hunk."""

    removed: tuple[HunkLine, ...]
    added: tuple[HunkLine, ...]
    anchor: int  # post-image line: first + line, or the line after a pure deletion
    hunk_index: int


class ChangeContext:
    """One file's change: both images and the change blocks between them."""

    def __init__(self, patch: PatchContext, change: FileChange, post: ImageContext,
                 pre: ImageContext | None) -> None:
        self.patch = patch
        self.change = change
        self.post = post
        self.pre = pre
        self.path = change.path
        self.tables = patch.tables

    @cached_property
    def blocks(self) -> list[ChangeBlock]:
        """Change blocks in order."""
        out: list[ChangeBlock] = []
        for h_index, hunk in enumerate(self.change.hunks):
            removed: list[HunkLine] = []
            added: list[HunkLine] = []
            last_new = hunk.new_start - 1
            for ln in (*hunk.lines, None):
                if ln is not None and ln.kind == "-":
                    if added:
                        out.append(ChangeBlock(tuple(removed), tuple(added),
                                               added[0].new_no or last_new, h_index))
                        removed, added = [], []
                    removed.append(ln)
                    continue
                if ln is not None and ln.kind == "+":
                    added.append(ln)
                    continue
                if removed or added:
                    if added:
                        anchor = added[0].new_no or last_new
                    else:
                        anchor = ln.new_no if ln is not None and ln.new_no else last_new + 1
                    out.append(ChangeBlock(tuple(removed), tuple(added), anchor, h_index))
                    removed, added = [], []
                if ln is not None and ln.new_no is not None:
                    last_new = ln.new_no
        return out

    def calls_on(self, image: ImageContext | None, lines: Sequence[HunkLine]) -> Iterator[Call]:
        """Calls that start on the given lines of one image, in source order."""
        if image is None:
            return
        index = image.calls_by_line
        for ln in lines:
            number = ln.old_no if image.image == "pre" else ln.new_no
            if number is not None:
                yield from index.get(number, ())
