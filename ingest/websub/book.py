"""The daemon's book of WebSub subscriptions: the store's rows, held in memory.

Every subscription request is a row in the store (`ingest.state.store.Store`), keyed by
its callback id, before it leaves: a renewal asks the hub for a new subscription (new
callback id, new secret) while the old one still receives the deliveries, so a feed has
two rows until the hub verifies the new one; verified, the feed's other rows are
deleted. With several replicas on one store, the hub's verification or delivery may
reach any of them: a callback id the book does not hold is looked up in the store
(`find`), and the daemon reloads the whole book every `REFRESH` seconds (`load`), so
that what other replicas asked or the hubs verified there is seen here too. Of the
replicas that find a subscription due for renewal, the one the store lets claim it
(`claim_renewal`) asks the hub.

A feed's current subscription is its active row with the latest lease end, else its
newest pending or unsubscribing one (the store's `feed_subscription` rule, `current`);
the once-a-second renewal check reads it from memory, not from the store. Store calls
are short and made in the event loop, as the daemon makes its other store calls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from typing import Protocol

from ingest.models import Subscription

REFRESH = 30.0  # seconds between two reloads of the book from the store


class SubscriptionStore(Protocol):
    """The subscription methods of `ingest.state.store.Store`."""

    def subscription(self, callback_id: str) -> Subscription | None: ...

    def feed_subscriptions(self, feed_url: str) -> list[Subscription]: ...

    def subscriptions(self) -> list[Subscription]: ...

    def put_subscription(self, sub: Subscription) -> None: ...

    def claim_renewal(self, callback_id: str, not_before: float, now: float) -> bool: ...

    def delete_subscription(self, callback_id: str) -> None: ...


def current(rows: Iterable[Subscription]) -> Subscription | None:
    """The feed's current subscription among its ``rows`` (see the module docstring)."""
    def rank(sub: Subscription) -> tuple[bool, float, str]:
        active = sub.state == "active"
        return (not active, -((sub.expires_at or 0.0) if active else sub.requested_at),
                sub.callback_id)
    return min(rows, key=rank, default=None)


class SubscriptionBook:
    def __init__(self, store: SubscriptionStore) -> None:
        self._store = store
        self._by_feed: dict[str, dict[str, Subscription]] = {}  # feed URL -> callback id -> row
        self._feed_of: dict[str, str] = {}  # callback id -> feed URL

    def load(self) -> None:
        """Hold the store's subscriptions (at start, then every REFRESH seconds)."""
        self._by_feed, self._feed_of = {}, {}
        for sub in self._store.subscriptions():
            self._hold(sub)

    def reread(self, feed_url: str) -> None:
        """Hold the store's rows of one feed (before a request is sent for it)."""
        for sub in list(self._by_feed.get(feed_url, {}).values()):
            self._release(sub)
        for sub in self._store.feed_subscriptions(feed_url):
            self._hold(sub)

    def __iter__(self) -> Iterator[Subscription]:
        """Every feed's current subscription (not the renewals waiting beside it)."""
        found = (current(rows.values()) for rows in list(self._by_feed.values()))
        return iter([sub for sub in found if sub is not None])

    def of_feed(self, feed_url: str) -> Subscription | None:
        return current(self._by_feed.get(feed_url, {}).values())

    def renewal_of(self, feed_url: str) -> Subscription | None:
        """The newest renewal of the feed's active subscription that waits for its hub."""
        kept = self.of_feed(feed_url)
        if kept is None or kept.state != "active":
            return None
        waiting = [s for s in self._by_feed[feed_url].values() if s.state == "pending"]
        return max(waiting, key=lambda s: (s.requested_at, s.callback_id), default=None)

    def find(self, callback_id: str) -> Subscription | None:
        """The subscription a hub names by ``callback_id``: held here, else the store's
        (asked by another replica), then held here."""
        feed_url = self._feed_of.get(callback_id)
        held = self._by_feed[feed_url][callback_id] if feed_url is not None else None
        if held is None:
            held = self._store.subscription(callback_id)
            if held is not None:
                self._hold(held)
        return held

    def requested(self, sub: Subscription, *, renewal: bool) -> None:
        """A subscription request is about to be sent: keep ``sub`` (pending) where its
        hub's verification will find it, on any replica. A first (not renewal) request
        takes the place of the feed's other rows."""
        self._keep(sub)
        if not renewal:
            self._drop_others(sub)

    def verified(self, sub: Subscription, lease: float, now: float) -> Subscription:
        """The hub verified ``sub``: active for ``lease`` seconds, the feed's only row."""
        active = dataclasses.replace(sub, state="active", lease_seconds=lease,
                                     expires_at=now + lease)
        self._keep(active)
        self._drop_others(active)
        return active

    def unsubscribing(self, sub: Subscription, now: float) -> Subscription:
        """An unsubscription request is about to be sent for ``sub`` (a renewal waiting
        beside it is dropped)."""
        leaving = dataclasses.replace(sub, state="unsubscribing", requested_at=now)
        self._keep(leaving)
        self._drop_others(leaving)
        return leaving

    def refused(self, sub: Subscription, *, renewal: bool) -> None:
        """The hub did not take the request for ``sub``: a renewal is dropped (the old
        subscription stays), a first request is kept as due again at the next poll."""
        if renewal:
            self.forget(sub)
            return
        kept = self._by_feed.get(sub.feed_url, {}).get(sub.callback_id)
        if kept is not None and kept.state == "pending":
            self._keep(dataclasses.replace(kept, requested_at=0.0))

    def claim_renewal(self, sub: Subscription, not_before: float, now: float) -> bool:
        """True when this replica is the one to renew ``sub`` now (the store's claim)."""
        if not self._store.claim_renewal(sub.callback_id, not_before, now):
            return False
        if sub.callback_id in self._by_feed.get(sub.feed_url, {}):
            self._hold(dataclasses.replace(sub, requested_at=now))
        return True

    def forget(self, sub: Subscription) -> None:
        """Drop ``sub`` (denied, unsubscribed, replaced, or its feed is gone)."""
        self._store.delete_subscription(sub.callback_id)
        self._release(sub)

    def _drop_others(self, sub: Subscription) -> None:
        """Delete the feed's rows other than ``sub``, here and in the store."""
        held = list(self._by_feed.get(sub.feed_url, {}).values())
        for other in {s.callback_id: s for s in self._store.feed_subscriptions(sub.feed_url)
                      + held}.values():
            if other.callback_id != sub.callback_id:
                self.forget(other)

    def _keep(self, sub: Subscription) -> None:
        self._store.put_subscription(sub)
        self._hold(sub)

    def _hold(self, sub: Subscription) -> None:
        self._by_feed.setdefault(sub.feed_url, {})[sub.callback_id] = sub
        self._feed_of[sub.callback_id] = sub.feed_url

    def _release(self, sub: Subscription) -> None:
        rows = self._by_feed.get(sub.feed_url, {})
        rows.pop(sub.callback_id, None)
        self._feed_of.pop(sub.callback_id, None)
        if not rows:
            self._by_feed.pop(sub.feed_url, None)
