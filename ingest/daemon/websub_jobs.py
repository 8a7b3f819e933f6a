"""WebSub in the daemon (`ingest.websub`), on when ``server.public_url`` is set.

    after each poll      `after_poll`: subscribe, renew or unsubscribe as the feed's links say
    every second         `renew_due`: renew the subscriptions near the end of their lease,
                         read from memory (the `SubscriptionBook`), not from the store; the
                         replica whose store claim wins asks the hub (`claim_renewal`)
    every 30 s           the book is read again from the store (`REFRESH`): what other
                         replicas subscribed, renewed or the hubs verified there
    /websub/<id>         the ops server's prefix route (`server_options`): the hub's verifications
                         and deliveries (`ingest.websub.callback`)
    each delivery        a task (`Deliveries`): `Pipeline.take_delivery` for its feed; one
                         at a time per feed; dropped when the feed left the config
    start, a reload      `removed`: unsubscribe the feeds no longer configured
    shutdown             `tasks.finish` (`ingest.daemon.websub_deliveries`): deliveries and
                         requests get the shutdown grace, then are cancelled (a delivery's
                         entries are read again by the next poll)

A feed with an active subscription is polled at ``schedule.max_interval`` (`pushed`, read
by the daemon's planner): the poll is the safety net of the push.
"""

from __future__ import annotations

import logging
import time
from collections import Counter
from collections.abc import Callable, Coroutine, Mapping
from typing import Any

from ingest.config.model import Config
from ingest.daemon.http_request import Request
from ingest.daemon.http_server import Handler, Reply
from ingest.daemon.metrics import Metrics
from ingest.daemon.websub_deliveries import Deliveries, Tasks
from ingest.errors import IngestError
from ingest.models import Feed, Subscription
from ingest.pipeline.orchestrator import Pipeline
from ingest.pipeline.outcomes import PollResult
from ingest.redact import redact_url
from ingest.websub.book import REFRESH, SubscriptionBook
from ingest.websub.callback import PREFIX, Callback
from ingest.websub.subscriber import (
    PENDING_TIMEOUT,
    Subscriber,
    due_for_renewal,
    next_step,
    renew_retry,
)

log = logging.getLogger("ingest.websub")
READ = ("new", "nothing_new")  # poll outcomes whose feed was read: its links are known
OUTCOMES = ("accepted", "rejected", "unknown", "too_large")
STATES = ("pending", "active", "unsubscribing")


