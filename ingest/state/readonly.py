"""A read-only view of the SQLite state store, for `ingest status`, `ingest footers` and
`ingest stories`.

It takes no lock, so it works while `ingest run` or `ingest fetch` holds the
store: SQLite's WAL lets a reader see the last committed state beside a
writer. Every write is refused (SQLite opens the file with ``mode=ro``). It makes no
tables, so a store an earlier version wrote has no stories (no near-duplicate index) and
no resting hosts (no hosts table), no robots.txt copies (no robots table), no WebSub
subscriptions (no subscriptions table). Open it with
``SqliteStore.open_readonly(path)``.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from pathlib import Path

from ingest.errors import StateError
from ingest.models import RobotsCopy, Story, Subscription
from ingest.state.sqlite_feeds import FeedRows
from ingest.state.sqlite_footers import FooterStats
from ingest.state.sqlite_hosts import HostRows
from ingest.state.sqlite_robots import RobotsRows
from ingest.state.sqlite_schema import connect_reader
from ingest.state.sqlite_seen import SeenMarks
from ingest.state.sqlite_stories import StoryRows
from ingest.state.sqlite_subscriptions import SubscriptionRows


class ReadOnlySqliteStore(SeenMarks, FeedRows, FooterStats, StoryRows, HostRows, RobotsRows,
                          SubscriptionRows):
    def __init__(self, path: Path, *, clock=time.time, replica: str | None = None) -> None:
        super().__init__(path, clock, replica)
        if not self.path.is_file():
            raise StateError(f"state: no state store at {self.path} yet; "
                             "`ingest fetch` or `ingest run` creates it")
        try:
            self._db = connect_reader(self.path)
        except sqlite3.Error as exc:
            raise StateError(f"state: cannot read {self.path}: {exc}; is it an ingest "
                             "state store (state.path)?") from exc

    def stories(self, since: float, min_size: int) -> list[Story]:
        if not self._has_table("stories"):
            return []
        return super().stories(since, min_size)

    def resting_hosts(self, now: float) -> dict[str, tuple[float, str]]:
        if not self._has_table("hosts"):
            return {}
        return super().resting_hosts(now)

    def robots_file(self, origin: str) -> RobotsCopy | None:
        if not self._has_table("robots"):
            return None
        return super().robots_file(origin)

    def subscription(self, callback_id: str) -> Subscription | None:
        if not self._has_table("subscriptions"):
            return None
        return super().subscription(callback_id)

    def feed_subscription(self, feed_url: str) -> Subscription | None:
        if not self._has_table("subscriptions"):
            return None
        return super().feed_subscription(feed_url)

    def feed_subscriptions(self, feed_url: str) -> list[Subscription]:
        if not self._has_table("subscriptions"):
            return []
        return super().feed_subscriptions(feed_url)

    def subscriptions(self) -> list[Subscription]:
        if not self._has_table("subscriptions"):
            return []
        return super().subscriptions()

    def _has_table(self, name: str) -> bool:
        return bool(self._read("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?",
                               (name,)))

    def _writing(self, what: str = "write to") -> contextlib.AbstractContextManager[None]:
        raise StateError(f"state: {self.path} is open read-only; nothing was changed")

    def close(self) -> None:
        self._db.close()
