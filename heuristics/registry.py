"""Rule registration: one decorator call holds a rule's metadata and docs.

Rules are small functions. ``state`` rules look at one image of a file (the
engine runs them on the post-image and the pre-image and keeps what is new);
``change`` rules look at the diff itself (what a hunk removed and added).
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from heuristics.model import Category, Confidence, RuleMeta, Severity

if TYPE_CHECKING:
    from heuristics.context import ChangeContext, ImageContext

RuleKind = Literal["state", "change"]
Mode = Literal["hunk", "tree", "scan"]
ALL_MODES: frozenset[Mode] = frozenset({"hunk", "tree", "scan"})

DOC_SECTIONS = ("What it does", "Why is this bad?", "Example", "Use instead",
                "Known problems", "References")
_ID_RE = re.compile(r"^(NOFS|MEMALLOC|VMALLOC|EVICT)-\d{3}$")
_NAME_RE = re.compile(r"^[a-z0-9]+(-[a-z0-9]+)*$")
_PREFIX_CATEGORY = {
    "NOFS": Category.NOFS_MISUSE,
    "MEMALLOC": Category.MEMALLOC_UNPAIRED,
    "VMALLOC": Category.VMALLOC_NOFS,
    "EVICT": Category.EVICT_BLOCKING,
}


@dataclass(frozen=True, slots=True)
class Hit:
    """What a rule reports; the engine turns it into a Finding."""

    line: int
    message: str
    function: str | None
    key: str
    snippet: str | None = None
    severity: Severity | None = None
    confidence: Confidence | None = None
    suggestion: str | None = None


StateFunc = Callable[["ImageContext"], Iterable[Hit]]
ChangeFunc = Callable[["ChangeContext"], Iterable[Hit]]


@dataclass(frozen=True, slots=True)
class Rule:
    """A registered rule."""

    meta: RuleMeta
    kind: RuleKind
    modes: frozenset[Mode]
    func: Callable[[Any], Iterable[Hit]]

    @property
    def id(self) -> str:
        """The catalogue id."""
        return self.meta.id


class RegistryError(Exception):
    """A rule was declared wrongly (caught at import time)."""


_RULES: dict[str, Rule] = {}


def doc_sections(doc: str) -> dict[str, str]:
    """Split a rule docstring into its "## Section" parts."""
    sections: dict[str, str] = {}
    current: str | None = None
    lines: list[str] = []
    for raw in doc.splitlines():
        line = raw.strip("\n")
        stripped = line.strip()
        if stripped.startswith("## "):
            if current is not None:
                sections[current] = "\n".join(lines).strip("\n")
            current = stripped[3:].strip()
            lines = []
        elif current is not None:
            lines.append(line)
    if current is not None:
        sections[current] = "\n".join(lines).strip("\n")
    return sections


def _dedent(doc: str) -> str:
    first, _, rest = doc.partition("\n")
    return (first.strip() + "\n" + textwrap.dedent(rest)).strip()


def rule(
    *,
    id: str,
    name: str,
    category: Category,
    severity: Severity,
    confidence: Confidence,
    kind: RuleKind = "state",
    modes: Iterable[Mode] = ALL_MODES,
) -> Callable[[Callable[[Any], Iterable[Hit]]], Callable[[Any], Iterable[Hit]]]:
    """Register a rule function with its metadata; its docstring is the docs."""

    def decorate(func: Callable[[Any], Iterable[Hit]]) -> Callable[[Any], Iterable[Hit]]:
        if not _ID_RE.match(id):
            raise RegistryError(f"{func.__name__}: bad rule id {id!r}")
        if _PREFIX_CATEGORY[id.split("-")[0]] != category:
            raise RegistryError(f"{id}: category {category} does not match the id prefix")
        if not _NAME_RE.match(name):
            raise RegistryError(f"{id}: name {name!r} is not kebab-case")
        if id in _RULES:
            raise RegistryError(f"{id}: registered twice")
        wanted = name.replace("-", "_")
        if func.__name__ != wanted:
            raise RegistryError(f"{id}: function {func.__name__} should be {wanted}")
        doc = _dedent(func.__doc__ or "")
        sections = doc_sections(doc)
        missing = [s for s in DOC_SECTIONS if not sections.get(s)]
        if missing:
            raise RegistryError(f"{id}: docs lack sections {missing}")
        summary = doc.splitlines()[0].strip().rstrip(".") if doc else ""
        meta = RuleMeta(id=id, name=name, category=category, severity=severity,
                        confidence=confidence, summary=summary, docs=doc)
        _RULES[id] = Rule(meta, kind, frozenset(modes), func)
        return func

    return decorate


def all_rules() -> list[Rule]:
    """Every registered rule, by id."""
    import heuristics.rules  # noqa: F401 - registers the rules

    return [_RULES[k] for k in sorted(_RULES)]


def get_rule(rule_id: str) -> Rule | None:
    """One rule by id (case-insensitive)."""
    all_rules()
    return _RULES.get(rule_id.upper())


def _matches(rule_: Rule, token: str) -> bool:
    """An id ("NOFS-005"), an id prefix ("NOFS", "EVICT-00") or a category name."""
    token = token.strip()
    if not token:
        return False
    if token.lower() == rule_.meta.category.value:
        return True
    return rule_.id.startswith(token.upper())


def select_rules(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[Rule]:
    """Rules chosen by ids, id prefixes ("NOFS", "EVICT-00") or categories."""
    chosen = all_rules()
    select = [s for s in select if s.strip()]
    ignore = [s for s in ignore if s.strip()]
    if select:
        chosen = [r for r in chosen if any(_matches(r, s) for s in select)]
    if ignore:
        chosen = [r for r in chosen if not any(_matches(r, s) for s in ignore)]
    return chosen


def unknown_selectors(tokens: Iterable[str]) -> list[str]:
    """Selectors that match no rule at all (for usage errors)."""
    rules = all_rules()
    return [t for t in tokens if t.strip() and not any(_matches(r, t) for r in rules)]


def iter_examples(rule_: Rule) -> Iterator[tuple[str, str]]:
    """(section, fenced block body) for the Example and Use instead sections."""
    sections = doc_sections(rule_.meta.docs)
    for section in ("Example", "Use instead"):
        text = sections.get(section, "")
        for match in re.finditer(r"```(\S*)[^\n]*\n(.*?)```", text, re.DOTALL):
            yield section, match.group(0)
