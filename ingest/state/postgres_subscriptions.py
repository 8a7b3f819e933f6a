"""The PostgreSQL store's WebSub subscriptions (ingest.websub), one per configured feed.

Every replica's ops server may be the one a hub calls back, so each finds a subscription
by its callback id here, whichever replica asked for it. A row is found by its feed or by
its callback id (both unique); putting a feed's subscription replaces the row before it
whatever its callback id. The secret that signs deliveries is kept here and nowhere
else; times are wall-clock epoch seconds.
"""

from __future__ import annotations

from ingest.models import Subscription
from ingest.state.postgres_base import PgBase, text

# in the order of Subscription's fields, so a row is Subscription(*row)
_COLUMNS = ("callback_id, feed_url, topic, hub, secret, state, lease_seconds, expires_at, "
            "requested_at")
_SELECT = f"SELECT {_COLUMNS} FROM subscriptions"


class SubscriptionRows(PgBase):
    def subscription(self, callback_id: str) -> Subscription | None:
        rows = self._read(f"{_SELECT} WHERE callback_id = %s", (text(callback_id),))
        return Subscription(*rows[0]) if rows else None

    def feed_subscription(self, feed_url: str) -> Subscription | None:
        rows = self._read(f"{_SELECT} WHERE feed_url = %s", (text(feed_url),))
        return Subscription(*rows[0]) if rows else None

    def subscriptions(self) -> list[Subscription]:
        return [Subscription(*row) for row in self._read(f"{_SELECT} ORDER BY feed_url")]

    def put_subscription(self, sub: Subscription) -> None:
        self._write(
            f"INSERT INTO subscriptions ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            "ON CONFLICT (feed_url) DO UPDATE SET callback_id = excluded.callback_id, "
            "topic = excluded.topic, hub = excluded.hub, secret = excluded.secret, "
            "state = excluded.state, lease_seconds = excluded.lease_seconds, "
            "expires_at = excluded.expires_at, requested_at = excluded.requested_at",
            (text(sub.callback_id), text(sub.feed_url), text(sub.topic), text(sub.hub),
             text(sub.secret), sub.state, sub.lease_seconds, sub.expires_at, sub.requested_at))

    def delete_subscription(self, callback_id: str) -> None:
        self._write("DELETE FROM subscriptions WHERE callback_id = %s", (text(callback_id),))
