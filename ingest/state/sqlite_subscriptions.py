"""The SQLite store's WebSub subscriptions (ingest.websub), one per configured feed.

A row is found by its feed (the poll that (re)subscribes) or by its callback id (the hub
calling back: verification, deliveries); both are unique. Putting a feed's subscription
replaces the row before it whatever its callback id, so a renewal's fresh id takes the
old one's place. The secret that signs deliveries is kept here and nowhere else; times
are wall-clock epoch seconds.
"""

from __future__ import annotations

from ingest.models import Subscription
from ingest.state.sqlite_base import SqliteBase

# in the order of Subscription's fields, so a row is Subscription(*row)
_COLUMNS = ("callback_id, feed_url, topic, hub, secret, state, lease_seconds, expires_at, "
            "requested_at")
_SELECT = f"SELECT {_COLUMNS} FROM subscriptions"


class SubscriptionRows(SqliteBase):
    def subscription(self, callback_id: str) -> Subscription | None:
        rows = self._read(f"{_SELECT} WHERE callback_id = ?", (callback_id,))
        return Subscription(*rows[0]) if rows else None

    def feed_subscription(self, feed_url: str) -> Subscription | None:
        rows = self._read(f"{_SELECT} WHERE feed_url = ?", (feed_url,))
        return Subscription(*rows[0]) if rows else None

    def subscriptions(self) -> list[Subscription]:
        return [Subscription(*row) for row in self._read(f"{_SELECT} ORDER BY feed_url")]

    def put_subscription(self, sub: Subscription) -> None:
        self._write([(
            f"INSERT INTO subscriptions ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
            "ON CONFLICT (feed_url) DO UPDATE SET callback_id = excluded.callback_id, "
            "topic = excluded.topic, hub = excluded.hub, secret = excluded.secret, "
            "state = excluded.state, lease_seconds = excluded.lease_seconds, "
            "expires_at = excluded.expires_at, requested_at = excluded.requested_at",
            [(sub.callback_id, sub.feed_url, sub.topic, sub.hub, sub.secret, sub.state,
              sub.lease_seconds, sub.expires_at, sub.requested_at)])])

    def delete_subscription(self, callback_id: str) -> None:
        self._write([("DELETE FROM subscriptions WHERE callback_id = ?", [(callback_id,)])])
