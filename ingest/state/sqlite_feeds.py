"""The SQLite store's feed rows: each feed's state as JSON (ingest.state.rows), its next
poll, its lease (this process's: one replica per file).
"""

from __future__ import annotations

from ingest.models import FeedState
from ingest.state.rows import feed_data, read_feed_state
from ingest.state.sqlite_base import SqliteBase


class FeedRows(SqliteBase):
    def get_feed(self, url: str) -> FeedState:
        rows = self._read("SELECT data FROM feeds WHERE url = ?", (url,))
        return read_feed_state(url, rows[0][0], self.path) if rows else FeedState(url=url)

    def put_feed(self, state: FeedState) -> None:
        """Save a feed's state; this ends any lease on it (its poll is over)."""
        self._write([(
            "INSERT INTO feeds (url, data, next_poll_at) VALUES (?, ?, ?) "
            "ON CONFLICT (url) DO UPDATE SET data = excluded.data, "
            "next_poll_at = excluded.next_poll_at, leased_until = NULL",
            [(state.url, feed_data(state), state.next_poll_at)])])

    def all_feeds(self) -> list[FeedState]:
        return [read_feed_state(url, data, self.path)
                for url, data in self._read("SELECT url, data FROM feeds ORDER BY url")]

    def claim_due_feeds(self, now: float, limit: int) -> list[FeedState]:
        """One replica per file: its share is all that is due, up to ``limit``."""
        until = now + self.lease_seconds
        with self._transaction("claiming due feeds in"):
            rows = self._db.execute(
                "SELECT url, data FROM feeds WHERE next_poll_at <= ? "
                "AND (leased_until IS NULL OR leased_until <= ?) "
                "ORDER BY next_poll_at LIMIT ?", (now, now, limit)).fetchall()
            self._db.executemany("UPDATE feeds SET leased_until = ? WHERE url = ?",
                                 [(until, url) for url, _ in rows])
        return [read_feed_state(url, data, self.path) for url, data in rows]

    def leases(self) -> dict[str, str]:
        """Every lease in the file is this replica's (one process per file)."""
        rows = self._read("SELECT url FROM feeds WHERE leased_until > ? ORDER BY url",
                          (self._clock(),))
        return {r[0]: self.replica for r in rows}

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

