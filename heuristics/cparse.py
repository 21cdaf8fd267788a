"""C structure from tree-sitter-c, for whole files and for bare hunks.

A hunk is a window into a function: it may start inside a block comment, in
the middle of a parameter list or three braces deep, and end mid-call. Each
window is wrapped so that tree-sitter sees balanced C (synthetic lines map to
no real line), then functions, calls, ops-table initializers and field
assignments are read off the tree with their post-image (or pre-image) line
numbers.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import cached_property

import tree_sitter_c
from tree_sitter import Language, Node, Parser, Query, QueryCursor, Tree

from heuristics.inputs import FileChange
from heuristics.tables import ApiTables

C_LANGUAGE = Language(tree_sitter_c.language())
# One query per parsed file; everything else is answered from its index.
_INDEX_QUERY = Query(C_LANGUAGE, """
(call_expression) @call
(initializer_pair) @pair
(assignment_expression) @assign
(init_declarator) @init
""")

_WRAPPER_PREFIX = "__rb_frag_"
# Deeper syntax trees are refused (ValueError): kernel code nests a few dozen
# levels; 250,000 chained "a + " on one line made tree-sitter's queries and
# the rules' tree walks take minutes. Real nesting up to this depth is analysed.
MAX_SYNTAX_DEPTH = 10_000


@dataclass(frozen=True, slots=True)
class Segment:
    """A run of consecutive real lines; ``section`` is the hunk's @@ context."""

    lines: tuple[tuple[int, str], ...]
    section: str = ""


@dataclass(frozen=True, slots=True)
class SourceView:
    """One image (pre or post) of a file: whole, or the windows hunks show."""

    path: str
    segments: tuple[Segment, ...]
    complete: bool

    @property
    def line_count(self) -> int:
        """Number of real lines in the view."""
        return sum(len(s.lines) for s in self.segments)


def post_view(change: FileChange) -> SourceView:
    """The post-image: the full text if known, else context and + lines."""
    if change.post_text is not None:
        return _whole(change.path, change.post_text)
    segs = []
    for hunk in change.hunks:
        lines = tuple((ln.new_no, ln.text) for ln in hunk.lines
                      if ln.kind != "-" and ln.new_no is not None)
        if lines:
            segs.append(Segment(lines, hunk.section))
    return SourceView(change.path, tuple(segs), complete=False)


def pre_view(change: FileChange) -> SourceView:
    """The pre-image: the full text if known, else context and - lines."""
    if change.pre_text is not None:
        return _whole(change.old_path or change.path, change.pre_text)
    segs = []
    for hunk in change.hunks:
        lines = tuple((ln.old_no, ln.text) for ln in hunk.lines
                      if ln.kind != "+" and ln.old_no is not None)
        if lines:
            segs.append(Segment(lines, hunk.section))
    return SourceView(change.old_path or change.path, tuple(segs), complete=False)


def _whole(path: str, text: str) -> SourceView:
    lines = tuple(enumerate(text.splitlines(), start=1))
    return SourceView(path, (Segment(lines),), complete=True)


# --------------------------------------------------------------------------
# Lexing: brace/paren depth per line, ignoring comments and literals.


@dataclass(slots=True)
class _LineLex:
    braces: int = 0        # net { minus }
    min_braces: int = 0    # lowest running brace count within the line
    parens: int = 0
    min_parens: int = 0
    code: bool = False     # any code outside comments


_INTERESTING = re.compile(r"""[{}()"'/*]""")


