"""The daemon's book of WebSub subscriptions: the store's, plus what only memory holds.

The store keeps one subscription per feed (`ingest.state.store.Store`). A renewal asks the
hub for a new subscription (new callback id, new secret) while the old one still receives
the deliveries, so until the hub verifies it the new one is kept here, in memory, under
its callback id; verified, it takes the old one's place in the store. A renewal lost to a
restart costs nothing: the old subscription is still there, and still due for renewal.

Every feed's subscription is also kept in memory, so that the once-a-second renewal
check reads no store. Store calls are short and made in the event loop, as the daemon
makes its other store calls.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from typing import Protocol

from ingest.models import Subscription


class SubscriptionStore(Protocol):
    """The subscription methods of `ingest.state.store.Store`."""

    def subscription(self, callback_id: str) -> Subscription | None: ...

    def subscriptions(self) -> list[Subscription]: ...

    def put_subscription(self, sub: Subscription) -> None: ...

    def delete_subscription(self, callback_id: str) -> None: ...


class SubscriptionBook:
    def __init__(self, store: SubscriptionStore) -> None:
        self._store = store
        self._by_feed: dict[str, Subscription] = {}  # the store's, by feed URL
        self._renewals: dict[str, Subscription] = {}  # callback id -> waiting for the hub

    def load(self) -> None:
        """Read the store's subscriptions (at start)."""
        self._by_feed = {sub.feed_url: sub for sub in self._store.subscriptions()}

    def __iter__(self) -> Iterator[Subscription]:
        """Every feed's subscription (not the renewals waiting)."""
        return iter(list(self._by_feed.values()))

    def of_feed(self, feed_url: str) -> Subscription | None:
        return self._by_feed.get(feed_url)

    def renewal_of(self, feed_url: str) -> Subscription | None:
        """The renewal of the feed's subscription that waits for its hub, if any."""
        return next((s for s in self._renewals.values() if s.feed_url == feed_url), None)

    def find(self, callback_id: str) -> Subscription | None:
        """The subscription a hub names by ``callback_id``: a renewal, or the store's."""
        return self._renewals.get(callback_id) or self._store.subscription(callback_id)

    def requested(self, sub: Subscription, *, renewal: bool) -> None:
        """A subscription request is about to be sent: keep ``sub`` (pending) where its
        hub's verification will find it."""
        if renewal:
            self._renewals[sub.callback_id] = sub
        else:
            self._keep(sub)

    def verified(self, sub: Subscription, lease: float, now: float) -> Subscription:
        """The hub verified ``sub``: active for ``lease`` seconds, in its feed's place."""
        active = dataclasses.replace(sub, state="active", lease_seconds=lease,
                                     expires_at=now + lease)
        self._keep(active)
        self._renewals.pop(sub.callback_id, None)
        return active

    def unsubscribing(self, sub: Subscription, now: float) -> Subscription:
        """An unsubscription request is about to be sent for ``sub``."""
        leaving = dataclasses.replace(sub, state="unsubscribing", requested_at=now)
        self._keep(leaving)
        return leaving

    def refused(self, sub: Subscription) -> None:
        """The hub did not take the request for ``sub``: a renewal is dropped (the old
        subscription stays), a first request is kept as due again at the next poll."""
        if self._renewals.pop(sub.callback_id, None) is None and self._is_kept(sub):
            self._keep(dataclasses.replace(sub, requested_at=0.0))

    def forget(self, sub: Subscription) -> None:
        """Drop ``sub`` wherever it is kept (denied, unsubscribed, or its feed is gone)."""
        if self._renewals.pop(sub.callback_id, None) is not None:
            return
        self._store.delete_subscription(sub.callback_id)
        if self._is_kept(sub):
            del self._by_feed[sub.feed_url]

    def _is_kept(self, sub: Subscription) -> bool:
        kept = self._by_feed.get(sub.feed_url)
        return kept is not None and kept.callback_id == sub.callback_id

    def _keep(self, sub: Subscription) -> None:
        self._store.put_subscription(sub)
        self._by_feed[sub.feed_url] = sub
