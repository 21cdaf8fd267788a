"""Evaluate gfp expressions to tri-state bit sets (set, clear, unknown).

``GFP_NOFS | __GFP_HIGHMEM`` is fully known; ``gfp & ~__GFP_FS`` only says
that FS is clear; a parameter says nothing. Rules ask questions such as
"is __GFP_FS definitely clear?" instead of matching spellings.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

from tree_sitter import Node

from heuristics.cparse import node_text
from heuristics.tables import GfpTables

# Literal bits used in the rules' questions.
FS, IO, DIRECT, NOFAIL = "FS", "IO", "DIRECT_RECLAIM", "NOFAIL"


@dataclass(frozen=True, slots=True)
class GfpValue:
    """Per-bit knowledge: bits in ``set`` are 1, in ``clear`` are 0, others unknown."""

    set: frozenset[str]
    clear: frozenset[str]
    names: frozenset[str] = frozenset()

    @classmethod
    def unknown(cls) -> GfpValue:
        """Nothing known."""
        return cls(frozenset(), frozenset())

    @classmethod
    def constant(cls, bits: frozenset[str], universe: frozenset[str], name: str = "") -> GfpValue:
        """A fully known mask."""
        return cls(bits, universe - bits, frozenset({name}) if name else frozenset())

    def has(self, bit: str) -> bool:
        """Bit definitely set."""
        return bit in self.set

    def lacks(self, bit: str) -> bool:
        """Bit definitely clear."""
        return bit in self.clear

    @property
    def known(self) -> bool:
        """Anything at all is known."""
        return bool(self.set or self.clear)

    def or_(self, other: GfpValue) -> GfpValue:
        """Bitwise OR."""
        return GfpValue(self.set | other.set, self.clear & other.clear, self.names | other.names)

    def and_(self, other: GfpValue) -> GfpValue:
        """Bitwise AND."""
        return GfpValue(self.set & other.set, self.clear | other.clear, self.names | other.names)

    def invert(self) -> GfpValue:
        """Bitwise NOT."""
        return GfpValue(self.clear, self.set, self.names)

    def join(self, other: GfpValue) -> GfpValue:
        """Either value (a ?: b): only what both agree on."""
        return GfpValue(self.set & other.set, self.clear & other.clear, self.names | other.names)

    # Questions rules ask ---------------------------------------------------

    @property
    def is_nofs(self) -> bool:
        """May reclaim, must not enter the filesystem (GFP_NOFS, gfp & ~__GFP_FS)."""
        return self.lacks(FS) and not self.lacks(DIRECT) and not self.lacks(IO)

    @property
    def is_noio(self) -> bool:
        """May reclaim but must not start IO (GFP_NOIO)."""
        return self.lacks(IO) and self.lacks(FS) and not self.lacks(DIRECT)

    @property
    def forbids_fs(self) -> bool:
        """__GFP_FS definitely clear while reclaim is still allowed (NOFS or NOIO)."""
        return self.lacks(FS) and not self.lacks(DIRECT)

    @property
    def nonblocking(self) -> bool:
        """No direct reclaim (GFP_ATOMIC, GFP_NOWAIT)."""
        return self.lacks(DIRECT)

    @property
    def is_kernel(self) -> bool:
        """Full reclaim with FS and IO (GFP_KERNEL and supersets)."""
        return self.has(FS) and self.has(IO) and self.has(DIRECT)

    @property
    def nofail(self) -> bool:
        """__GFP_NOFAIL definitely set."""
        return self.has(NOFAIL)

    def describe(self) -> str:
        """A short name for messages: the mask names used, or a bit summary."""
        if self.names:
            return " | ".join(sorted(self.names))
        if self.is_noio:
            return "a NOIO mask"
        if self.is_nofs:
            return "a NOFS mask"
        return "this mask"


Resolver = Callable[[str], GfpValue | None]


class GfpEvaluator:
    """Evaluates expressions against the gfp table and a variable resolver."""

    def __init__(self, tables: GfpTables) -> None:
        self.tables = tables
        self.universe = frozenset(tables.bits)
        self._const_cache: dict[str, GfpValue | None] = {}

    def named(self, name: str) -> GfpValue | None:
        """A named mask from the table (GFP_NOFS, __GFP_FS, ...)."""
        if name not in self._const_cache:
            bits = self.tables.expand(name)
            self._const_cache[name] = (
                None if bits is None else GfpValue.constant(bits, self.universe, name))
        return self._const_cache[name]

    def evaluate(self, node: Node, resolve: Resolver | None = None, depth: int = 0) -> GfpValue:
        """Evaluate an expression node."""
        if depth > 24:
            return GfpValue.unknown()
        kind = node.type
        if kind == "identifier":
            name = node_text(node)
            value = self.named(name)
            if value is not None:
                return value
            if resolve is not None:
                resolved = resolve(name)
                if resolved is not None:
                    return resolved
            return GfpValue.unknown()
        if kind == "number_literal":
            return GfpValue.constant(frozenset(), self.universe) if node_text(node) in (
                "0", "0U", "0u") else GfpValue.unknown()
        if kind == "parenthesized_expression" and node.named_children:
            return self.evaluate(node.named_children[0], resolve, depth + 1)
        if kind == "cast_expression":
            value_node = node.child_by_field_name("value")
            if value_node is not None:
                return self.evaluate(value_node, resolve, depth + 1)
        if kind == "unary_expression":
            operator = node.child_by_field_name("operator")
            arg = node.child_by_field_name("argument")
            if operator is not None and arg is not None and node_text(operator) == "~":
                return self.evaluate(arg, resolve, depth + 1).invert()
            return GfpValue.unknown()
        if kind == "binary_expression":
            operator = node.child_by_field_name("operator")
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            if operator is None or left is None or right is None:
                return GfpValue.unknown()
            op = node_text(operator)
            if op == "|":
                return self.evaluate(left, resolve, depth + 1).or_(
                    self.evaluate(right, resolve, depth + 1))
            if op == "&":
                return self.evaluate(left, resolve, depth + 1).and_(
                    self.evaluate(right, resolve, depth + 1))
            return GfpValue.unknown()
        if kind == "conditional_expression":
            cons = node.child_by_field_name("consequence")
            alt = node.child_by_field_name("alternative")
            if cons is not None and alt is not None:
                return self.evaluate(cons, resolve, depth + 1).join(
                    self.evaluate(alt, resolve, depth + 1))
        if kind == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is not None and fn.type == "identifier":
                index = self.tables.mask_functions.get(node_text(fn))
                if index is not None and index >= 0 and args is not None:
                    named = [c for c in args.named_children if c.type != "comment"]
                    if index < len(named):
                        return GfpValue.unknown().and_(
                            self.evaluate(named[index], resolve, depth + 1))
        return GfpValue.unknown()

    def mentions_gfp(self, node: Node) -> bool:
        """Whether an expression spells a known gfp mask anywhere."""
        raw = node.text or b""
        if b"GFP" not in raw:
            return False
        stack = [node]
        while stack:
            cur = stack.pop()
            if cur.type == "identifier" and self.named(node_text(cur)) is not None:
                return True
            stack.extend(cur.named_children)
        return False


def resolver_from(values: Mapping[str, GfpValue]) -> Resolver:
    """A resolver over a fixed variable -> value map."""
    return values.get