def _lex_lines(lines: list[str], in_comment: bool) -> tuple[list[_LineLex], bool]:
    """Lex ``lines``; return per-line counts and whether a stray */ was seen."""
    out: list[_LineLex] = []
    stray_close = False
    for text in lines:
        lex = _LineLex()
        out.append(lex)
        stripped = text.strip()
        if not stripped:
            continue
        if not in_comment and stripped.startswith("#"):
            continue
        if not in_comment and '"' not in text and "'" not in text and "/*" not in text \
                and "*/" not in text and "//" not in text:
            # Fast path: no comments or literals on this line.
            lex.code = True
            lex.braces, lex.min_braces = _net(text, "{", "}")
            lex.parens, lex.min_parens = _net(text, "(", ")")
            continue
        i, n = 0, len(text)
        if not in_comment:
            lex.code = not stripped.startswith(("/*", "//", "*"))
        while i < n:
            if in_comment:
                end = text.find("*/", i)
                if end < 0:
                    break
                in_comment = False
                i = end + 2
                continue
            match = _INTERESTING.search(text, i)
            if match is None:
                break
            j = match.start()
            ch = text[j]
            if ch == "/":
                nxt = text[j + 1:j + 2]
                if nxt == "/":
                    break
                if nxt == "*":
                    in_comment = True
                    i = j + 2
                    continue
                i = j + 1
            elif ch == "*":
                if text[j + 1:j + 2] == "/":
                    stray_close = True
                    i = j + 2
                    continue
                i = j + 1
            elif ch in "\"'":
                k = j + 1
                while k < n and text[k] != ch:
                    k += 2 if text[k] == "\\" else 1
                lex.code = True
                i = k + 1
            else:
                lex.code = True
                if ch == "{":
                    lex.braces += 1
                elif ch == "}":
                    lex.braces -= 1
                    lex.min_braces = min(lex.min_braces, lex.braces)
                elif ch == "(":
                    lex.parens += 1
                else:
                    lex.parens -= 1
                    lex.min_parens = min(lex.min_parens, lex.parens)
                i = j + 1
    return out, stray_close


def _net(text: str, opening: str, closing: str) -> tuple[int, int]:
    """(net count, lowest running count) of a bracket pair on one line."""
    closes = text.count(closing)
    if not closes:
        return text.count(opening), 0
    opens = text.count(opening)
    if not opens:
        return -closes, -closes
    depth = low = 0
    for ch in text:
        if ch == opening:
            depth += 1
        elif ch == closing:
            depth -= 1
            low = min(low, depth)
    return depth, low


def _starts_in_comment(lines: list[str]) -> bool:
    """Whether a window opens inside a block comment (a */ before any /*)."""
    for text in lines:
        close = text.find("*/")
        opening = text.find("/*")
        if close >= 0 and (opening < 0 or close < opening):
            return True
        if opening >= 0:
            return False
    return False


def _is_top_level_line(text: str) -> bool:
    """A column-0 line that starts a top-level construct (not a label or brace)."""
    if not text or text[0].isspace() or text[0] in "#{}/*":
        return False
    stripped = text.rstrip()
    # goto labels sit in column 0 in kernel style: "out:" / "err_free:"
    return not (stripped.endswith(":") and stripped[:-1].replace("_", "a").isalnum())


def function_name_from_section(section: str) -> str | None:
    """The function a hunk header names: the identifier before the first '('."""
    depth = 0
    name = None
    token = ""  # a C token being built, not a password  # nosec B105
    for ch in section:
        if ch.isalnum() or ch == "_":
            token += ch
            continue
        if ch == "(":
            if depth == 0 and token and not token[0].isdigit():
                name = token
                break
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch in "={;":
            return None
        token = "" if not ch.isspace() else token
        if ch.isspace():
            token = ""  # a C token being built, not a password  # nosec B105
    return name


def params_from_section(section: str) -> tuple[tuple[str, str], ...]:
    """(type, name) pairs from the parameter list a hunk header shows (may be partial)."""
    start = section.find("(")
    if start < 0:
        return ()
    inner = section[start + 1:]
    end = inner.find(")")
    if end >= 0:
        inner = inner[:end]
    params = []
    for part in inner.split(","):
        words = part.replace("*", " * ").split()
        if len(words) >= 2 and (words[-1][0].isalpha() or words[-1][0] == "_"):
            params.append((" ".join(words[:-1]), words[-1]))
    return tuple(params)


def _section_kind(section: str) -> str:
    if "(" in section:
        before = section.split("(", 1)[0]
        return "aggregate" if "=" in before else "function"
    if "{" in section or "=" in section:
        return "aggregate"
    return "unknown"


# --------------------------------------------------------------------------
# Wrapping windows into parseable C.


