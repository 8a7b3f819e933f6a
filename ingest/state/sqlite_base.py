"""What both views of the SQLite store share: one open connection, short transactions,
and SQLite's errors translated to StateError naming the file.

The tables' methods are mixins over `SqliteBase` (sqlite_seen, sqlite_feeds,
sqlite_footers, sqlite_stories, sqlite_hosts); `SqliteStore` (the writer) and
`ReadOnlySqliteStore` combine them.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from ingest.errors import StateError


class SqliteBase:
    path: Path
    _db: sqlite3.Connection  # set by the view, once the file is open
    # One process per file, and the writer ends every lease when it opens the store: the
    # length only bounds a lease its own process left (a poll that ended without saving).
    lease_seconds: float = 300.0

    def __init__(self, path: Path, clock: Callable[[], float], replica: str | None) -> None:
        self.path = Path(path)
        self._clock = clock
        self.replica = replica or socket.gethostname()
        # Articles in flight in this process. One SQLite store has one process
        # (the lock); a shared store keeps claims as leased rows instead.
        self._claims: set[str] = set()

    def _write(self, sql_rows: Iterable[tuple[str, Iterable]]) -> None:
        """Run several statements in one transaction."""
        with self._writing():
            for sql, rows in sql_rows:
                self._db.executemany(sql, rows)

    def _writing(self, what: str = "write to") -> contextlib.AbstractContextManager[None]:
        """A transaction that writes (the read-only view refuses it before it starts)."""
        return self._transaction(what)

    @contextlib.contextmanager
    def _transaction(self, what: str) -> Iterator[None]:
        """BEGIN IMMEDIATE ... COMMIT, rolled back on any error; SQLite errors become
        StateError naming the store and ``what`` was being done."""
        try:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        except sqlite3.Error as exc:
            raise StateError(f"state: {what} {self.path} failed: {exc}") from exc

    def _read(self, sql: str, args: Iterable = ()) -> list[tuple]:
        try:
            return self._db.execute(sql, tuple(args)).fetchall()
        except sqlite3.Error as exc:
            raise StateError(f"state: read from {self.path} failed: {exc}") from exc

    def _compact(self, sql: str, args: tuple) -> int:
        """Run one DELETE of compaction; return how many rows it dropped."""
        try:
            cur = self._db.execute(sql, args)
        except sqlite3.Error as exc:
            raise StateError(f"state: compaction of {self.path} failed: {exc}") from exc
        return cur.rowcount

    def ping(self) -> None:
        self._read("SELECT 1")


def chunks(items: list, size: int) -> Iterator[list]:
    """Slices of ``items``: SQLite caps the parameters of one statement."""
    for i in range(0, len(items), size):
        yield items[i:i + size]
