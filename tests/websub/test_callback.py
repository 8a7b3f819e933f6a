"""The callback hubs call (/websub/<id>): verification of intent and signed deliveries, through
the real ops server on 127.0.0.1 and a real SQLite store; a callback id the book does not
hold (another replica asked for it) is found in the store."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from dataclasses import replace

import httpx
import pytest

from ingest.daemon.http_server import OpsServer
from ingest.daemon.websub_jobs import callback_route
from ingest.models import Subscription
from ingest.state.sqlite import SqliteStore
from ingest.websub.book import SubscriptionBook
from ingest.websub.callback import Callback
from ingest.websub.signature import sign

NOW, LEASE, MAX_BODY = 1_000_000.0, 86400.0, 4096
TOPIC = "https://news.example/feed.xml"
SUB = Subscription(callback_id="cb-1_abc", feed_url=TOPIC, topic=TOPIC,
                   hub="https://hub.example/", secret="f00d" * 16, requested_at=NOW - 5)
FEED_XML = b"<rss><channel><item><link>https://news.example/1</link></item></channel></rss>"


class Hub:
    """A hub's side of the exchange: requests to a callback behind a real ops server."""

    def __init__(self, store: SqliteStore, *subs: Subscription) -> None:
        self.store = store
        for sub in subs:
            store.put_subscription(sub)
        self.book = SubscriptionBook(store)
        self.book.load()
        self.delivered: list[tuple[Subscription, bytes, str]] = []
        self.counts: Counter[str] = Counter()
        self.callback = Callback(self.book, lambda *args: self.delivered.append(args),
                                 lease=LEASE,
                                 count=lambda outcome: self.counts.update([outcome]),
                                 clock=lambda: NOW)

    def run(self, *requests: tuple) -> list[httpx.Response]:
        """Each ``(method, callback id, params or body, headers)`` in turn; their answers."""
        async def go() -> list[httpx.Response]:
            server = OpsServer("127.0.0.1", 0, {},
                               prefixes=callback_route(self.callback, MAX_BODY))
            await server.start()
            try:
                async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{server.port}") as c:
                    return [await c.request(method, f"/websub/{cid}", **_args(method, data, hdrs))
                            for method, cid, data, hdrs in requests]
            finally:
                await server.close()
        return asyncio.run(go())


def _args(method: str, data, headers) -> dict:
    if method == "GET":
        return {"params": data, "headers": headers or {}}
    return {"content": data, "headers": headers or {}}


def verify(mode: str = "subscribe", topic: str = TOPIC, **extra) -> dict:
    return {"hub.mode": mode, "hub.topic": topic, "hub.challenge": "ch4llenge", **extra}


def deliver(body: bytes = FEED_XML, secret: str = SUB.secret, **headers) -> dict:
    return {"Content-Type": "application/rss+xml", "X-Hub-Signature": sign(secret, body),
            **headers}


@pytest.fixture
def store(tmp_path):
    store = SqliteStore(tmp_path / "state.sqlite")
    yield store
    store.close()


def test_a_verification_is_echoed_and_makes_the_subscription_active_for_the_granted_lease(store):
    hub = Hub(store, SUB)
    [answer] = hub.run(("GET", SUB.callback_id, verify(**{"hub.lease_seconds": "4"}), None))
    assert (answer.status_code, answer.text) == (200, "ch4llenge")
    assert answer.headers["content-type"].startswith("text/plain")
    kept = store.subscription(SUB.callback_id)
    assert (kept.state, kept.lease_seconds, kept.expires_at) == ("active", 4.0, NOW + 4)
    assert hub.book.of_feed(TOPIC) == kept  # the renewal check reads memory


@pytest.mark.parametrize("cid, params", [
    ("cb-1_abc", verify(topic="https://news.example/other.xml")),  # another topic
    ("unknown-id", verify()),
    ("cb-1_abc;drop", verify()),  # not an id of ours: never looked up
    ("cb-1_abc", verify(mode="unsubscribe")),  # we are not unsubscribing it
    ("cb-1_abc", verify(mode="denied", topic="https://news.example/other.xml")),
])
def test_a_verification_for_an_unknown_id_or_topic_is_404_and_changes_nothing(store, cid,
                                                                                 params):
    hub = Hub(store, SUB)
    [answer] = hub.run(("GET", cid, params, None))
    assert answer.status_code == 404
    assert store.subscription(SUB.callback_id) == SUB


def test_a_denial_forgets_the_subscription(store, caplog):
    hub = Hub(store, SUB)
    [answer] = hub.run(("GET", SUB.callback_id,
                        verify(mode="denied", **{"hub.reason": "topic not allowed"}), None))
    assert answer.status_code == 200
    assert store.subscription(SUB.callback_id) is None and hub.book.of_feed(TOPIC) is None
    assert "topic not allowed" in caplog.text and SUB.secret not in caplog.text