@dataclass(slots=True)
class _Builder:
    text: list[str] = field(default_factory=list)
    rows: list[int | None] = field(default_factory=list)
    wrappers: dict[str, str] = field(default_factory=dict)
    wrapper_sections: dict[str, str] = field(default_factory=dict)

    def synth(self, line: str) -> None:
        self.text.append(line)
        self.rows.append(None)

    def real(self, number: int, line: str) -> None:
        self.text.append(line)
        self.rows.append(number)


def _blanker(tables: ApiTables) -> _Blanker:
    return _Blanker(frozenset(tables.attribute_macros),
                    frozenset(tables.attribute_macros_with_args))


@dataclass(frozen=True, slots=True)
class _Blanker:
    plain: frozenset[str]
    with_args: frozenset[str]

    def __call__(self, line: str) -> str:
        if "__" not in line and "notrace" not in line and "noinline" not in line \
                and "asmlinkage" not in line:
            return line
        chars = list(line)
        i, n = 0, len(line)
        while i < n:
            ch = line[i]
            if ch.isalpha() or ch == "_":
                j = i
                while j < n and (line[j].isalnum() or line[j] == "_"):
                    j += 1
                word = line[i:j]
                if word in self.plain:
                    chars[i:j] = " " * (j - i)
                elif word in self.with_args:
                    k = j
                    while k < n and line[k].isspace():
                        k += 1
                    if k < n and line[k] == "(":
                        depth = 0
                        while k < n:
                            if line[k] == "(":
                                depth += 1
                            elif line[k] == ")":
                                depth -= 1
                                if depth == 0:
                                    break
                            k += 1
                        if depth == 0:
                            j = k + 1
                    chars[i:j] = " " * (j - i)
                i = j
            else:
                i += 1
        return "".join(chars)


def _wrap_segment(seg: Segment, index: int, builder: _Builder, blank: _Blanker) -> None:
    """Append ``seg`` to the synthetic source, balanced and wrapped."""
    texts = [blank(t) for _, t in seg.lines]
    in_comment = _starts_in_comment(texts)
    lexes, _ = _lex_lines(texts, in_comment)

    # Running depths before each line.
    depth_before: list[int] = []
    paren_before: list[int] = []
    depth = parens = 0
    min_depth = min_parens = 0
    for lex in lexes:
        depth_before.append(depth)
        paren_before.append(parens)
        min_depth = min(min_depth, depth + lex.min_braces)
        min_parens = min(min_parens, parens + lex.min_parens)
        depth += lex.braces
        parens += lex.parens
    final_depth, final_parens = depth, parens

    kind = _section_kind(seg.section)
    first_code = next((i for i, lx in enumerate(lexes) if lx.code), None)
    entry: int | None = None
    signature_tail = continuation = False
    for i, (lex, text) in enumerate(zip(lexes, texts, strict=True)):
        if not lex.code or (in_comment and i == 0):
            continue
        stripped = text.rstrip()
        if stripped in ("}", "};") or (stripped.startswith("}") and not text[0].isspace()):
            entry = -(depth_before[i] + lex.braces)
            break
        if stripped == "{" and not text[0].isspace():
            entry = -depth_before[i]
            # A column-0 "{" opens the body of the function the header names; lines
            # before it continue that signature.
            signature_tail = kind == "function"
            continuation = first_code is not None and first_code < i
            break
        if _is_top_level_line(text) and paren_before[i] == 0:
            entry = -depth_before[i]
            break
    if entry is None:
        # No function end in the window: a body must stay at depth >= 1 all
        # through it ("} else {" dips one level on its own line).
        indented = first_code is not None and texts[first_code][:1].isspace()
        entry = 1 - min_depth if indented or min_depth < 0 else 0
    entry = max(entry, -min_depth, 0)

    name = f"{_WRAPPER_PREFIX}{index}"
    if signature_tail and entry == 0:
        if continuation:
            builder.synth(seg.section)
        else:
            builder.synth(f"void {name}(void)")
            _name_wrapper(builder, name, seg.section)
    elif entry > 0:
        if kind == "aggregate":
            builder.synth(f"static struct __rb_any {name} = {{")
        else:
            builder.synth(f"void {name}(void) {{")
            _name_wrapper(builder, name, seg.section)
        openers = ["{"] * (entry - 1)
        if openers and kind != "aggregate" and first_code is not None \
                and texts[first_code].lstrip().startswith("}") \
                and "else" in texts[first_code]:
            # "} else if (...) {": the branch being closed belongs to an if.
            openers[-1] = "if (__rb_branch) {"
        for opener in openers:
            builder.synth(opener)
    if in_comment:
        builder.synth("/*")
    if min_parens < 0:
        builder.synth("(" * -min_parens)
    for (number, _), text in zip(seg.lines, texts, strict=True):
        builder.real(number, text)
    close_parens = final_parens - min_parens
    if close_parens > 0:
        builder.synth(")" * close_parens + ";")
    remaining = entry + final_depth
    if remaining > 0:
        for _ in range(remaining - 1):
            builder.synth("}")
        builder.synth("};" if kind == "aggregate" else "}")


