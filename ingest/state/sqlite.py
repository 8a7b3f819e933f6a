"""`SqliteStore`: the state store (`ingest.state.store.Store`) in one SQLite file.

WAL, one writer process at a time, enforced with a lock file beside the store
(``state.sqlite.lock``, holding the writer's pid). Every method is one transaction, a
short one but for pruning the near-duplicate index (a pass over its band table). The
file's tables, their version and migration are in sqlite_schema; the tables' methods in
sqlite_seen, sqlite_feeds, sqlite_footers, sqlite_stories, sqlite_hosts, sqlite_robots and
sqlite_subscriptions, which the read-only view (readonly.py, for `ingest status`) shares.

One process per file makes one replica (``replica``, the host name unless given): its
share of the due feeds is all of them, and every lease and claim is its own.
"""

from __future__ import annotations

import fcntl
import os
import sqlite3
import time
from pathlib import Path

from ingest.errors import StateError, StateLocked
from ingest.state.readonly import ReadOnlySqliteStore
from ingest.state.sqlite_feeds import FeedRows
from ingest.state.sqlite_footers import FooterStats
from ingest.state.sqlite_hosts import HostRows
from ingest.state.sqlite_robots import RobotsRows
from ingest.state.sqlite_schema import connect_writer
from ingest.state.sqlite_seen import SeenMarks
from ingest.state.sqlite_stories import StoryRows
from ingest.state.sqlite_subscriptions import SubscriptionRows


class SqliteStore(SeenMarks, FeedRows, FooterStats, StoryRows, HostRows, RobotsRows,
                  SubscriptionRows):
    """SQLite implementation; one process at a time holds ``<path>.lock``."""

    def __init__(self, path: Path, *, lock_timeout: float = 10.0, clock=time.time,
                 replica: str | None = None) -> None:
        super().__init__(path, clock, replica)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StateError(f"state: cannot create {self.path.parent}: {exc.strerror}") from exc
        self._lock_fd = _acquire_lock(self.path.with_name(self.path.name + ".lock"), lock_timeout)
        try:
            self._db = connect_writer(self.path)
            # We hold the lock, so no other process is polling: leases left by a
            # killed process are stale, and its feeds are due again at once.
            self._end_every_lease()
            self._forget_rests_over()
        except (sqlite3.Error, StateError) as exc:
            if hasattr(self, "_db"):
                self._db.close()
            os.close(self._lock_fd)
            if isinstance(exc, StateError):
                raise
            raise StateError(f"state: cannot open {self.path}: {exc}") from exc

    @classmethod
    def open_readonly(cls, path: Path, *, replica: str | None = None) -> ReadOnlySqliteStore:
        """A reader that takes no lock (works beside `ingest run`); writes are refused.
        ``replica``: the writer's, which its leases are shown under."""
        return ReadOnlySqliteStore(path, replica=replica)

    def close(self) -> None:
        try:
            self._db.close()
        finally:
            os.close(self._lock_fd)


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