def test_an_unsubscription_is_confirmed_only_for_one_we_are_ending(store):
    hub = Hub(store, replace(SUB, state="unsubscribing"))
    first, second = hub.run(("GET", SUB.callback_id, verify(mode="subscribe"), None),
                            ("GET", SUB.callback_id, verify(mode="unsubscribe"), None))
    assert first.status_code == 404  # not taken back by a stray subscribe verification
    assert (second.status_code, second.text) == (200, "ch4llenge")
    assert store.subscription(SUB.callback_id) is None


def test_a_signed_delivery_is_accepted_and_handed_over_once(store):
    hub = Hub(store, replace(SUB, state="active", expires_at=NOW + 100))
    [answer] = hub.run(("POST", SUB.callback_id, FEED_XML, deliver()))
    assert answer.status_code == 202
    assert [(s.callback_id, body, ctype) for s, body, ctype in hub.delivered] == [
        (SUB.callback_id, FEED_XML, "application/rss+xml")]
    assert hub.counts == {"accepted": 1}


@pytest.mark.parametrize("headers, status, outcome", [
    ({"Content-Type": "application/rss+xml"}, 403, "rejected"),  # unsigned
    (deliver(secret="not the secret"), 403, "rejected"),
    (deliver(body=b"another body"), 403, "rejected"),
    ({"X-Hub-Signature": "sha256=zz"}, 403, "rejected"),
])
def test_a_delivery_not_signed_with_the_secret_is_refused_and_not_handed_over(
        store, caplog, headers, status, outcome):
    hub = Hub(store, SUB)
    [answer] = hub.run(("POST", SUB.callback_id, FEED_XML, headers))
    assert answer.status_code == status
    assert hub.delivered == [] and hub.counts == {outcome: 1}
    assert "refused a delivery" in caplog.text and SUB.secret not in caplog.text


def test_a_delivery_for_an_unknown_id_is_404_and_one_too_large_413(store):
    hub = Hub(store, SUB)
    unknown, large = hub.run(("POST", "nobody", FEED_XML, deliver()),
                             ("POST", SUB.callback_id, b"x" * (MAX_BODY + 1),
                              deliver(body=b"x" * (MAX_BODY + 1))))
    assert (unknown.status_code, large.status_code) == (404, 413)
    assert hub.delivered == [] and hub.counts["unknown"] == 1


def test_a_renewal_waits_in_the_store_and_takes_the_old_ones_place_once_verified(store):
    old = replace(SUB, state="active", lease_seconds=LEASE, expires_at=NOW + 10)
    hub = Hub(store, old)
    new = replace(SUB, callback_id="cb-2_new", secret="beef" * 16)
    hub.book.requested(new, renewal=True)
    assert store.subscription(new.callback_id) == new  # any replica verifies it
    assert store.feed_subscription(TOPIC) == old  # the old one still receives
    before, verified, after = hub.run(
        ("POST", old.callback_id, FEED_XML, deliver()),
        ("GET", new.callback_id, verify(**{"hub.lease_seconds": "600"}), None),
        ("POST", old.callback_id, FEED_XML, deliver()))
    assert (before.status_code, verified.status_code, after.status_code) == (202, 200, 404)
    kept = store.feed_subscription(TOPIC)
    assert (kept.callback_id, kept.state, kept.expires_at) == ("cb-2_new", "active", NOW + 600)
    assert hub.book.renewal_of(TOPIC) is None


def test_a_replica_that_never_held_the_feeds_rows_verifies_and_deletes_the_others(store):
    hub = Hub(store)  # its book was read before another replica asked for these
    old = replace(SUB, state="active", lease_seconds=LEASE, expires_at=NOW + 10)
    new = replace(SUB, callback_id="cb-2_new", secret="beef" * 16, requested_at=NOW)
    for sub in (old, new):
        store.put_subscription(sub)
    verified, delivered = hub.run(
        ("GET", new.callback_id, verify(**{"hub.lease_seconds": "600"}), None),
        ("POST", new.callback_id, FEED_XML, deliver(secret=new.secret)))
    assert (verified.status_code, delivered.status_code) == (200, 202)
    [kept] = store.feed_subscriptions(TOPIC)
    assert (kept.callback_id, kept.state) == ("cb-2_new", "active")
    assert hub.book.of_feed(TOPIC) == kept and hub.counts == {"accepted": 1}


@pytest.mark.parametrize("mode", ["subscribe", "denied"])
def test_a_hub_s_credentials_are_not_logged(store, caplog, mode):
    caplog.set_level(logging.INFO, logger="ingest.websub")
    hub = Hub(store, replace(SUB, hub="https://ingest:hubpass@hub.example/?token=tok123"))
    [answer] = hub.run(("GET", SUB.callback_id, verify(mode=mode), None))
    assert answer.status_code == 200 and "hub.example" in caplog.text
    assert "hubpass" not in caplog.text and "tok123" not in caplog.text
