"""The PostgreSQL store's WebSub subscriptions (ingest.websub), by callback id.

Every replica's ops server may be the one a hub calls back, so each finds a subscription
by its callback id here, whichever replica asked for it; a renewal waiting for its hub
is a row too (a feed has two rows until it is verified). Of several replicas that find
the same subscription due for renewal, `claim_renewal` lets one ask the hub (one UPDATE:
a second replica's waits for the first's row lock, then finds ``requested_at`` moved).
Rows and their order are the SQLite store's (`ingest.state.sqlite_subscriptions`). The
secret that signs deliveries is kept here and nowhere else; times are wall-clock epoch
seconds.
"""

from __future__ import annotations

from ingest.models import Subscription
from ingest.state.postgres_base import PgBase, text
from ingest.state.rows import FEED_SUBSCRIPTION_ORDER as _FEED_ORDER
from ingest.state.rows import SUBSCRIPTION_COLUMNS as _COLUMNS
from ingest.state.rows import SUBSCRIPTION_UPSERT as _UPSERT

_SELECT = f"SELECT {_COLUMNS} FROM subscriptions"


class SubscriptionRows(PgBase):
    def subscription(self, callback_id: str) -> Subscription | None:
        rows = self._read(f"{_SELECT} WHERE callback_id = %s", (text(callback_id),))
        return Subscription(*rows[0]) if rows else None

    def feed_subscription(self, feed_url: str) -> Subscription | None:
        rows = self._read(f"{_SELECT} WHERE feed_url = %s ORDER BY {_FEED_ORDER} LIMIT 1",
                          (text(feed_url),))
        return Subscription(*rows[0]) if rows else None

    def feed_subscriptions(self, feed_url: str) -> list[Subscription]:
        rows = self._read(f"{_SELECT} WHERE feed_url = %s ORDER BY requested_at, callback_id",
                          (text(feed_url),))
        return [Subscription(*row) for row in rows]

    def subscriptions(self) -> list[Subscription]:
        rows = self._read(f"{_SELECT} ORDER BY feed_url, requested_at, callback_id")
        return [Subscription(*row) for row in rows]

    def put_subscription(self, sub: Subscription) -> None:
        self._write(
            f"INSERT INTO subscriptions ({_COLUMNS}) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s) "
            f"{_UPSERT}",
            (text(sub.callback_id), text(sub.feed_url), text(sub.topic), text(sub.hub),
             text(sub.secret), sub.state, sub.lease_seconds, sub.expires_at, sub.requested_at))

    def claim_renewal(self, callback_id: str, not_before: float, now: float) -> bool:
        changed, _ = self._write("UPDATE subscriptions SET requested_at = %s "
                                 "WHERE callback_id = %s AND requested_at < %s",
                                 (now, text(callback_id), not_before),
                                 what="claim a renewal in")
        return changed == 1

    def delete_subscription(self, callback_id: str) -> None:
        self._write("DELETE FROM subscriptions WHERE callback_id = %s", (text(callback_id),))
