"""The SQLite store's feed rows: each feed's state as JSON, its next poll, its lease.

A feed row that cannot be read (corrupt JSON, wrong types) is logged and the feed starts
afresh: the row only holds validators, schedule and counters, which the next poll
rebuilds.
"""

from __future__ import annotations

import json
import logging
from dataclasses import fields

from ingest.models import FeedState
from ingest.state.sqlite_base import SqliteBase

log = logging.getLogger("ingest.state")

_FEED_FIELDS = [f.name for f in fields(FeedState) if f.name != "url"]
_FIELD_TYPES = {"etag": str, "last_modified": str, "body_hash": str, "last_error": str,
                "failures": int, "articles_written": int, "extra": dict}


class FeedRows(SqliteBase):
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

    def _end_every_lease(self) -> None:
        """Make every leased feed claimable again; raises sqlite3.Error."""
        self._db.execute("UPDATE feeds SET leased_until = NULL WHERE leased_until IS NOT NULL")


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
