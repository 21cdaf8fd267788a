"""Follow memalloc_*_save() cookies along every path of a function body.

The walker keeps the scopes open on the current path (LIFO), splits at
``if``/``switch``, merges at joins, carries state along ``goto`` to its label
and across ``break``/``continue``, and reports:

* a ``return`` (or the end of a complete function) reached with a scope open;
* a restore of a cookie that is not the innermost open one (out of order);
* a restore whose function does not match the save's kind;
* a restore of a variable no save on this path produced.

Branches with the same condition text are treated as correlated, which is how
kernel code writes "save only if X ... restore only if X".

The walk over nested statements runs on an explicit stack, not on Python's:
each statement is a generator that yields the sub-statements it needs walked
(``yield (node, state)``) and receives their resulting state, so a function
nested ten thousand braces deep costs memory, never a RecursionError.
"""

from __future__ import annotations

from collections.abc import Generator, Iterable, Mapping
from dataclasses import dataclass, field

from tree_sitter import Node

from heuristics.cparse import CFunction, node_text
from heuristics.tables import ScopeTables


@dataclass(frozen=True, slots=True)
class OpenScope:
    """A scope opened on the current path."""

    cookie: str
    kind: str
    line: int
    save_name: str
    conds: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class Leak:
    """A path leaves the function with ``scope`` still open."""

    scope: OpenScope
    line: int
    how: str  # "return" | "end" | "goto"


@dataclass(frozen=True, slots=True)
class OrderError:
    """``outer`` restored while ``inner`` (opened later) is still open."""

    outer: OpenScope
    inner: OpenScope
    line: int


@dataclass(frozen=True, slots=True)
class KindMismatch:
    """A cookie from one kind of save handed to another kind's restore."""

    scope: OpenScope
    restore_name: str
    line: int


@dataclass(frozen=True, slots=True)
class ForeignRestore:
    """A restore of a variable that no save on this path produced."""

    restore_name: str
    arg: str
    line: int
    saved_cookies: frozenset[str]


@dataclass(slots=True)
class PairingReport:
    """What the walker found in one function."""

    leaks: list[Leak] = field(default_factory=list)
    order_errors: list[OrderError] = field(default_factory=list)
    kind_mismatches: list[KindMismatch] = field(default_factory=list)
    foreign: list[ForeignRestore] = field(default_factory=list)
    saves: list[OpenScope] = field(default_factory=list)
    unresolved_gotos: set[str] = field(default_factory=set)


State = tuple[OpenScope, ...] | None  # None: unreachable
# A save remembers at most this many enclosing conditions for correlation with
# later branches (deeper nesting than this is not kernel code).
MAX_CORRELATED = 32
# A statement being walked: yields (sub-statement, state in), receives the state out.
Walk = Generator[tuple["Node", State], State, State]


def _merge(a: State, b: State) -> State:
    if a is None:
        return b
    if b is None:
        return a
    out = list(a)
    for scope in b:
        if scope not in out:
            out.append(scope)
    return tuple(out)


def _negate(cond: str) -> str:
    return cond[1:] if cond.startswith("!") else "!" + cond


