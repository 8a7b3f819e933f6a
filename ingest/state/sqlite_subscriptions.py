"""The SQLite store's WebSub subscriptions (ingest.websub), by callback id.

A feed has one row, or two while a renewal waits for its hub's verification (the active
one still receives the deliveries). A row is found by its callback id (the hub calling
back: verification, deliveries) or by its feed (the poll that (re)subscribes; the order
that picks the feed's current row is `_FEED_ORDER`). The secret that signs deliveries is
kept here and nowhere else; times are wall-clock epoch seconds.
"""

from __future__ import annotations

from ingest.models import Subscription
from ingest.state.rows import FEED_SUBSCRIPTION_ORDER as _FEED_ORDER
from ingest.state.rows import SUBSCRIPTION_COLUMNS as _COLUMNS
from ingest.state.rows import SUBSCRIPTION_UPSERT as _UPSERT
from ingest.state.sqlite_base import SqliteBase

_SELECT = f"SELECT {_COLUMNS} FROM subscriptions"


class SubscriptionRows(SqliteBase):
    def subscription(self, callback_id: str) -> Subscription | None:
        rows = self._read(f"{_SELECT} WHERE callback_id = ?", (callback_id,))
        return Subscription(*rows[0]) if rows else None

    def feed_subscription(self, feed_url: str) -> Subscription | None:
        rows = self._read(f"{_SELECT} WHERE feed_url = ? ORDER BY {_FEED_ORDER} LIMIT 1",
                          (feed_url,))
        return Subscription(*rows[0]) if rows else None

    def feed_subscriptions(self, feed_url: str) -> list[Subscription]:
        rows = self._read(f"{_SELECT} WHERE feed_url = ? ORDER BY requested_at, callback_id",
                          (feed_url,))
        return [Subscription(*row) for row in rows]

    def subscriptions(self) -> list[Subscription]:
        rows = self._read(f"{_SELECT} ORDER BY feed_url, requested_at, callback_id")
        return [Subscription(*row) for row in rows]

    def put_subscription(self, sub: Subscription) -> None:
        self._write([(
            f"INSERT INTO subscriptions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) {_UPSERT}",
            [(sub.callback_id, sub.feed_url, sub.topic, sub.hub, sub.secret, sub.state,
              sub.lease_seconds, sub.expires_at, sub.requested_at)])])

    def claim_renewal(self, callback_id: str, not_before: float, now: float) -> bool:
        with self._writing("claiming a renewal in"):  # errors: StateError
            cur = self._db.execute("UPDATE subscriptions SET requested_at = ? "
                                   "WHERE callback_id = ? AND requested_at < ?",
                                   (now, callback_id, not_before))
        return cur.rowcount == 1

    def delete_subscription(self, callback_id: str) -> None:
        self._write([("DELETE FROM subscriptions WHERE callback_id = ?", [(callback_id,)])])
