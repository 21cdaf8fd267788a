"""Which kernel a patch is judged for."""

from __future__ import annotations

import datetime

from heuristics.model import KernelVersion
from reviewbot.apitables import default_tables
from reviewbot.ingest import read_bytes
from reviewbot.kernelver import resolve, version_for_date

DIFF = "--- a/fs/f.c\n+++ b/fs/f.c\n@@ -1,1 +1,2 @@\n a\n+b\n"


def patch(subject: str, date: str | None = None):  # type: ignore[no-untyped-def]
    head = f"From: a@x\nSubject: {subject}\nMessage-ID: <{abs(hash(subject))}@x>\n"
    if date:
        head += f"Date: {date}\n"
    return read_bytes((head + "\n---\n" + DIFF).encode(), "p").patches[0]


def test_parse_versions() -> None:
    assert str(KernelVersion.parse("v5.17-rc3")) == "5.17"
    assert str(KernelVersion.parse("6.1.y")) == "6.1"
    assert KernelVersion.parse("2.6.38") < KernelVersion.parse("3.0") < KernelVersion.parse("5.17")
    assert KernelVersion.parse("6.10") > KernelVersion.parse("6.9")


def test_resolution_order() -> None:
    tables = default_tables()
    stable = patch("[PATCH 6.1.y] foofs: x", "Mon, 02 Nov 2026 10:00:00 +0000")
    old = patch("[PATCH] foofs: x", "Tue, 29 Mar 2011 15:24:34 -0400")
    undated = patch("[PATCH] foofs: x")
    assert resolve("5.4", [stable], tables) == (KernelVersion.parse("5.4"), "flag")
    assert resolve(None, [stable], tables) == (KernelVersion.parse("6.1"), "subject")
    assert resolve(None, [old], tables, tree_version="4.9") == (KernelVersion.parse("4.9"), "tree")
    assert resolve(None, [old], tables) == (KernelVersion.parse("2.6.39"), "date")
    assert resolve(None, [undated], tables) == (tables.mainline_version, "default")


def test_date_to_development_kernel() -> None:
    tables = default_tables()
    assert str(version_for_date(datetime.datetime(2022, 1, 14), tables)) == "5.17"
    assert str(version_for_date(datetime.datetime(2022, 3, 21), tables)) == "5.18"
    assert version_for_date(datetime.datetime(2099, 1, 1), tables) is None
    assert version_for_date(datetime.datetime(1999, 1, 1), tables) is None