class _Walker:
    def __init__(self, fn: CFunction, scopes: ScopeTables, openers: Mapping[str, str],
                 closers: Mapping[str, str]) -> None:
        self.fn = fn
        self.scopes = scopes
        self.openers = openers
        self.closers = closers
        self.report = PairingReport()
        self.pending_gotos: dict[str, State] = {}
        self.labels = self._labels(fn)
        self.loop_stack: list[tuple[list[State], list[State]]] = []  # (breaks, continues)
        # Conditions on the current path: a count per condition (entered in place,
        # never copied) and their order, for the snapshot a save keeps.
        self.path_conds: dict[str, int] = {}
        self.cond_stack: list[str] = []
        self._reported: set[tuple[str, int, int]] = set()
        self._escaped_cache: set[str] | None = None

    @staticmethod
    def _labels(fn: CFunction) -> set[str]:
        out = set()
        if fn.body is not None:
            for node in fn.unit.iter_nodes(fn.body, frozenset({"labeled_statement"})):
                label = node.child_by_field_name("label")
                if label is not None:
                    out.add(node_text(label))
        return out

    def line(self, node: Node) -> int:
        return self.fn.unit.first_real_line(node) or self.fn.start_line

    # -- scope events --------------------------------------------------------

    def _save_kind(self, call: Node) -> str | None:
        fn = call.child_by_field_name("function")
        if fn is None or fn.type != "identifier":
            return None
        name = node_text(fn)
        kind = self.scopes.save_kind.get(name)
        if kind == "flags":
            args = call.child_by_field_name("arguments")
            text = node_text(args) if args is not None else ""
            for flag, flag_kind in self.scopes.pf_flags.items():
                if flag in text:
                    return flag_kind
        return kind

    def _events(self, node: Node, state: State) -> State:
        """Apply the saves/restores inside one simple statement, in order."""
        if state is None:
            return None
        for made in self.fn.unit.calls_in(node):
            call = made.node
            name = made.name
            if name in self.scopes.save_kind or name in self.openers:
                state = self._on_save(call, name, state)
            elif name in self.scopes.restore_kind:
                state = self._on_restore(call, name, state)
            elif name in self.closers:
                state = self._on_helper_close(made.arg_texts, name, state)
        return state

    def _on_helper_close(self, args: tuple[str, ...], name: str, state: State) -> State:
        """A closing helper ends the open scope whose cookie it is given."""
        assert state is not None  # type narrowing  # nosec B101
        live = self._live(state)
        for scope in reversed(live):
            if scope.cookie in args:
                return tuple(s for s in state if s != scope)
        return state

    def _on_save(self, call: Node, name: str, state: State) -> State:
        assert state is not None  # type narrowing  # nosec B101
        kind = self._save_kind(call) or self.scopes.save_kind.get(name) or self.openers[name]
        parent = call.parent
        while parent is not None and parent.type in ("parenthesized_expression", "cast_expression"):
            parent = parent.parent
        cookie = None
        if parent is not None and parent.type == "assignment_expression":
            left = parent.child_by_field_name("left")
            op = parent.child_by_field_name("operator")
            if left is not None and left.type == "identifier" and op is not None \
                    and node_text(op) == "=":
                cookie = node_text(left)
        elif parent is not None and parent.type == "init_declarator":
            decl = parent.child_by_field_name("declarator")
            if decl is not None and decl.type == "identifier":
                cookie = node_text(decl)
        if cookie is None:
            return state  # carried in an object, returned, or discarded: other rules
        scope = OpenScope(cookie, kind, self.line(call), name,
                          frozenset(self.cond_stack[-MAX_CORRELATED:]))
        self.report.saves.append(scope)
        # A second save into the same variable hides the first cookie.
        return (*state, scope)

    def _live(self, state: tuple[OpenScope, ...]) -> list[OpenScope]:
        return [s for s in state if not any(_negate(c) in self.path_conds for c in s.conds)]

    def _on_restore(self, call: Node, name: str, state: State) -> State:
        assert state is not None  # type narrowing  # nosec B101
        args = call.child_by_field_name("arguments")
        named = [c for c in args.named_children if c.type != "comment"] if args else []
        if len(named) != 1 or named[0].type != "identifier":
            return state  # literals, fields and expressions belong to other rules
        arg = node_text(named[0])
        if arg.startswith("PF_"):
            return state
        kind = self.scopes.restore_kind[name]
        live = self._live(state)
        matches = [s for s in live if s.cookie == arg]
        line = self.line(call)
        if not matches:
            saved = frozenset(s.cookie for s in self.report.saves)
            if arg not in saved:
                self.report.foreign.append(ForeignRestore(name, arg, line, saved))
            return state
        # Prefer a scope of the matching kind (correlated conditional saves).
        same_kind = [s for s in matches if s.kind == kind or s.kind == "flags"]
        target = same_kind[-1] if same_kind else matches[-1]
        if not same_kind:
            self.report.kind_mismatches.append(KindMismatch(target, name, line))
        first: dict[OpenScope, int] = {}
        for position, scope in enumerate(live):
            first.setdefault(scope, position)  # as list.index(), without its O(n) per call
        inner = [s for s in live if s.line > target.line and s.cookie != target.cookie
                 and first[s] > first[target]]
        if inner:
            self.report.order_errors.append(OrderError(target, inner[-1], line))
        return tuple(s for s in state if s != target)

    # -- statements ----------------------------------------------------------

    def walk(self, node: Node, state: State) -> State:
        """Walk one statement (and everything nested in it) on an explicit stack."""
        stack: list[Walk] = [self._walk(node, state)]
        value: State = None
        while stack:
            try:
                child, child_state = stack[-1].send(value)
            except StopIteration as done:
                stack.pop()
                value = done.value
                continue
            stack.append(self._walk(child, child_state))
            value = None
        return value

    def _walk(self, node: Node, state: State) -> Walk:
        kind = node.type
        if state is None and kind != "labeled_statement" and kind != "compound_statement":
            return None
        if kind == "compound_statement" or kind == "ERROR" or kind.startswith("preproc_"):
            return (yield from self._block(node.named_children, state))
        if kind == "if_statement":
            return (yield from self._if(node, state))
        if kind in ("for_statement", "while_statement", "do_statement"):
            body = node.child_by_field_name("body")
            cond = node.child_by_field_name("condition")
            if cond is not None:
                state = self._events(cond, state)
            return (yield from self._loop(body, state, must_run=kind == "do_statement"))
        if kind == "switch_statement":
            return (yield from self._switch(node, state))
        if kind == "return_statement":
            state = self._events(node, state)
            self._exit(node, state, "return")
            return None
        if kind == "goto_statement":
            label = node.child_by_field_name("label")
            name = node_text(label) if label is not None else ""
            if name in self.labels:
                self.pending_gotos[name] = _merge(self.pending_gotos.get(name), state)
            else:
                self.report.unresolved_gotos.add(name)
            return None
        if kind == "labeled_statement":
            label = node.child_by_field_name("label")
            name = node_text(label) if label is not None else ""
            state = _merge(state, self.pending_gotos.pop(name, None))
            inner = [c for c in node.named_children if c.type != "statement_identifier"]
            for child in inner:
                state = yield (child, state)
            return state
        if kind == "break_statement":
            if self.loop_stack:
                self.loop_stack[-1][0].append(state)
            return None
        if kind == "continue_statement":
            if self.loop_stack:
                self.loop_stack[-1][1].append(state)
            return None
        if kind == "comment":
            return state
        return self._events(node, state)

    def _block(self, children: Iterable[Node], state: State) -> Walk:
        items = [c for c in children if c.type != "comment"]
        i = 0
        while i < len(items):
            child = items[i]
            nxt = items[i + 1] if i + 1 < len(items) else None
            if child.type == "expression_statement" and nxt is not None \
                    and nxt.type == "compound_statement" and _missing_semicolon(child):
                # list_for_each_entry(...) { ... } / scoped_guard(...) { ... }
                state = self._events(child, state)
                state = yield from self._loop(nxt, state, must_run=False)
                i += 2
                continue
            state = yield (child, state)
            i += 1
        return state

    def _branch(self, node: Node | None, state: State, cond: str | None) -> Walk:
        if cond:
            self.path_conds[cond] = self.path_conds.get(cond, 0) + 1
            self.cond_stack.append(cond)
        try:
            result = state if node is None else (yield (node, state))
            if result is not None:
                # Scopes opened under a condition this branch contradicts do not exist here.
                result = tuple(s for s in result if not any(
                    _negate(c) in self.path_conds for c in s.conds))
            return result
        finally:
            if cond:
                self.cond_stack.pop()
                left = self.path_conds[cond] - 1
                if left:
                    self.path_conds[cond] = left
                else:
                    del self.path_conds[cond]

    def _if(self, node: Node, state: State) -> Walk:
        cond_node = node.child_by_field_name("condition")
        cond = " ".join(node_text(cond_node).split()) if cond_node is not None else ""
        if cond_node is not None:
            state = self._events(cond_node, state)
        cons = node.child_by_field_name("consequence")
        alt = node.child_by_field_name("alternative")
        alt_body = None
        if alt is not None:
            alt_body = next((c for c in alt.named_children if c.type != "comment"), None)
        then_state = yield from self._branch(cons, state, cond)
        else_state = yield from self._branch(alt_body, state, _negate(cond) if cond else None)
        return _merge(then_state, else_state)

    def _loop(self, body: Node | None, state: State, must_run: bool) -> Walk:
        self.loop_stack.append(([], []))
        try:
            end = (yield (body, state)) if body is not None else state
        finally:
            breaks, continues = self.loop_stack.pop()
        out = end
        for extra in (*breaks, *continues):
            out = _merge(out, extra)
        if not must_run:
            out = _merge(out, state)
        return out

    def _switch(self, node: Node, state: State) -> Walk:
        cond = node.child_by_field_name("condition")
        if cond is not None:
            state = self._events(cond, state)
        body = node.child_by_field_name("body")
        if body is None:
            return state
        self.loop_stack.append(([], []))
        entry = state
        current: State = None
        has_default = False
        try:
            for child in body.named_children:
                if child.type == "case_statement":
                    if node_text(child).lstrip().startswith("default"):
                        has_default = True
                    current = _merge(current, entry)
                    value = child.child_by_field_name("value")
                    stmts = [c for c in child.named_children
                             if c.type != "comment" and (value is None or c != value)]
                    current = yield from self._block(stmts, current)
                else:
                    current = yield (child, current)
        finally:
            breaks, continues = self.loop_stack.pop()
        out = current
        for extra in breaks:
            out = _merge(out, extra)
        if continues and self.loop_stack:
            self.loop_stack[-1][1].extend(continues)
        if not has_default:
            out = _merge(out, entry)
        return out

    def _escaped(self) -> set[str]:
        """Cookies stored into an object or handed to a function other than a restore."""
        if self._escaped_cache is None:
            out: set[str] = set()
            body = self.fn.body
            if body is not None:
                for node in self.fn.unit.assignments_in(body):
                    if node.type != "assignment_expression":
                        continue
                    left = node.child_by_field_name("left")
                    right = node.child_by_field_name("right")
                    if left is not None and right is not None and right.type == "identifier" \
                            and left.type in ("field_expression", "pointer_expression",
                                              "subscript_expression"):
                        out.add(node_text(right))
                for call in self.fn.unit.calls_in(body):
                    if call.name in self.scopes.restore_kind or call.name in \
                            self.scopes.save_kind or call.name in self.closers \
                            or call.name in self.openers:
                        continue
                    out.update(node_text(a) for a in call.args if a.type == "identifier")
            self._escaped_cache = out
        return self._escaped_cache

    def _exit(self, node: Node, state: State, how: str) -> None:
        if state is None:
            return
        returned = ""
        if node.type == "return_statement" and node.named_children:
            returned = node_text(node.named_children[0]).strip()
        line = self.line(node)
        escaped = self._escaped()
        for scope in self._live(state):
            if scope.cookie == returned or scope.cookie in escaped:
                continue  # handed to the caller or to an object that ends the scope later
            key = (scope.cookie, scope.line, line)
            if key not in self._reported:
                self._reported.add(key)
                self.report.leaks.append(Leak(scope, line, how))

    def run(self) -> PairingReport:
        if self.fn.body is None:
            return self.report
        end = self.walk(self.fn.body, ())
        if self.fn.complete and end:
            last = self.fn.end_line
            escaped = self._escaped()
            for scope in self._live(end):
                if scope.cookie not in escaped:
                    self.report.leaks.append(Leak(scope, last, "end"))
        return self.report


def _missing_semicolon(stmt: Node) -> bool:
    last = stmt.children[-1] if stmt.children else None
    return last is not None and last.is_missing


def pair_scopes(fn: CFunction, scopes: ScopeTables, openers: Mapping[str, str] | None = None,
                closers: Mapping[str, str] | None = None) -> PairingReport:
    """Walk every path of ``fn`` and report unpaired memalloc scopes.

    ``openers``/``closers`` are helpers that open a scope and return its cookie
    (``memflags = blk_mq_freeze_queue(q)``) or close one given the cookie
    (``blk_mq_unfreeze_queue(q, memflags)``).
    """
    return _Walker(fn, scopes, openers or {}, closers or {}).run()
