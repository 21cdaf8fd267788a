"""The bot's state in SQLite: opening, locking, migrating, transactions, cursors.

One watcher owns a database at a time (an exclusive lock file next to it);
readers such as the dashboard open it read-only and never take the lock. Every
change of state happens inside :meth:`Store.tx`, so a crash leaves either all
of a step or none of it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import sqlite3
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

from reviewbot.store.schema import MIGRATIONS, SCHEMA_VERSION

__all__ = ["SCHEMA_VERSION", "Store", "StoreError", "default_db_path"]


class StoreError(Exception):
    """The database cannot be used (locked by another watcher, too new, unreadable)."""


def default_db_path() -> Path:
    """``$XDG_DATA_HOME/reviewbot/state.db`` (``~/.local/share`` when unset)."""
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "reviewbot" / "state.db"


def _statements(script: str) -> list[str]:
    out, current = [], []
    for line in script.splitlines():
        current.append(line)
        if sqlite3.complete_statement("\n".join(current)):
            out.append("\n".join(current).strip())
            current = []
    rest = "\n".join(current).strip()
    if rest:
        out.append(rest)
    return [s for s in out if s]


class Store:
    """An open state database."""

    def __init__(self, conn: sqlite3.Connection, path: str, lock: IO[bytes] | None) -> None:
        self.conn = conn
        self.path = path
        self._lock = lock
        self._depth = 0

    @classmethod
    def open(cls, path: str | Path, *, lock: bool = True,
             migrations: Sequence[str] = MIGRATIONS) -> Store:
        """Open (creating and migrating as needed) the database at ``path``."""
        name = str(path)
        handle: IO[bytes] | None = None
        if name != ":memory:":
            Path(name).parent.mkdir(parents=True, exist_ok=True)
            if lock:
                handle = open(name + ".lock", "ab")  # noqa: SIM115 - held until close()
                try:
                    fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                except OSError as exc:
                    handle.close()
                    raise StoreError(f"{name} is in use by another reviewbot process") from exc
        try:
            conn = sqlite3.connect(name, isolation_level=None, timeout=30.0)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA foreign_keys = ON")
            if name != ":memory:":
                conn.execute("PRAGMA journal_mode = WAL")
                conn.execute("PRAGMA synchronous = NORMAL")
            store = cls(conn, name, handle)
            store._migrate(migrations)
        except sqlite3.DatabaseError as exc:
            if handle is not None:
                handle.close()
            raise StoreError(f"{name}: {exc}") from exc
        except StoreError:
            if handle is not None:
                handle.close()
            raise
        return store

    def close(self) -> None:
        """Close the database and release the lock."""
        self.conn.close()
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        """The number of migrations applied."""
        return int(self.conn.execute("PRAGMA user_version").fetchone()[0])

    def _migrate(self, migrations: Sequence[str]) -> None:
        current = self.schema_version
        if current > len(migrations):
            raise StoreError(f"{self.path}: schema version {current} is newer than this "
                             f"reviewbot knows ({len(migrations)}); upgrade reviewbot")
        for number in range(current, len(migrations)):
            with self.tx():
                for statement in _statements(migrations[number]):
                    self.conn.execute(statement)
                self.conn.execute(f"PRAGMA user_version = {number + 1:d}")
                self.conn.execute(
                    "INSERT OR REPLACE INTO meta(key, value) VALUES ('migrated_at', ?)",
                    (str(time.time()),))

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction; a nested call is a savepoint of the outer one."""
        if self._depth:
            name = f"step{self._depth}"
            self.conn.execute(f"SAVEPOINT {name}")
            self._depth += 1
            try:
                yield self.conn
            except BaseException:
                if self.conn.in_transaction:  # SQLite ends it by itself on SQLITE_NOMEM
                    self.conn.execute(f"ROLLBACK TO {name}")
                    self.conn.execute(f"RELEASE {name}")
                raise
            finally:
                self._depth -= 1
            self.conn.execute(f"RELEASE {name}")
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.conn
        except BaseException:
            self._depth = 0
            if self.conn.in_transaction:  # SQLite ends it by itself on SQLITE_NOMEM
                self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """Run one statement (inside or outside a transaction)."""
        return self.conn.execute(sql, params)

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """All rows of a query."""
        return list(self.conn.execute(sql, params))

    def one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        """The first row of a query, or None."""
        row: sqlite3.Row | None = self.conn.execute(sql, params).fetchone()
        return row

    def cursor(self, source: str) -> str | None:
        """Where ``source`` was last read up to."""
        row = self.one("SELECT value FROM cursors WHERE source = ?", (source,))
        return str(row["value"]) if row is not None else None

    def set_cursor(self, source: str, value: str) -> None:
        """Record how far ``source`` has been read (call inside the step's transaction)."""
        with self.tx():
            self.conn.execute(
                "INSERT INTO cursors(source, value, updated_at) VALUES (?, ?, ?) "
                "ON CONFLICT(source) DO UPDATE SET value = excluded.value, "
                "updated_at = excluded.updated_at",
                (source, value, time.time()))