def window_wrapper(texts: list[str], section: str, tables: ApiTables
                   ) -> tuple[list[str], list[str]]:
    """The synthetic lines that make one window (a hunk) parse: (before, after).

    The wrapper function is named after the function the hunk header names, so
    a file rebuilt from windows parses like the original (used to build
    synthetic trees from a patch).
    """
    builder = _Builder()
    _wrap_segment(Segment(tuple(enumerate(texts, start=1)), section), 0, builder,
                  _blanker(tables))
    real = [i for i, row in enumerate(builder.rows) if row is not None]
    if not real:
        return [], []
    before = builder.text[:real[0]]
    after = builder.text[real[-1] + 1:]
    name = function_name_from_section(section)
    wrapper = f"{_WRAPPER_PREFIX}0"
    before = [line.replace(wrapper, name or "rb_window") for line in before]
    return before, after


def _name_wrapper(builder: _Builder, name: str, section: str) -> None:
    real_name = function_name_from_section(section)
    if real_name:
        builder.wrappers[name] = real_name
    builder.wrapper_sections[name] = section


# --------------------------------------------------------------------------
# The parsed unit and what rules read from it.


@dataclass(frozen=True, slots=True)
class Call:
    """A call site: callee name, argument nodes and texts, real line."""

    name: str
    node: Node
    args: tuple[Node, ...]
    line: int
    guard_class: str | None = None

    @property
    def arg_texts(self) -> tuple[str, ...]:
        """Argument source texts, whitespace collapsed."""
        return tuple(" ".join(_text(a).split()) for a in self.args)

    @property
    def text(self) -> str:
        """The whole call, whitespace collapsed."""
        return " ".join(_text(self.node).split())


@dataclass(frozen=True, slots=True)
class OpsAssignment:
    """``.field = func`` in an initializer, or ``x->field = func``."""

    field: str
    value: str
    line: int
    struct_type: str | None


class CFunction:
    """A function, or the visible fragment of one, with real line numbers."""

    def __init__(self, unit: CUnit, node: Node, name: str | None, synthetic: bool,
                 params: tuple[tuple[str, str], ...]) -> None:
        self.unit = unit
        self.node = node
        self.name = name
        self.synthetic = synthetic
        self.params = params
        body = node.child_by_field_name("body")
        self.body: Node | None = body
        lines = unit.real_lines(node)
        self.start_line = lines[0] if lines else 0
        self.end_line = lines[-1] if lines else 0
        self.complete = (not synthetic and unit.complete) or (
            not synthetic and unit.spans_real(node))

    def __repr__(self) -> str:
        return f"CFunction({self.name!r}, {self.start_line}-{self.end_line})"

    @cached_property
    def calls(self) -> list[Call]:
        """Every call in the body, in source order."""
        if self.body is None:
            return []
        return self.unit.calls_in(self.body)

    def param_names_of_type(self, type_word: str) -> set[str]:
        """Names of parameters whose type mentions ``type_word`` (e.g. gfp_t)."""
        return {name for typ, name in self.params if type_word in typ.split()}

    @property
    def display_name(self) -> str:
        """The name for messages."""
        return self.name or "this function"

    @property
    def ref(self) -> str:
        """``foo()`` for messages, or "this function" when the name is not visible."""
        return f"{self.name}()" if self.name else "this function"


