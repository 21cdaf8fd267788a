"""What the conditions guarding a statement establish about the calling context.

A reclaim callback may block only after checking where it is called from:
``if (!(gfp & __GFP_FS) || current_is_kswapd()) return false;`` establishes
"__GFP_FS allowed" and "not kswapd" for the rest of the block. Facts are
collected from enclosing ``if`` branches and from earlier early-exit ``if``
statements in each enclosing block.
"""

from __future__ import annotations

from dataclasses import dataclass

from tree_sitter import Node

from heuristics.cparse import node_text
from heuristics.gfp import GfpEvaluator
from heuristics.tables import ReclaimTables

# Fact names.
FS_OK = "fs_allowed"
IO_OK = "io_allowed"
DIRECT_OK = "direct_reclaim"
KSWAPD = "kswapd"
KCOMPACTD = "kcompactd"
MEMALLOC = "memalloc"
NOFS_SCOPE = "nofs_scope"
LINKED = "linked"

Facts = dict[str, bool]

_EXITS = frozenset({"return_statement", "goto_statement", "break_statement",
                    "continue_statement"})


def _merge(a: Facts, b: Facts) -> Facts:
    out = dict(a)
    out.update(b)
    return out


def _common(a: Facts, b: Facts) -> Facts:
    return {k: v for k, v in a.items() if b.get(k) == v}


@dataclass(frozen=True, slots=True)
class GateReader:
    """Reads facts from conditions using the reclaim and gfp tables."""

    reclaim: ReclaimTables
    gfp: GfpEvaluator

    def when_true(self, node: Node) -> Facts:
        """Facts that hold when ``node`` evaluates true."""
        return self._facts(node, True, 0)

    def when_false(self, node: Node) -> Facts:
        """Facts that hold when ``node`` evaluates false."""
        return self._facts(node, False, 0)

    def _facts(self, node: Node, truth: bool, depth: int) -> Facts:
        if depth > 32:
            return {}
        kind = node.type
        if kind in ("parenthesized_expression", "condition_clause") and node.named_children:
            return self._facts(node.named_children[-1], truth, depth + 1)
        if kind == "unary_expression":
            op = node.child_by_field_name("operator")
            arg = node.child_by_field_name("argument")
            if op is not None and arg is not None and node_text(op) == "!":
                return self._facts(arg, not truth, depth + 1)
            return {}
        if kind == "field_expression":
            member = node.child_by_field_name("field")
            fact = self.reclaim.gate_fields.get(node_text(member)) if member is not None else None
            return {fact: truth} if fact else {}
        if kind == "call_expression":
            fn = node.child_by_field_name("function")
            args = node.child_by_field_name("arguments")
            if fn is None:
                return {}
            name = node_text(fn)
            # unlikely()/likely()/WARN_ON_ONCE() pass their argument through.
            if name in ("unlikely", "likely", "WARN_ON", "WARN_ON_ONCE") and args is not None \
                    and args.named_children:
                return self._facts(args.named_children[0], truth, depth + 1)
            fact = self.reclaim.gate_calls.get(name)
            return {fact: truth} if fact else {}
        if kind == "binary_expression":
            op_node = node.child_by_field_name("operator")
            left = node.child_by_field_name("left")
            right = node.child_by_field_name("right")
            if op_node is None or left is None or right is None:
                return {}
            op_text = node_text(op_node)
            if op_text == "&&":
                lf, rf = self._facts(left, truth, depth + 1), self._facts(right, truth, depth + 1)
                return _merge(lf, rf) if truth else _common(lf, rf)
            if op_text == "||":
                lf, rf = self._facts(left, truth, depth + 1), self._facts(right, truth, depth + 1)
                return _common(lf, rf) if truth else _merge(lf, rf)
            if op_text in ("==", "!="):
                return self._comparison(left, right, (op_text == "==") == truth)
            if op_text == "&":
                return self._mask_test(left, right, truth)
        return {}

    def _comparison(self, left: Node, right: Node, equal: bool) -> Facts:
        """``(gfp & GFP_KERNEL) == GFP_KERNEL`` and ``(x & FLAG) == 0`` shapes."""
        for a, b in ((left, right), (right, left)):
            if node_text(b).strip() == "0":
                # (x & FLAG) == 0 is !(x & FLAG)
                inner = a
                while inner.type == "parenthesized_expression" and inner.named_children:
                    inner = inner.named_children[0]
                return self._facts(inner, not equal, 1)
            wanted = self.gfp.evaluate(b)
            tested = a
            while tested.type == "parenthesized_expression" and tested.named_children:
                tested = tested.named_children[0]
            if wanted.known and tested.type == "binary_expression":
                op = tested.child_by_field_name("operator")
                if op is not None and node_text(op) == "&":
                    if not equal:
                        return {}  # some bit of the mask is missing: no single fact
                    return self._bits_facts(wanted.set)
        return {}

    def _bits_facts(self, bits: frozenset[str]) -> Facts:
        out: Facts = {}
        if "FS" in bits:
            out[FS_OK] = True
        if "IO" in bits:
            out[IO_OK] = True
        if "DIRECT_RECLAIM" in bits:
            out[DIRECT_OK] = True
        return out

    def _mask_test(self, left: Node, right: Node, truth: bool) -> Facts:
        """``gfp & __GFP_FS`` and ``current->flags & PF_MEMALLOC``."""
        for mask in (right, left):
            name = node_text(mask).strip()
            flag_fact = self.reclaim.gate_flags.get(name)
            if flag_fact:
                return {flag_fact: truth}
            value = self.gfp.evaluate(mask)
            if value.known and value.set:
                facts = self._bits_facts(value.set)
                if len(facts) == 1:
                    return {k: truth for k in facts}
                if truth:
                    return {}  # any one of several bits
                return {}
        return {}


