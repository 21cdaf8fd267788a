"""MAINTAINERS parsing and file matching on a synthetic file in the real syntax."""

from __future__ import annotations

import pytest

from reviewbot.dashboard.maintainers import FilePattern, Index, Person, parse

MAINTAINERS = """\
List of maintainers
===================

Descriptions of section entries and preferred order
---------------------------------------------------

	M: *Mail* patches to: FullName <address@domain>
	R: Designated *Reviewer*: FullName <address@domain>
	F: *Files* and directories wildcard patterns.
	   A trailing slash includes all files and subdirectory files.
	   F:	drivers/net/	all files in and below drivers/net

Maintainers List
----------------

FOOFS FILESYSTEM
M:	Alice Maintainer <Alice@Example.org>
R:	Bob Reviewer <bob@example.org>
L:	linux-foofs@lists.example.org (moderated for non-subscribers)
S:	Maintained
W:	https://foofs.example.org/
T:	git git://git.example.org/foofs.git
F:	Documentation/filesystems/foofs.rst
F:	fs/foofs/
X:	fs/foofs/legacy/
F:	include/uapi/linux/foofs*.h

FOOFS JOURNAL
M:	Carol Journal <carol@example.org>
L:	linux-foofs@lists.example.org
S:	Supported
F:	fs/foofs/journal/
K:	\\bfoofs_journal_\\w+

BARFS DRIVERS (ONE LEVEL ONLY)
M:	dave@example.org
S:	Odd Fixes
F:	drivers/bar/*
F:	drivers/bar/?ctl.c

TEGRA-LIKE NAMES
M:	Erin Regex <erin@example.org>
S:	Maintained
N:	[^a-z]tegra
X:	drivers/bar/

MEMORY MANAGEMENT
M:	Alice Maintainer <alice@example.org>
L:	linux-mm@lists.example.org
S:	Maintained
F:	mm/
F:	include/linux/gfp*.h
X:	mm/vmalloc.c

ORPHAN BAD REGEX
S:	Orphan
N:	(unclosed

THE REST
M:	Linus Example <linus@example.org>
L:	linux-kernel@lists.example.org
S:	Buried alive in reporters
F:	*
F:	*/
"""


@pytest.fixture(scope="module")
def index() -> Index:
    entries, warnings = parse(MAINTAINERS)
    assert len(warnings) == 1 and "N: bad regex" in warnings[0]
    return Index(entries)


def titles(index: Index, path: str) -> list[str]:
    return [e.title for e in index.entries_for(path)]


def test_entries_titles_people_lists_status() -> None:
    entries, _ = parse(MAINTAINERS)
    assert [e.title for e in entries] == [
        "FOOFS FILESYSTEM", "FOOFS JOURNAL", "BARFS DRIVERS (ONE LEVEL ONLY)",
        "TEGRA-LIKE NAMES", "MEMORY MANAGEMENT", "ORPHAN BAD REGEX", "THE REST"]
    foofs = entries[0]
    assert foofs.maintainers == [Person("Alice Maintainer", "alice@example.org")]
    assert foofs.reviewers == [Person("Bob Reviewer", "bob@example.org")]
    assert foofs.lists == ["linux-foofs@lists.example.org"]
    assert foofs.status == "Maintained"
    assert foofs.other == {"W": ["https://foofs.example.org/"],
                           "T": ["git git://git.example.org/foofs.git"]}
    assert entries[1].keywords == ["\\bfoofs_journal_\\w+"]
    assert entries[2].maintainers == [Person("dave@example.org", "dave@example.org")]
    assert entries[5].status == "Orphan" and entries[5].regexes == []


def test_trailing_slash_covers_everything_below(index: Index) -> None:
    assert titles(index, "fs/foofs/dir.c") == ["FOOFS FILESYSTEM", "THE REST"]
    assert titles(index, "fs/foofs/sub/deeper/x.c")[0] == "FOOFS FILESYSTEM"