class CUnit:
    """One parsed view of a file."""

    def __init__(self, view: SourceView, tables: ApiTables) -> None:
        self.view = view
        self.path = view.path
        self.complete = view.complete
        builder = _Builder()
        blank = _blanker(tables)
        if view.complete:
            for seg in view.segments:
                for number, text in seg.lines:
                    builder.real(number, blank(text))
        else:
            for i, seg in enumerate(view.segments):
                _wrap_segment(seg, i, builder, blank)
        self._rows = builder.rows
        self._wrappers = builder.wrappers
        self._wrapper_sections = builder.wrapper_sections
        self.source = "\n".join(builder.text).encode("utf-8", "surrogateescape")
        self.tree: Tree = Parser(C_LANGUAGE).parse(self.source)
        if _deeper_than(self.tree, MAX_SYNTAX_DEPTH):
            raise ValueError(f"syntax nested deeper than {MAX_SYNTAX_DEPTH} levels")
        self._line_text = {n: t for seg in view.segments for n, t in seg.lines}
        self._segment_of = {n: i for i, seg in enumerate(view.segments) for n, _ in seg.lines}

    # -- line mapping ------------------------------------------------------

    def line_of(self, node: Node) -> int | None:
        """Real line of a node's first row (None for synthetic rows)."""
        row = node.start_point.row
        return self._rows[row] if row < len(self._rows) else None

    def first_real_line(self, node: Node) -> int | None:
        """The first real line a node covers."""
        for row in range(node.start_point.row, min(node.end_point.row + 1, len(self._rows))):
            if self._rows[row] is not None:
                return self._rows[row]
        return None

    def real_lines(self, node: Node) -> list[int]:
        """All real lines a node covers."""
        end = min(node.end_point.row + 1, len(self._rows))
        return [r for r in self._rows[node.start_point.row:end] if r is not None]

    def spans_real(self, node: Node) -> bool:
        """Whether the node's first and last rows are real lines of one segment."""
        start = self._rows[node.start_point.row] if node.start_point.row < len(self._rows) else None
        end_row = node.end_point.row
        end = self._rows[end_row] if end_row < len(self._rows) else None
        if start is None or end is None:
            return False
        return self._segment_of.get(start) == self._segment_of.get(end)

    def line_text(self, line: int) -> str:
        """The original text of a real line."""
        return self._line_text.get(line, "")

    def segment_index(self, line: int) -> int | None:
        """Which window (hunk) a line belongs to."""
        return self._segment_of.get(line)

    # -- structure -----------------------------------------------------------

    @cached_property
    def functions(self) -> list[CFunction]:
        """Function definitions and wrapped fragments, in source order."""
        out: list[CFunction] = []
        stack = [self.tree.root_node]
        while stack:
            node = stack.pop()
            for child in reversed(node.children):
                if child.type == "function_definition":
                    out.append(self._function(child))
                elif child.type in ("ERROR", "preproc_if", "preproc_ifdef", "preproc_else",
                                    "preproc_elif", "linkage_specification", "declaration_list"):
                    stack.append(child)
        out.sort(key=lambda f: f.node.start_byte)
        return out

    def _function(self, node: Node) -> CFunction:
        declarator = node.child_by_field_name("declarator")
        fdecl = _find_function_declarator(declarator)
        name = None
        params: tuple[tuple[str, str], ...] = ()
        if fdecl is not None:
            ident = fdecl.child_by_field_name("declarator")
            while ident is not None and ident.type not in ("identifier", "field_identifier"):
                ident = ident.child_by_field_name("declarator")
            if ident is not None:
                name = _text(ident)
            params = _params(fdecl.child_by_field_name("parameters"))
        synthetic = bool(name and name.startswith(_WRAPPER_PREFIX))
        if synthetic and name is not None:
            section = self._wrapper_sections.get(name, "")
            params = params_from_section(section)
            name = self._wrappers.get(name)
        return CFunction(self, node, name, synthetic, params)

    @cached_property
    def _starts(self) -> list[int]:
        return [fn.start_line for fn in self.functions]

    def function_at(self, line: int) -> CFunction | None:
        """The function (or fragment) covering a real line."""
        i = bisect.bisect_right(self._starts, line) - 1
        while i >= 0:
            fn = self.functions[i]
            if fn.start_line <= line <= fn.end_line:
                return fn
            if line - fn.start_line > 100000:
                break
            i -= 1
        return None

    @cached_property
    def _index(self) -> dict[str, list[Node]]:
        """Calls, initializer pairs, assignments and declarators, by kind, in order."""
        found = QueryCursor(_INDEX_QUERY).captures(self.tree.root_node)
        for nodes in found.values():
            nodes.sort(key=lambda n: n.start_byte)
        return found

    @cached_property
    def _all_calls(self) -> tuple[list[int], list[Call]]:
        """Every call in the file, sorted by start byte."""
        calls = []
        for node in self._index.get("call", []):
            made = self._call(node)
            if made is not None:
                calls.append(made)
        return [c.node.start_byte for c in calls], calls

    @cached_property
    def _value_nodes(self) -> tuple[list[int], list[Node]]:
        nodes = sorted(self._index.get("assign", []) + self._index.get("init", []),
                       key=lambda n: n.start_byte)
        return [n.start_byte for n in nodes], nodes

    def assignments_in(self, node: Node) -> list[Node]:
        """assignment_expression and init_declarator nodes under ``node``, in order."""
        starts, nodes = self._value_nodes
        lo = bisect.bisect_left(starts, node.start_byte)
        hi = bisect.bisect_left(starts, node.end_byte, lo)
        return nodes[lo:hi]

    def calls_in(self, node: Node) -> list[Call]:
        """Calls under ``node`` with a real line, in source order."""
        starts, calls = self._all_calls
        lo = bisect.bisect_left(starts, node.start_byte)
        hi = bisect.bisect_left(starts, node.end_byte, lo)
        return calls[lo:hi]

    def _call(self, node: Node) -> Call | None:
        line = self.line_of(node)
        if line is None:
            return None
        fn = node.child_by_field_name("function")
        arglist = node.child_by_field_name("arguments")
        args = tuple(c for c in arglist.named_children if c.type != "comment") if arglist else ()
        if fn is None:
            return None
        if fn.type == "identifier":
            return Call(_text(fn), node, args, line)
        if fn.type == "call_expression":
            # guard(class)(args) / scoped_guard is a plain call with a body.
            inner = fn.child_by_field_name("function")
            inner_args = fn.child_by_field_name("arguments")
            if inner is not None and inner.type == "identifier" and inner_args is not None:
                named = [c for c in inner_args.named_children if c.type != "comment"]
                cls = _text(named[0]) if named else None
                return Call(_text(inner), node, args, line, guard_class=cls)
            return None
        if fn.type == "field_expression":
            member = fn.child_by_field_name("field")
            if member is not None:
                return Call("->" + _text(member), node, args, line)
        if fn.type == "parenthesized_expression":
            inner_fn = fn.named_children[0] if fn.named_children else None
            if inner_fn is not None and inner_fn.type == "identifier":
                return Call(_text(inner_fn), node, args, line)
        return None

    @cached_property
    def ops_assignments(self) -> list[OpsAssignment]:
        """``.field = func`` initializers and ``x->field = func`` assignments."""
        out: list[OpsAssignment] = []
        for pair in self._index.get("pair", []):
            designator = pair.child_by_field_name("designator")
            value = pair.child_by_field_name("value")
            line = self.line_of(pair)
            if designator is None or value is None or line is None:
                continue
            fid = next((c for c in designator.named_children if c.type == "field_identifier"),
                       None)
            if fid is None or value.type != "identifier":
                continue
            out.append(OpsAssignment(_text(fid), _text(value), line, _struct_type_of(pair)))
        for assign in self._index.get("assign", []):
            left = assign.child_by_field_name("left")
            right = assign.child_by_field_name("right")
            line = self.line_of(assign)
            if left is None or right is None or line is None:
                continue
            if left.type == "field_expression" and right.type == "identifier":
                member = left.child_by_field_name("field")
                if member is not None:
                    out.append(OpsAssignment(_text(member), _text(right), line, None))
        return out

    def iter_nodes(self, node: Node, types: frozenset[str]) -> Iterator[Node]:
        """Descendants of ``node`` (and itself) of the given types, in source order."""
        query = _types_query(types)
        found = QueryCursor(query).captures(node).get("n", [])
        found.sort(key=lambda n: n.start_byte)
        yield from found