class WebSubJobs:
    def __init__(self, cfg: Config, public_url: str, pipeline: Pipeline, metrics: Metrics,
                 feeds: Callable[[], Mapping[str, Feed]], *,
                 clock: Callable[[], float] = time.time) -> None:
        self._metrics = metrics
        self._feeds = feeds  # the configured feeds now, by URL (a reload changes them)
        self._clock = clock
        self._max_body = cfg.websub.max_delivery_bytes
        self.book = SubscriptionBook(pipeline.store)
        self.subscriber = Subscriber(pipeline.http, self.book, public_url=public_url,
                                     lease=cfg.websub.lease, clock=clock)
        self.tasks = Tasks()
        self.callback = Callback(self.book, Deliveries(pipeline, metrics, feeds, self.tasks),
                                 lease=cfg.websub.lease,
                                 count=lambda outcome: metrics.deliveries.labels(outcome).inc(),
                                 on_change=self._gauge, clock=clock)
        self._asking: set[str] = set()  # feeds with a request to their hub in flight
        self._renewed_at: dict[str, float] = {}  # feed URL -> last renewal claim asked
        self._loaded_at = 0.0  # when the book was last read from the store

    @classmethod
    def when_on(cls, cfg: Config, pipeline: Pipeline, metrics: Metrics,
                feeds: Callable[[], Mapping[str, Feed]], *,
                clock: Callable[[], float] = time.time) -> WebSubJobs | None:
        """The daemon's WebSub, or None without ``server.public_url`` (or server)."""
        if not cfg.server.public_url or not cfg.server.port:
            return None
        return cls(cfg, cfg.server.public_url, pipeline, metrics, feeds, clock=clock)

    def start(self) -> None:
        """Read the store's subscriptions; every series of the metrics from 0; unsubscribe
        the feeds no longer configured."""
        self._load()
        for outcome in OUTCOMES:
            self._metrics.deliveries.labels(outcome)
        self._gauge()
        # feeds that left the config while the daemon was down
        self.removed({sub.feed_url for sub in self.book} - self._feeds().keys())

    def server_options(self) -> dict[str, Any]:
        """The `OpsServer` keywords of WebSub: the prefix route of the callback URLs, and
        the count of deliveries the server refuses before the callback sees them."""
        return {"prefixes": callback_route(self.callback, self._max_body),
                "on_refused": self.refused}

    def refused(self, prefix: str, status: int) -> None:
        """The ops server refused a delivery's body before the callback saw it."""
        if status == 413:
            self._metrics.deliveries.labels("too_large").inc()

    def pushed(self, url: str) -> bool:
        """True while the feed has a verified subscription whose lease runs."""
        sub = self.book.of_feed(url)
        return (sub is not None and sub.state == "active"
                and (sub.expires_at or 0.0) > self._clock())

    # -- subscription requests -----------------------------------------------------------
    def after_poll(self, feed: Feed, result: PollResult) -> None:
        """Ask the hub what the feed's subscription needs now that it was polled."""
        url = feed.url
        if self.tasks.stopping or url in self._asking or url not in self._feeds():
            return
        sub, hub, topic, step = self._next_step(url, result)
        if step in ("subscribe", "unsubscribe"):  # before asking: as the store has it now
            try:  # (another replica may have asked or been verified since the last REFRESH)
                self.book.reread(url)
            except IngestError as exc:
                log.error("websub: %s: %s", url, exc)
                return
            sub, hub, topic, step = self._next_step(url, result)
        if step == "renew" or (step == "subscribe" and self.book.renewal_of(url)):
            return  # renew_due's, each second
        if step == "unsubscribe" and sub is not None:
            self._ask(url, self.subscriber.unsubscribe(sub))
        elif step == "subscribe" and hub is not None:
            self._ask(url, self.subscriber.subscribe(url, hub, topic))

    def _next_step(self, url: str, result: PollResult) -> tuple[Subscription | None, str | None,
                                                                 str, str | None]:
        """The feed's subscription, the hub and topic it should have, and `next_step`."""
        sub = self.book.of_feed(url)
        if result.outcome in READ:
            hub, topic = result.hub, result.topic or url
        elif sub is not None:  # not read (304, same bytes, failed): as last known
            hub, topic = sub.hub, sub.topic
        else:
            return None, None, url, None
        return sub, hub, topic, next_step(sub, hub, topic, self._clock())

    def renew_due(self) -> None:
        """Renew the subscriptions near their lease's end (at most once per renew_retry
        while the hub has not verified, by the replica that claims it); forget
        unsubscriptions never verified; read the book again every REFRESH seconds."""
        now, feeds = self._clock(), self._feeds()
        try:
            if not 0.0 <= now - self._loaded_at < REFRESH:
                self._load()
            for sub in self.book:
                if sub.state == "unsubscribing" and now - sub.requested_at > PENDING_TIMEOUT:
                    self.book.forget(sub)
                    self._gauge()
                elif (not self.tasks.stopping and due_for_renewal(sub, now)
                      and sub.feed_url in feeds and sub.feed_url not in self._asking):
                    self._renew(sub, now)
        except IngestError as exc:  # the store's: checked again in a second
            log.error("websub: renewals not checked: %s", exc)

    def _renew(self, sub: Subscription, now: float) -> None:
        retry = renew_retry(sub.lease_seconds or 0.0)
        if now - self._renewed_at.get(sub.feed_url, 0.0) < retry:
            return
        self._renewed_at[sub.feed_url] = now
        if not self.book.claim_renewal(sub, now - retry, now):
            return  # another replica renews it (or did, less than retry ago)
        waiting = self.book.renewal_of(sub.feed_url)
        if waiting is not None:  # never verified: a fresh request in its place
            self.book.forget(waiting)
        self._ask(sub.feed_url, self.subscriber.subscribe(sub.feed_url, sub.hub, sub.topic,
                                                          renewal=True))

    def removed(self, urls: set[str]) -> None:
        """Unsubscribe the feeds a reload removed."""
        for url in sorted(urls):
            sub = self.book.of_feed(url)
            if sub is not None and sub.state != "unsubscribing" and url not in self._asking:
                self._ask(url, self.subscriber.unsubscribe(sub))

    def _load(self) -> None:
        self.book.load()
        self._loaded_at = self._clock()
        self._gauge()

    def _ask(self, url: str, request: Coroutine[Any, Any, bool]) -> None:
        self._asking.add(url)

        async def asking() -> None:
            try:
                await request
            except IngestError as exc:  # the store's
                log.error("websub: %s: %s", url, exc)
            finally:
                self._asking.discard(url)
                self._gauge()
        self.tasks.track(asking())

    # -- operations ----------------------------------------------------------------------
    def status(self) -> dict[str, dict]:
        """Per feed URL with a subscription: its state, hub and lease end (never its
        secret or callback id)."""
        return {sub.feed_url: {"state": sub.state, "hub": redact_url(sub.hub),
                               "expires_at": sub.expires_at} for sub in self.book}

    def _gauge(self) -> None:
        counts = Counter(sub.state for sub in self.book)
        for state in STATES:
            self._metrics.subscriptions.labels(state).set(counts[state])


def callback_route(callback: Callback, max_body: int) -> dict[str, tuple[Handler, int]]:
    """``{"/websub/": (handler, max_body)}``: the callback as an `OpsServer` prefix route."""
    async def handle(request: Request) -> Reply:
        answer = await callback(request)
        return Reply(answer.status, answer.body, answer.content_type)
    return {PREFIX: (handle, max_body)}
