"""Fixtures for the dashboard tests: a database filled through the bot, a MAINTAINERS file,
a built site."""

from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import pytest

from tests.dashboard.filldb import Filled, fill
from tests.listbot.conftest import inbox, run_cli, sink

__all__ = ["inbox", "sink"]  # the list bot's public-inbox and SMTP sink fixtures

MAINTAINERS = textwrap.dedent("""\
    List of maintainers
    ===================

    \tM: *Mail* patches to: FullName <address@domain>

    FOOFS FILESYSTEM
    M:\tAlice Maintainer <alice@example.org>
    R:\tBob Reviewer <bob@example.org>
    L:\tlinux-foofs@lists.example.org
    S:\tMaintained
    F:\tfs/foofs/
    X:\tfs/foofs/legacy/

    FOOFS SHRINKERS
    M:\tCarol Cache <carol@example.org>
    S:\tSupported
    F:\tfs/foofs/cache.c
    F:\tfs/foofs/quota.c

    BLOCK LAYER AND MD
    M:\tBea Block <bea@example.org>
    L:\tlinux-block@lists.example.org
    S:\tMaintained
    F:\tblock/
    F:\tdrivers/block/*
    F:\tdrivers/md/dm-*.c

    NILFS-LIKE
    M:\tNed Nil <ned@example.org>
    S:\tOdd Fixes
    N:\tnilfs
    """)


@pytest.fixture(scope="session")
def filled_template(tmp_path_factory: pytest.TempPathFactory) -> Filled:
    """One filled database for the whole session (copy it before changing it)."""
    return fill(tmp_path_factory.mktemp("filled") / "state.db")


@pytest.fixture
def filled(filled_template: Filled, tmp_path: Path) -> Filled:
    """A private copy of the filled database."""
    db = tmp_path / "state.db"
    shutil.copyfile(filled_template.db, db)
    return Filled(db, dict(filled_template.series_msgids), filled_template.fp_rule)


@pytest.fixture
def maintainers(tmp_path: Path) -> Path:
    """A synthetic MAINTAINERS file."""
    path = tmp_path / "MAINTAINERS"
    path.write_text(MAINTAINERS, encoding="utf-8")
    return path


@pytest.fixture
def site(filled: Filled, maintainers: Path, tmp_path: Path) -> Path:
    """The dashboard of the filled database, built with `reviewbot dashboard build`."""
    out = tmp_path / "site"
    done = run_cli("dashboard", "build", "--db", str(filled.db), "--out", str(out),
                   "--maintainers", str(maintainers))
    assert done.status == 0, done.err
    return out
