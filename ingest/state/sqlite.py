"""`SqliteStore`: the state store (`ingest.state.store.Store`) in one SQLite file.

WAL, one writer process at a time, enforced with a lock file beside the store
(``state.sqlite.lock``, holding the writer's pid). Every method is one short
transaction. A store made by an earlier version is migrated when it is opened; one
made by a later version (its ``PRAGMA user_version`` is above SCHEMA_VERSION) is
refused, since this version would misread what it added. A feed row that cannot be
read (corrupt JSON, wrong types) is logged and the feed starts afresh: the row only
holds validators, schedule and counters, which the next poll rebuilds.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sqlite3
import time
from collections.abc import Iterable, Mapping
from dataclasses import fields
from pathlib import Path

from ingest.errors import StateError, StateLocked
from ingest.models import Checkpoint, FeedState
from ingest.state.store import Store

log = logging.getLogger("ingest.state")
SCHEMA_VERSION = 1  # 0: stores made before the version was kept

_SCHEMA = """
CREATE TABLE IF NOT EXISTS seen (
    key TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    seen_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS attempts (
    key TEXT PRIMARY KEY,
    count INTEGER NOT NULL,
    last_error TEXT,
    updated_at REAL NOT NULL
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS feeds (
    url TEXT PRIMARY KEY,
    data TEXT NOT NULL,
    next_poll_at REAL,
    leased_until REAL
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS feeds_next_poll ON feeds (next_poll_at);
CREATE TABLE IF NOT EXISTS footer_lines (
    site TEXT NOT NULL,
    key TEXT NOT NULL,
    sample TEXT NOT NULL,
    count INTEGER NOT NULL,
    updated_at REAL NOT NULL,
    PRIMARY KEY (site, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS sink_checkpoints (
    path TEXT PRIMARY KEY,
    offset INTEGER NOT NULL,
    fingerprint TEXT
) WITHOUT ROWID;
"""

_FEED_FIELDS = [f.name for f in fields(FeedState) if f.name != "url"]


class SqliteStore(Store):
    """SQLite implementation; one process at a time holds ``<path>.lock``."""

    def __init__(self, path: Path, *, lock_timeout: float = 10.0,
                 clock=time.time) -> None:
        self.path = Path(path)
        super().__init__()
        self._clock = clock
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"state: cannot create {self.path.parent}: {exc.strerror}") from exc
        self._lock_fd = _acquire_lock(self.path.with_name(self.path.name + ".lock"), lock_timeout)
        try:
            self._db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA busy_timeout=5000")
            check_schema_version(self._db, self.path)
            self._db.executescript(_SCHEMA)
            _migrate(self._db)
            # We hold the lock, so no other process is polling: leases left by a
            # killed process are stale, and its feeds are due again at once.
            self._db.execute("UPDATE feeds SET leased_until = NULL "
                             "WHERE leased_until IS NOT NULL")
        except (sqlite3.Error, StateError) as exc:
            if hasattr(self, "_db"):
                self._db.close()
            os.close(self._lock_fd)
            if isinstance(exc, StateError):
                raise
            raise StateError(f"state: cannot open {self.path}: {exc}") from exc

    # -- helpers ---------------------------------------------------------------
    def _write(self, sql_rows: Iterable[tuple[str, Iterable]]) -> None:
        """Run several statements in one transaction."""
        with self._transaction("write to"):
            for sql, rows in sql_rows:
                self._db.executemany(sql, rows)

    @contextlib.contextmanager
    def _transaction(self, what: str):
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

    # -- seen --------------------------------------------------------------------
    def unseen(self, keys: Iterable[str]) -> set[str]:
        wanted = set(keys)
        if not wanted:
            return set()
        known: set[str] = set()
        for chunk in _chunks(list(wanted), 500):
            marks = ",".join("?" * len(chunk))
            known.update(r[0] for r in self._read(
                f"SELECT key FROM seen WHERE key IN ({marks})", chunk))
        return wanted - known

    def mark_seen(self, keys: Mapping[str, str],
                  checkpoints: Mapping[str, Checkpoint] | None = None) -> None:
        now = self._clock()
        self._write([
            ("INSERT OR IGNORE INTO seen (key, status, seen_at) VALUES (?, ?, ?)",
             [(k, s, now) for k, s in keys.items()]),
            ("DELETE FROM attempts WHERE key = ?", [(k,) for k in keys]),
            ("INSERT INTO sink_checkpoints (path, offset, fingerprint) VALUES (?, ?, ?) "
             "ON CONFLICT (path) DO UPDATE SET offset = excluded.offset, "
             "fingerprint = excluded.fingerprint",
             [(path, c.offset, c.fingerprint) for path, c in (checkpoints or {}).items()]),
        ])

    def record_attempt(self, key: str, error: str) -> int:
        self._write([(
            "INSERT INTO attempts (key, count, last_error, updated_at) VALUES (?, 1, ?, ?) "
            "ON CONFLICT (key) DO UPDATE SET count = count + 1, "
            "last_error = excluded.last_error, updated_at = excluded.updated_at",
            [(key, error[:500], self._clock())])])
        return self._read("SELECT count FROM attempts WHERE key = ?", (key,))[0][0]

    def forget_seen_before(self, cutoff: float) -> int:
        """Compaction: drop seen marks older than ``cutoff``; return how many."""
        try:
            cur = self._db.execute("DELETE FROM seen WHERE seen_at < ?", (cutoff,))
        except sqlite3.Error as exc:
            raise StateError(f"state: compaction of {self.path} failed: {exc}") from exc
        return cur.rowcount

    # -- feeds -------------------------------------------------------------------
    def get_feed(self, url: str) -> FeedState:
        rows = self._read("SELECT data FROM feeds WHERE url = ?", (url,))
        if not rows:
            return FeedState(url=url)
        try:
            return _feed_state(url, rows[0][0])
        except ValueError as exc:
            log.error("state: the saved state of feed %s in %s is unreadable (%s); the feed "
                      "starts afresh (its validators, schedule and counters are lost)",
                      url, self.path, exc)
            return FeedState(url=url)

    def put_feed(self, state: FeedState) -> None:
        """Save a feed's state; this ends any lease on it (its poll is over)."""
        data = {name: getattr(state, name) for name in _FEED_FIELDS}
        self._write([(
            "INSERT INTO feeds (url, data, next_poll_at) VALUES (?, ?, ?) "
            "ON CONFLICT (url) DO UPDATE SET data = excluded.data, "
            "next_poll_at = excluded.next_poll_at, leased_until = NULL",
            [(state.url, json.dumps(data), state.next_poll_at)])])

    def all_feeds(self) -> list[FeedState]:
        return [self.get_feed(r[0]) for r in self._read("SELECT url FROM feeds ORDER BY url")]

    def claim_due_feeds(self, now: float, limit: int, lease_seconds: float) -> list[str]:
        until = now + lease_seconds
        with self._transaction("claiming due feeds in"):
            urls = [r[0] for r in self._db.execute(
                "SELECT url FROM feeds WHERE next_poll_at <= ? "
                "AND (leased_until IS NULL OR leased_until <= ?) "
                "ORDER BY next_poll_at LIMIT ?", (now, now, limit))]
            self._db.executemany("UPDATE feeds SET leased_until = ? WHERE url = ?",
                                 [(until, url) for url in urls])
        return urls

    def shift_schedule(self, seconds: float) -> int:
        next_poll = "next_poll_at + :shift"
        with self._transaction("moving the schedule in"):
            cur = self._db.execute(
                f"UPDATE feeds SET next_poll_at = {next_poll}, "
                f"data = json_set(data, '$.next_poll_at', {next_poll}), "
                "leased_until = leased_until + :shift WHERE next_poll_at IS NOT NULL",
                {"shift": seconds})
        return cur.rowcount

    def ping(self) -> None:
        self._read("SELECT 1")

    # -- footer statistics -------------------------------------------------
    def footer_counts(self, site: str, keys: Iterable[str] | None = None) -> dict[str, int]:
        if keys is None:
            return dict(self._read("SELECT key, count FROM footer_lines WHERE site = ?",
                                   (site,)))
        counts: dict[str, int] = {}
        for chunk in _chunks(list(set(keys)), 500):
            counts.update(self._read(
                "SELECT key, count FROM footer_lines WHERE site = ? AND key IN "
                f"({','.join('?' * len(chunk))})", [site, *chunk]))
        return counts

    def add_footer_counts(self, site: str, counts: Mapping[str, tuple[int, str]]) -> None:
        now = self._clock()
        self._write([(
            "INSERT INTO footer_lines (site, key, sample, count, updated_at) "
            "VALUES (?, ?, ?, ?, ?) ON CONFLICT (site, key) DO UPDATE SET "
            "count = count + excluded.count, updated_at = excluded.updated_at",
            [(site, k, sample[:500], n, now) for k, (n, sample) in counts.items()])])

    def forget_footer_lines(self, before: float, below: int) -> int:
        try:
            cur = self._db.execute(
                "DELETE FROM footer_lines WHERE count < ? AND updated_at < ?", (below, before))
        except sqlite3.Error as exc:
            raise StateError(f"state: compaction of {self.path} failed: {exc}") from exc
        return cur.rowcount

    def footer_lines(self, site: str | None = None) -> list[tuple[str, str, str, int]]:
        sql = "SELECT site, key, sample, count FROM footer_lines"
        args: tuple = ()
        if site:
            sql += " WHERE site = ?"
            args = (site,)
        return self._read(sql + " ORDER BY site, count DESC, key", args)

    # -- sink checkpoints -------------------------------------------------------
    def checkpoints(self) -> dict[str, Checkpoint]:
        return {path: Checkpoint(offset, fingerprint) for path, offset, fingerprint
                in self._read("SELECT path, offset, fingerprint FROM sink_checkpoints")}

    @classmethod
    def open_readonly(cls, path: Path) -> SqliteStore:
        """A reader that takes no lock (works beside `ingest run`); writes are refused."""
        from ingest.state.readonly import ReadOnlySqliteStore

        return ReadOnlySqliteStore(path)

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            os.close(self._lock_fd)


def _chunks(items: list, size: int):
    """Slices of ``items``: SQLite caps the parameters of one statement."""
    for i in range(0, len(items), size):
        yield items[i:i + size]


_FIELD_TYPES = {"etag": str, "last_modified": str, "body_hash": str, "last_error": str,
                "failures": int, "articles_written": int, "extra": dict}


def _feed_state(url: str, text: str) -> FeedState:
    """A feed row's JSON as a FeedState; ValueError says what is wrong with it."""
    data = json.loads(text)  # json.JSONDecodeError is a ValueError
    if not isinstance(data, dict):
        raise ValueError(f"expected a JSON object, got {type(data).__name__}")
    values = {k: v for k, v in data.items() if k in _FEED_FIELDS and v is not None}
    for name, value in values.items():
        wanted = _FIELD_TYPES.get(name, (int, float))
        if not isinstance(value, wanted) or isinstance(value, bool):
            raise ValueError(f"{name} is {value!r}")
    return FeedState(url=url, **values)


def check_schema_version(db: sqlite3.Connection, path: Path) -> None:
    version = db.execute("PRAGMA user_version").fetchone()[0]
    if version > SCHEMA_VERSION:
        raise StateError(f"state: {path} was written by a newer version of ingest (store "
                         f"schema {version}; this one knows up to {SCHEMA_VERSION}); "
                         "upgrade ingest, or point state.path at another file")


def _migrate(db: sqlite3.Connection) -> None:
    """Bring a store made by an earlier version up to the current schema."""
    columns = {row[1] for row in db.execute("PRAGMA table_info(feeds)")}
    if "leased_until" not in columns:
        db.execute("ALTER TABLE feeds ADD COLUMN leased_until REAL")
    columns = {row[1] for row in db.execute("PRAGMA table_info(sink_checkpoints)")}
    if "fingerprint" not in columns:
        db.execute("ALTER TABLE sink_checkpoints ADD COLUMN fingerprint TEXT")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _acquire_lock(path: Path, timeout: float) -> int:
    """Take an exclusive lock on ``path`` within ``timeout`` seconds."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:
        raise StateError(f"state: cannot open lock file {path}: {exc.strerror}") from exc
    deadline = time.monotonic() + timeout
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            if time.monotonic() >= deadline:
                holder = os.pread(fd, 64, 0).decode(errors="replace").strip() or "?"
                os.close(fd)
                raise StateLocked(
                    f"state: {path} is held by another ingest process (pid {holder}); "
                    f"waited {timeout:g}s. Stop it or wait for it to finish.") from None
            time.sleep(0.1)
    os.ftruncate(fd, 0)
    os.pwrite(fd, str(os.getpid()).encode(), 0)
    return fd
