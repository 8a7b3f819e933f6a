"""Asking hubs for subscriptions, and deciding when to ask.

After each poll the daemon asks `next_step` what the feed's subscription needs, given the
hub and topic the poll found (`ingest.websub.discovery`): a first subscription, a new
one (another hub or topic, a lease run out, a request never verified within
PENDING_TIMEOUT or refused), a renewal, an unsubscription (the feed names no hub any
more), or nothing. Once a second it asks `due_for_renewal` of each active subscription:
one is renewed when less than `renew_margin` of its lease remains.

`Subscriber` sends the requests: a form POST to the hub (``hub.mode``, ``hub.topic``,
``hub.callback``, ``hub.secret``, ``hub.lease_seconds``) through the fetch stage's client
(the private-network guard and timeouts apply, no redirect is followed). Each request
has a fresh callback id and secret, kept in the `SubscriptionBook` (and so in the store,
where every replica finds it) before the request leaves (a hub may verify before it
answers). Any 2xx is taken; anything else is logged
and asked again later. A request never names the secret in a log line.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable, Mapping
from typing import Protocol

from ingest.errors import FetchError
from ingest.models import Subscription
from ingest.redact import redact_url
from ingest.websub.book import SubscriptionBook
from ingest.websub.callback import PREFIX

log = logging.getLogger("ingest.websub")
PENDING_TIMEOUT = 600.0  # seconds a request may wait for its verification before a new one
MIN_MARGIN = 60.0  # seconds: the least left of a lease when it is renewed (leases above 2 min)


class FormPoster(Protocol):
    """`ingest.fetch.client.HttpClient.post_form`: the status of a form POST."""

    async def post_form(self, url: str, fields: Mapping[str, str]) -> int: ...


def renew_margin(lease: float) -> float:
    """Seconds before a lease of ``lease`` seconds ends at which it is renewed."""
    return min(max(0.1 * lease, MIN_MARGIN), lease / 2)


def renew_retry(lease: float) -> float:
    """Seconds between two renewals of one subscription whose hub has not verified."""
    return max(1.0, renew_margin(lease) / 4)


def due_for_renewal(sub: Subscription, now: float) -> bool:
    if sub.state != "active" or sub.expires_at is None or not sub.lease_seconds:
        return False
    return sub.expires_at - now < renew_margin(sub.lease_seconds)


def next_step(sub: Subscription | None, hub: str | None, topic: str, now: float) -> str | None:
    """What the feed's subscription ``sub`` needs after a poll that read ``hub`` and
    ``topic`` (hub None: the feed names none): "subscribe", "renew", "unsubscribe", None."""
    if hub is None:
        return "unsubscribe" if sub is not None and sub.state != "unsubscribing" else None
    if sub is None or sub.state == "unsubscribing" or (sub.hub, sub.topic) != (hub, topic):
        return "subscribe"
    if sub.state == "pending":
        return "subscribe" if now - sub.requested_at > PENDING_TIMEOUT else None
    if sub.expires_at is None or sub.expires_at <= now:
        return "subscribe"
    return "renew" if due_for_renewal(sub, now) else None


def callback_url(public_url: str, callback_id: str) -> str:
    return f"{public_url.rstrip('/')}{PREFIX}{callback_id}"


def request_form(sub: Subscription, mode: str, public_url: str,
                 lease: float) -> dict[str, str]:
    """The form a hub is sent to subscribe (or unsubscribe) ``sub``."""
    form = {"hub.mode": mode, "hub.topic": sub.topic,
            "hub.callback": callback_url(public_url, sub.callback_id)}
    if mode == "subscribe":
        form.update({"hub.secret": sub.secret, "hub.lease_seconds": str(int(lease))})
    return form


class Subscriber:
    def __init__(self, poster: FormPoster, book: SubscriptionBook, *, public_url: str,
                 lease: float, clock: Callable[[], float] = time.time) -> None:
        self._poster = poster
        self._book = book
        self._public_url = public_url
        self._lease = lease
        self._clock = clock

    async def subscribe(self, feed_url: str, hub: str, topic: str, *,
                        renewal: bool = False) -> bool:
        """Ask ``hub`` for a subscription of ``topic`` for the feed; True when it took the
        request (its verification follows)."""
        sub = Subscription(callback_id=secrets.token_urlsafe(18), feed_url=feed_url,
                           topic=topic, hub=hub, secret=secrets.token_hex(32),
                           requested_at=self._clock())
        self._book.requested(sub, renewal=renewal)
        what = "renewal" if renewal else "subscription"
        if await self._send(sub, "subscribe", what):
            return True
        self._book.refused(sub, renewal=renewal)
        return False

    async def unsubscribe(self, sub: Subscription) -> bool:
        """Ask the hub to end ``sub``; it is forgotten at once when the hub does not take
        the request (its lease ends on its own), else when the hub verifies."""
        leaving = self._book.unsubscribing(sub, self._clock())
        if await self._send(leaving, "unsubscribe", "unsubscription"):
            return True
        self._book.forget(leaving)
        return False

    async def _send(self, sub: Subscription, mode: str, what: str) -> bool:
        hub = redact_url(sub.hub)
        try:
            status = await self._poster.post_form(
                sub.hub, request_form(sub, mode, self._public_url, self._lease))
        except FetchError as exc:
            log.warning("websub: %s: %s request to %s failed: %s; asked again later",
                        sub.feed_url, what, hub, exc)
            return False
        if not 200 <= status < 300:
            log.warning("websub: %s: the hub %s answered HTTP %d to the %s request; asked "
                        "again later", sub.feed_url, hub, status, what)
            return False
        log.info("websub: %s: %s requested at %s (HTTP %d)", sub.feed_url, what, hub, status)
        return True