_QUERIES: dict[frozenset[str], Query] = {}


def _deeper_than(tree: Tree, limit: int) -> bool:
    """Whether any node of ``tree`` lies more than ``limit`` levels below the root."""
    cursor = tree.walk()
    depth = 0
    while True:
        if cursor.goto_first_child():
            depth += 1
            if depth > limit:
                return True
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return False
            depth -= 1


def _types_query(types: frozenset[str]) -> Query:
    """A query capturing nodes of any of ``types`` as @n (cached)."""
    query = _QUERIES.get(types)
    if query is None:
        body = " ".join(f"({t})" for t in sorted(types))
        query = Query(C_LANGUAGE, f"[{body}] @n")
        _QUERIES[types] = query
    return query


def _ancestors(node: Node) -> list[Node]:
    out = []
    cur: Node | None = node
    while cur is not None:
        out.append(cur)
        cur = cur.parent
    return out


def mutually_exclusive(a: Node, b: Node) -> bool:
    """Whether no single path runs both nodes: they sit in different branches of one
    ``if``/``else`` (including else-if chains) or in different ``case`` labels."""
    chain_a = _ancestors(a)
    ids_b = {(n.start_byte, n.end_byte, n.type) for n in _ancestors(b)}
    for i, node in enumerate(chain_a):
        if (node.start_byte, node.end_byte, node.type) not in ids_b:
            continue
        below_a = chain_a[i - 1] if i else None
        if node.type == "if_statement" and below_a is not None:
            cons = node.child_by_field_name("consequence")
            alt = node.child_by_field_name("alternative")
            in_a = (below_a == cons, below_a == alt)
            b_in_cons = cons is not None and cons.start_byte <= b.start_byte < cons.end_byte
            b_in_alt = alt is not None and alt.start_byte <= b.start_byte < alt.end_byte
            return (in_a[0] and b_in_alt) or (in_a[1] and b_in_cons)
        if node.type == "compound_statement" and node.parent is not None \
                and node.parent.type == "switch_statement" and below_a is not None \
                and below_a.type == "case_statement":
            return not (below_a.start_byte <= b.start_byte < below_a.end_byte)
        return False
    return False


