"""Small helpers shared by the tests: run the engine on a diff string."""

from __future__ import annotations

from heuristics import PatchInput, analyse
from heuristics.engine import Analysis
from heuristics.model import KernelVersion
from heuristics.registry import select_rules
from reviewbot.apitables import default_tables
from reviewbot.diffs import parse_diff

# A NOFS scope leaked on an early return: MEMALLOC-001 (error) at fs/foofs/move.c:145.
LEAK = """\
--- a/fs/foofs/move.c
+++ b/fs/foofs/move.c
@@ -140,7 +140,9 @@ static int foofs_lock_two(struct address_space *m1, struct address_space *m2)
 	struct page *page[2];
 
+	flags = memalloc_nofs_save();
 	page[0] = grab_cache_page_write_begin(m1, index1, 0);
 	if (!page[0])
 		return -ENOMEM;
 	page[1] = grab_cache_page_write_begin(m2, index2, 0);
+	memalloc_nofs_restore(flags);
"""


def run_diff(diff: str, version: str | None = None, select: list[str] | None = None,
             message: str = "", subject: str = "[PATCH] test") -> Analysis:
    """Analyse a unified diff (hunk mode) with the default tables."""
    tables = default_tables()
    target = KernelVersion.parse(version) if version else tables.mainline_version
    patch = PatchInput(subject, message, tuple(parse_diff(diff)), target)
    rules = select_rules(select or [])
    return analyse(patch, tables, rules)


def rule_ids(analysis: Analysis) -> list[str]:
    """Rule ids of the findings, in order."""
    return [f.rule for f in analysis.findings]
