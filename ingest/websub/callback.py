"""The callback a WebSub hub calls: ``/websub/<callback id>`` on the ops server.

    GET   verification of intent   hub.mode=subscribe: 200 + hub.challenge when the id
                                   names a subscription (pending or active) of hub.topic;
                                   it becomes active for hub.lease_seconds. unsubscribe:
                                   200 + challenge only for one we are unsubscribing (then
                                   forgotten). denied: 200, forgotten, hub.reason logged.
                                   Unknown id or another topic: 404.
    POST  a delivery               202 when signed with the subscription's secret (the
                                   body is handed to ``on_delivery`` and worked after the
                                   reply); 403 unsigned or wrongly signed, 404 unknown id.

The ops server reads the request (a POST within its prefix route's cap, else 413/411,
counted as too_large, before this handler runs) and encodes the `Answer`. Everything in
a request is untrusted: the callback id is checked for its alphabet and length before a
store lookup, the lease is bounded, the reason a hub gives is cut before it is logged.
The secret is never logged.
"""

from __future__ import annotations

import logging
import string
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from ingest.models import Subscription
from ingest.redact import redact_url
from ingest.websub.book import SubscriptionBook
from ingest.websub.signature import signature_ok

log = logging.getLogger("ingest.websub")
PREFIX = "/websub/"
MAX_ID = 64  # characters; ours are 24 (secrets.token_urlsafe(18))
MAX_LEASE = 365 * 86400  # seconds: a longer grant is taken as this
MAX_REASON = 200  # characters of a denial's hub.reason logged
_ID_CHARS = frozenset(string.ascii_letters + string.digits + "-_")
OnDelivery = Callable[[Subscription, bytes, str], object]


class CallbackRequest(Protocol):
    """What the handler reads of a request (`ingest.daemon.http_server.Request`)."""

    @property
    def method(self) -> str: ...

    @property
    def path(self) -> str: ...

    @property
    def query(self) -> Mapping[str, str]: ...

    @property
    def headers(self) -> Mapping[str, str]: ...

    @property
    def body(self) -> bytes: ...


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    content_type: str = "text/plain; charset=utf-8"


NOT_FOUND = Answer(404, b"no such subscription\n")


class Callback:
    """``await callback(request)``: the answer to a hub's request to the callback URL.

    ``on_delivery(sub, body, content_type)`` is called once per accepted delivery and
    must not block (it starts the work); ``count(outcome)`` counts each delivery as
    accepted, rejected or unknown; ``lease``: seconds assumed when a hub's
    verification gives none."""

    def __init__(self, book: SubscriptionBook, on_delivery: OnDelivery, *, lease: float,
                 count: Callable[[str], object] = lambda outcome: None,
                 on_change: Callable[[], object] = lambda: None,
                 clock: Callable[[], float] = time.time) -> None:
        self._book = book
        self._on_delivery = on_delivery
        self._lease = lease
        self._count = count
        self._on_change = on_change  # a subscription changed state (the gauges)
        self._clock = clock

    async def __call__(self, request: CallbackRequest) -> Answer:
        if request.method not in ("GET", "POST"):
            return Answer(405, b"only GET and POST\n")
        callback_id = request.path[len(PREFIX):] if request.path.startswith(PREFIX) else ""
        sub = self._book.find(callback_id) if _is_callback_id(callback_id) else None
        if request.method == "GET":
            return self._verify(sub, request.query)
        return self._deliver(sub, request)

    def _verify(self, sub: Subscription | None, query: Mapping[str, str]) -> Answer:
        mode, challenge = query.get("hub.mode", ""), query.get("hub.challenge", "")
        if sub is None or query.get("hub.topic") != sub.topic:
            return NOT_FOUND
        if mode == "denied":
            reason = "".join(c for c in query.get("hub.reason", "")[:MAX_REASON]
                             if c.isprintable())
            log.warning("websub: %s: the hub %s denied the subscription (%s)", sub.feed_url,
                        redact_url(sub.hub), reason or "no reason given")
            self._book.forget(sub)
            self._on_change()
            return Answer(200, b"")
        if not challenge:
            return Answer(400, b"hub.challenge missing\n")
        if mode == "subscribe" and sub.state != "unsubscribing":
            lease = _lease(query.get("hub.lease_seconds"), self._lease)
            self._book.verified(sub, lease, self._clock())
            log.info("websub: %s: subscribed at %s for %ds", sub.feed_url, redact_url(sub.hub),
                     lease)
        elif mode == "unsubscribe" and sub.state == "unsubscribing":
            self._book.forget(sub)
            log.info("websub: %s: unsubscribed at %s", sub.feed_url, redact_url(sub.hub))
        else:
            return NOT_FOUND
        self._on_change()
        return Answer(200, challenge.encode())

    def _deliver(self, sub: Subscription | None, request: CallbackRequest) -> Answer:
        if sub is None:
            self._count("unknown")
            return NOT_FOUND
        signature = request.headers.get("x-hub-signature")
        if not signature_ok(signature, sub.secret, request.body):
            self._count("rejected")
            log.warning("websub: %s: refused a delivery (%s)", sub.feed_url,
                        "wrong signature" if signature else "unsigned")
            return Answer(403, b"not signed by the hub\n")
        self._count("accepted")
        self._on_delivery(sub, request.body, request.headers.get("content-type", ""))
        return Answer(202, b"")


def _is_callback_id(text: str) -> bool:
    return 0 < len(text) <= MAX_ID and _ID_CHARS.issuperset(text)


def _lease(value: str | None, default: float) -> float:
    """The lease a hub granted (whole seconds), bounded; ``default`` when it gave none."""
    value = (value or "").strip()
    if not (value.isascii() and value.isdigit()) or len(value) > 10 or int(value) == 0:
        return default
    return float(min(int(value), MAX_LEASE))
