"""Questions several rules ask of a function: where it allocates, where it blocks."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from tree_sitter import Node

from heuristics.context import ImageContext
from heuristics.cparse import Call, CFunction, node_text
from heuristics.gates import Facts, facts_at
from heuristics.gfp import GfpValue
from heuristics.tables import BlockingCall


@dataclass(frozen=True, slots=True)
class Allocation:
    """An allocating call and what its gfp says (None: takes no gfp, GFP_KERNEL)."""

    call: Call
    gfp: GfpValue | None
    gfp_index: int | None

    @property
    def implicit_kernel(self) -> bool:
        """Allocates GFP_KERNEL without saying so (vmalloc(), page_symlink(), ...)."""
        return self.gfp is None


def allocations(ctx: ImageContext, fn: CFunction) -> list[Allocation]:
    """Every allocation in ``fn``: calls with a gfp argument, and gfp-less allocators."""
    cache: dict[int, list[Allocation]] = ctx.__dict__.setdefault("_allocations", {})
    key = id(fn)
    if key not in cache:
        cache[key] = list(_allocations(ctx, fn))
    return cache[key]


def _allocations(ctx: ImageContext, fn: CFunction) -> Iterator[Allocation]:
    implicit = set(ctx.tables.gfp.implicit_kernel_alloc)
    for call in fn.calls:
        vcall = ctx.vmalloc_call(call)
        got = ctx.alloc_gfp(fn, call)
        if got is not None:
            yield Allocation(call, got[1], got[0])
        elif call.name in implicit or (vcall is not None and vcall.gfp_index(len(call.args))
                                       is None and vcall.family != "percpu"):
            yield Allocation(call, None, None)


def blocking_entry(ctx: ImageContext, fn: CFunction, call: Call) -> BlockingCall | None:
    """The blocking-table entry for ``call`` if it blocks with these arguments."""
    entry = ctx.tables.reclaim.blocking_call(call.name)
    if entry is None:
        return None
    if any(call.name.endswith(s) for s in ctx.tables.reclaim.nonblocking_lock_suffixes):
        return None
    cond = entry.when_arg
    if cond is None:
        return entry
    if cond.index >= len(call.args):
        return None
    args = call.args if cond.index < 0 else (call.args[cond.index],)
    values = [v for arg in args for v in _possible_values(fn, arg)]
    for value in values:
        if value in cond.values or any(word in value for word in cond.contains):
            return entry
    return None


def _possible_values(fn: CFunction, arg: Node) -> list[str]:
    """The argument's text, plus every value assigned to it if it is a local variable."""
    text = node_text(arg).strip()
    out = [text]
    if arg.type != "identifier" or fn.body is None:
        return out
    for node in fn.unit.assignments_in(fn.body):
        target = node.child_by_field_name("declarator" if node.type == "init_declarator"
                                          else "left")
        value = node.child_by_field_name("value" if node.type == "init_declarator" else "right")
        if target is not None and value is not None and node_text(target) == text:
            out.append(node_text(value).strip())
    return out


def facts(ctx: ImageContext, fn: CFunction, call: Call) -> Facts:
    """What enclosing conditions establish at ``call``."""
    return facts_at(call.node, ctx.patch.gates, fn.node)


def in_loop_retry(call: Call) -> bool:
    """Whether ``call`` sits in a loop that retries until it succeeds (open-coded NOFAIL)."""
    node: Node | None = call.node.parent
    while node is not None and node.type not in ("function_definition",):
        if node.type in ("do_statement", "while_statement", "for_statement"):
            cond = node.child_by_field_name("condition")
            text = node_text(cond) if cond is not None else ""
            if text.strip("() ") in ("1", "true", "") or "!" in text:
                return True
        node = node.parent
    return False


def enclosing_statement(node: Node) -> Node:
    """The statement that contains ``node``."""
    cur = node
    while cur.parent is not None and cur.parent.type not in (
            "compound_statement", "case_statement", "translation_unit"):
        cur = cur.parent
    return cur


def assigned_variable(call: Call) -> str | None:
    """``x`` in ``x = call(...)`` or ``T *x = call(...)``."""
    parent = call.node.parent
    while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
        parent = parent.parent
    if parent is None:
        return None
    if parent.type == "assignment_expression":
        left = parent.child_by_field_name("left")
        return node_text(left).strip() if left is not None else None
    if parent.type == "init_declarator":
        decl = parent.child_by_field_name("declarator")
        while decl is not None and decl.type == "pointer_declarator":
            decl = decl.child_by_field_name("declarator")
        return node_text(decl).strip() if decl is not None else None
    return None