def _ends_in_exit(node: Node) -> bool:
    """Whether a statement always leaves the block (return/goto/break/continue)."""
    while node.type == "compound_statement":  # a loop: { { { return; } } } nests freely
        stmts = [c for c in node.named_children if c.type != "comment"]
        if not stmts:
            return False
        node = stmts[-1]
    # BUG(), panic() never return, but are rare in callbacks: an expression is no exit
    return node.type in _EXITS


def facts_at(node: Node, reader: GateReader, stop: Node | None = None) -> Facts:
    """Facts established for ``node`` by enclosing branches and earlier early exits."""
    facts: Facts = {}
    child = node
    parent = node.parent
    while parent is not None and parent != stop:
        if parent.type == "if_statement":
            cond = parent.child_by_field_name("condition")
            cons = parent.child_by_field_name("consequence")
            if cond is not None and cons is not None:
                if _contains(cons, child):
                    facts = _merge(reader.when_true(cond), facts)
                elif child.type == "else_clause" or _contains_else(parent, child):
                    facts = _merge(reader.when_false(cond), facts)
        elif parent.type in ("while_statement",) and child != parent.child_by_field_name(
                "condition"):
            cond = parent.child_by_field_name("condition")
            if cond is not None:
                facts = _merge(reader.when_true(cond), facts)
        if parent.type == "compound_statement":
            for sibling in parent.named_children:
                if sibling.start_byte >= child.start_byte:
                    break
                if sibling.type == "if_statement":
                    cond = sibling.child_by_field_name("condition")
                    cons = sibling.child_by_field_name("consequence")
                    alt = sibling.child_by_field_name("alternative")
                    if cond is not None and cons is not None and alt is None \
                            and _ends_in_exit(cons):
                        facts = _merge(reader.when_false(cond), facts)
        child = parent
        parent = parent.parent
    return facts


def _contains(outer: Node, inner: Node) -> bool:
    return outer.start_byte <= inner.start_byte and inner.end_byte <= outer.end_byte


def _contains_else(if_node: Node, child: Node) -> bool:
    alt = if_node.child_by_field_name("alternative")
    return alt is not None and _contains(alt, child)