def _find_function_declarator(node: Node | None) -> Node | None:
    while node is not None:
        if node.type == "function_declarator":
            return node
        node = node.child_by_field_name("declarator")
    return None


def _params(node: Node | None) -> tuple[tuple[str, str], ...]:
    if node is None:
        return ()
    out = []
    for param in node.named_children:
        if param.type != "parameter_declaration":
            continue
        typ = param.child_by_field_name("type")
        decl = param.child_by_field_name("declarator")
        name_node = decl
        while name_node is not None and name_node.type != "identifier":
            name_node = name_node.child_by_field_name("declarator")
        type_text = _text(typ) if typ is not None else ""
        if decl is not None and decl.type == "pointer_declarator":
            type_text += " *"
        out.append((type_text, _text(name_node) if name_node is not None else ""))
    return tuple(out)


def _struct_type_of(pair: Node) -> str | None:
    node = pair.parent
    while node is not None and node.type not in ("declaration", "translation_unit"):
        node = node.parent
    if node is None or node.type != "declaration":
        return None
    typ = node.child_by_field_name("type")
    if typ is not None and typ.type == "struct_specifier":
        name = typ.child_by_field_name("name")
        return _text(name) if name is not None else None
    return None


def _text(node: Node) -> str:
    raw = node.text
    return raw.decode("utf-8", "surrogateescape") if raw is not None else ""


def node_text(node: Node) -> str:
    """Source text of a node."""
    return _text(node)
