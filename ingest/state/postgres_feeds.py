"""The PostgreSQL store's feed rows: each feed's state as JSON text (as in the SQLite store),
its next poll, and its lease: the replica polling it and until when (the database's
clock, so replicas whose clocks differ agree on it).

A dispatch leases due feeds in one statement, ``FOR UPDATE SKIP LOCKED``, so replicas
dispatching at once take different feeds without waiting for each other; each takes at
most its share of what is due (due feeds / live replicas, rounded up), so the work
spreads over the replicas rather than going to whichever asks first.
"""

from __future__ import annotations

from ingest.models import FeedState
from ingest.state.postgres_base import DB_NOW, PgBase
from ingest.state.postgres_identity import LIVE_REPLICAS
from ingest.state.rows import feed_data, read_feed_state

_CLAIMABLE = f"next_poll_at <= %(now)s AND (leased_until IS NULL OR leased_until <= {DB_NOW})"
_CLAIM_DUE = (
    f"WITH live AS ({LIVE_REPLICAS}), "
    f"due AS (SELECT count(*) FROM feeds WHERE {_CLAIMABLE}), "
    f"pick AS (SELECT url FROM feeds WHERE {_CLAIMABLE} ORDER BY next_poll_at, url COLLATE \"C\" "
    "LIMIT least(%(limit)s, ceil((SELECT * FROM due)::float8 / (SELECT * FROM live))::bigint) "
    "FOR UPDATE SKIP LOCKED) "
    f"UPDATE feeds SET leased_by = %(me)s, leased_until = {DB_NOW} + %(lease)s "
    "FROM pick WHERE feeds.url = pick.url RETURNING feeds.url, feeds.next_poll_at, feeds.data")

# Saving a feed ends this replica's lease on it; another replica's (it leased the feed
# after ours ran out) is its own to end.
_PUT = (
    "INSERT INTO feeds (url, data, next_poll_at) VALUES (%(url)s, %(data)s, %(next)s) "
    "ON CONFLICT (url) DO UPDATE SET data = excluded.data, next_poll_at = excluded.next_poll_at, "
    "leased_until = CASE WHEN feeds.leased_by = %(me)s THEN NULL ELSE feeds.leased_until END, "
    "leased_by = nullif(feeds.leased_by, %(me)s)")


class FeedRows(PgBase):
    def get_feed(self, url: str) -> FeedState:
        rows = self._read("SELECT data FROM feeds WHERE url = %s", (url,))
        return self._feed(url, rows[0][0]) if rows else FeedState(url=url)

    def put_feed(self, state: FeedState) -> None:
        self._write(_PUT, {"url": state.url, "data": feed_data(state),
                           "next": state.next_poll_at, "me": self.replica})

    def all_feeds(self) -> list[FeedState]:
        rows = self._read('SELECT url, data FROM feeds ORDER BY url COLLATE "C"')
        return [self._feed(url, data) for url, data in rows]

    def claim_due_feeds(self, now: float, limit: int) -> list[FeedState]:
        _, rows = self._write(_CLAIM_DUE, {"now": now, "limit": max(limit, 0),
                                           "me": self.replica, "lease": self.lease_seconds},
                              "claiming due feeds in")
        rows.sort(key=lambda row: (row[1], row[0].encode()))
        return [self._feed(url, data) for url, _, data in rows]

    def leases(self) -> dict[str, str]:
        return dict(self._read("SELECT url, leased_by FROM feeds WHERE leased_by IS NOT NULL "
                               f"AND leased_until > {DB_NOW}"))

    def shift_schedule(self, seconds: float) -> int:
        """Move nothing, return 0: the replicas share one schedule, and one host's wall
        clock stepping says nothing of the others' (nor of the database's, which the
        leases are timed by); each replica reads the schedule against its own clock."""
        return 0

    def _feed(self, url: str, data: str) -> FeedState:
        return read_feed_state(url, data, self.where)