def test_more_specific_entry_first(index: Index) -> None:
    assert titles(index, "fs/foofs/journal/commit.c") == [
        "FOOFS JOURNAL", "FOOFS FILESYSTEM", "THE REST"]


def test_x_excludes_a_subdirectory(index: Index) -> None:
    assert titles(index, "fs/foofs/legacy/old.c") == ["THE REST"]
    assert titles(index, "mm/vmalloc.c") == ["THE REST"]
    assert titles(index, "mm/vmscan.c") == ["MEMORY MANAGEMENT", "THE REST"]


def test_star_stays_in_its_directory(index: Index) -> None:
    assert titles(index, "drivers/bar/main.c")[0] == "BARFS DRIVERS (ONE LEVEL ONLY)"
    assert "BARFS DRIVERS (ONE LEVEL ONLY)" not in titles(index, "drivers/bar/sub/main.c")


def test_question_mark_is_one_character(index: Index) -> None:
    pattern = FilePattern.compile("drivers/bar/?ctl.c")
    assert pattern.matches("drivers/bar/xctl.c")
    assert not pattern.matches("drivers/bar/ctl.c")
    assert not pattern.matches("drivers/bar/xyctl.c")


def test_wildcards_in_file_names(index: Index) -> None:
    assert titles(index, "include/uapi/linux/foofs_fs.h")[0] == "FOOFS FILESYSTEM"
    assert titles(index, "include/linux/gfp_types.h")[0] == "MEMORY MANAGEMENT"
    assert "MEMORY MANAGEMENT" not in titles(index, "include/linux/slab.h")


def test_n_regex_anywhere_in_the_path_and_x_applies_to_it(index: Index) -> None:
    assert "TEGRA-LIKE NAMES" in titles(index, "drivers/gpu/host1x/tegra_drm.c")
    assert "TEGRA-LIKE NAMES" in titles(index, "arch/arm/mach-tegra/board.c")
    assert "TEGRA-LIKE NAMES" not in titles(index, "drivers/integrator/x.c")
    assert "TEGRA-LIKE NAMES" not in titles(index, "drivers/bar/-tegra.c")


def test_the_rest_covers_top_level_files_and_directories(index: Index) -> None:
    assert titles(index, "Makefile") == ["THE REST"]
    assert titles(index, "kernel/fork.c") == ["THE REST"]


def test_people_index(index: Index) -> None:
    people = index.people()
    alice, entries = people["alice@example.org"]
    assert alice.name == "Alice Maintainer"
    assert [e.title for e in entries] == ["FOOFS FILESYSTEM", "MEMORY MANAGEMENT"]
    assert [e.title for e in people["bob@example.org"][1]] == ["FOOFS FILESYSTEM"]


@pytest.mark.parametrize("text", [
    "", "\n\n\n", "F:\tfs/\n", "TITLE\nM:\tnot an address\n", "TITLE\nF:\n",
    "TITLE\nN:\t" + "(" * 5000 + "\n", "TITLE\n  indented: line\nF:\t" + "*" * 2000 + "\n",
    "\x00\x01\nF: \udcff\n",
])
def test_odd_input_never_crashes(text: str) -> None:
    entries, _ = parse(text)
    index = Index(entries)
    index.entries_for("fs/foofs/dir.c")


def test_brackets_and_dots_are_literal() -> None:
    pattern = FilePattern.compile("fs/[ab].c")
    assert pattern.matches("fs/[ab].c")
    assert not pattern.matches("fs/a.c")
    assert not FilePattern.compile("fs/a.c").matches("fs/abc")


def test_many_stars_match_like_one() -> None:
    """A pattern of many ``*`` (a fuzzer find) means what one ``*`` means, and the
    match of a long path that fails at its end comes back (no backtracking blow-up)."""
    stars = FilePattern.compile("*" * 60 + "x")
    assert stars.matches("ax")
    assert not stars.matches("a/x")  # not a directory pattern: the depth must agree
    assert not stars.matches("a" * 4000)
    assert FilePattern.compile("fs/**/").matches("fs/foofs/inode.c")
