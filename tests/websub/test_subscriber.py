"""Asking hubs: the form sent, when to (re)subscribe or renew, and no WebSub without public_url."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from types import SimpleNamespace
from urllib.parse import parse_qs

import httpx
import pytest

from helpers.pipeline_fakes import pipeline_config, public_resolver
from ingest.config.load import load_config
from ingest.config.model import HttpConfig, ServerConfig
from ingest.errors import ConfigError, PermanentFetchError
from ingest.fetch.client import HttpClient
from ingest.models import Subscription
from ingest.state.sqlite import SqliteStore
from ingest.websub.book import SubscriptionBook
from ingest.websub.subscriber import (
    PENDING_TIMEOUT,
    Subscriber,
    due_for_renewal,
    next_step,
    renew_margin,
)

NOW = 1_000_000.0
FEED, HUB, OTHER_HUB = "https://news.example/feed.xml", "https://hub.example/", "https://hub2.example/"
PUBLIC = "https://ingest.example:8443/ops/"
ACTIVE = Subscription(callback_id="cb", feed_url=FEED, topic=FEED, hub=HUB, secret="s" * 64,
                      state="active", lease_seconds=86400.0, expires_at=NOW + 40000,
                      requested_at=NOW - 46400)


class HubSite:
    """A hub behind httpx.MockTransport: every request kept, answered with ``status``."""

    def __init__(self, status: int = 202, headers=None) -> None:
        self.status, self.headers = status, headers or {}
        self.requests: list[httpx.Request] = []

    def answer(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return httpx.Response(self.status, headers=self.headers, content=b"queued")

    def forms(self) -> list[dict[str, str]]:
        return [{k: v[0] for k, v in parse_qs(r.content.decode()).items()} for r in self.requests]


def ask(tmp_path, site: HubSite, *steps, existing: Subscription | None = None):
    """Run ``steps`` (``(method name, kwargs)``) of a Subscriber over a real store; the
    store's subscription of FEED after them, and each step's answer."""
    store = SqliteStore(tmp_path / "state.sqlite")
    if existing is not None:
        store.put_subscription(existing)
    book = SubscriptionBook(store)
    book.load()

    async def go() -> list[bool]:
        async with HttpClient(HttpConfig(), transport=httpx.MockTransport(site.answer),
                              resolver=public_resolver) as http:
            subscriber = Subscriber(http, book, public_url=PUBLIC, lease=7 * 86400.0,
                                    clock=lambda: NOW)
            return [await getattr(subscriber, name)(**kwargs) for name, kwargs in steps]
    try:
        answers = asyncio.run(go())
        return store.feed_subscription(FEED), answers, book
    finally:
        store.close()


def test_a_subscription_request_is_the_contracts_form_with_a_fresh_id_and_secret(tmp_path):
    site = HubSite()
    sub, answers, _ = ask(tmp_path, site, ("subscribe", {"feed_url": FEED, "hub": HUB,
                                                          "topic": FEED}))
    assert answers == [True]
    [request] = site.requests
    assert (request.method, str(request.url)) == ("POST", HUB)
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert site.forms() == [{
        "hub.mode": "subscribe", "hub.topic": FEED,
        "hub.callback": f"https://ingest.example:8443/ops/websub/{sub.callback_id}",
        "hub.secret": sub.secret, "hub.lease_seconds": "604800"}]
    assert (sub.state, sub.requested_at, sub.hub) == ("pending", NOW, HUB)
    assert len(sub.callback_id) == 24 and len(sub.secret) == 64
    again, _, _ = ask(tmp_path, HubSite(), ("subscribe", {"feed_url": FEED, "hub": HUB,
                                                          "topic": FEED}))
    assert again.callback_id != sub.callback_id and again.secret != sub.secret


@pytest.mark.parametrize("status", [307, 400, 500])
def test_a_hub_that_does_not_take_the_request_is_asked_again_at_the_next_poll(tmp_path,
                                                                              caplog, status):
    site = HubSite(status, headers={"Location": "https://elsewhere.example/"})
    sub, answers, _ = ask(tmp_path, site, ("subscribe", {"feed_url": FEED, "hub": HUB,
                                                          "topic": FEED}))
    assert answers == [False] and len(site.requests) == 1  # no redirect followed
    assert next_step(sub, HUB, FEED, NOW + 1) == "subscribe"
    assert f"answered HTTP {status}" in caplog.text and sub.secret not in caplog.text


def test_a_refused_renewal_keeps_the_old_subscription(tmp_path):
    sub, answers, book = ask(tmp_path, HubSite(503), ("subscribe", {
        "feed_url": FEED, "hub": HUB, "topic": FEED, "renewal": True}), existing=ACTIVE)
    assert answers == [False] and sub == ACTIVE and book.renewal_of(FEED) is None
    store = SqliteStore(tmp_path / "state.sqlite")
    try:
        assert store.feed_subscriptions(FEED) == [ACTIVE]  # the renewal's row is gone
    finally:
        store.close()


def test_an_unsubscription_names_the_subscription_and_waits_for_its_verification(tmp_path):
    site = HubSite()
    sub, answers, _ = ask(tmp_path, site, ("unsubscribe", {"sub": ACTIVE}), existing=ACTIVE)
    assert answers == [True] and sub.state == "unsubscribing"
    assert site.forms() == [{"hub.mode": "unsubscribe", "hub.topic": FEED,
                             "hub.callback": "https://ingest.example:8443/ops/websub/cb"}]


def test_an_unsubscription_the_hub_refuses_is_forgotten_at_once(tmp_path):
    sub, answers, _ = ask(tmp_path, HubSite(500), ("unsubscribe", {"sub": ACTIVE}),
                          existing=ACTIVE)
    assert answers == [False] and sub is None  # its lease ends on its own


def test_a_hub_on_a_private_address_is_refused_by_the_guard():
    async def go() -> None:
        async with HttpClient(HttpConfig(), transport=httpx.MockTransport(HubSite().answer)) as http:
            await http.post_form("http://127.0.0.1:9/hub", {"hub.mode": "subscribe"})
    with pytest.raises(PermanentFetchError) as caught:
        asyncio.run(go())
    assert caught.value.kind == "private_address"


@pytest.mark.parametrize("lease, margin", [
    (4, 2),  # a 4 s lease is renewed 2 s before it ends
    (100, 50),
    (120, 60),
    (600, 60),
    (3600, 360),
    (7 * 86400, 60480),
])
def test_renewal_margin(lease, margin):
    assert renew_margin(lease) == margin
    sub = replace(ACTIVE, lease_seconds=float(lease), expires_at=NOW + lease)
    assert not due_for_renewal(sub, NOW + lease - margin - 0.01)
    assert due_for_renewal(sub, NOW + lease - margin + 0.01)


@pytest.mark.parametrize("sub, hub, topic, step", [
    (None, HUB, FEED, "subscribe"),
    (None, None, FEED, None),  # the feed names no hub
    (ACTIVE, HUB, FEED, None),
    (ACTIVE, OTHER_HUB, FEED, "subscribe"),  # the feed moved to another hub
    (ACTIVE, HUB, "https://news.example/self.xml", "subscribe"),  # another topic
    (ACTIVE, None, FEED, "unsubscribe"),  # the feed no longer names a hub
    (replace(ACTIVE, expires_at=NOW + 100), HUB, FEED, "renew"),
    (replace(ACTIVE, expires_at=NOW - 1), HUB, FEED, "subscribe"),  # the lease ran out
    (replace(ACTIVE, state="pending", requested_at=NOW - 10), HUB, FEED, None),
    (replace(ACTIVE, state="pending", requested_at=NOW - PENDING_TIMEOUT - 1), HUB, FEED,
     "subscribe"),  # never verified
    (replace(ACTIVE, state="unsubscribing"), HUB, FEED, "subscribe"),  # the feed came back
    (replace(ACTIVE, state="unsubscribing"), None, FEED, None),
])
def test_next_step_after_a_poll(sub, hub, topic, step):
    assert next_step(sub, hub, topic, NOW) == step


def test_without_public_url_or_a_server_there_is_no_websub_at_all(tmp_path):
    from ingest.daemon.websub_jobs import WebSubJobs

    def jobs(**server):
        cfg = pipeline_config(tmp_path, FEED, server=ServerConfig(**server))
        return WebSubJobs.when_on(cfg, SimpleNamespace(store=None, http=None), None,  # type: ignore[arg-type]
                                  dict)

    assert jobs() is None
    assert jobs(port=None, public_url="https://me.example") is None
    assert jobs(public_url="https://me.example") is not None


@pytest.mark.parametrize("server, problem", [
    ("port: 0\n  public_url: https://me.example/", "needs the ops server"),
    ("port: 8080\n  public_url: https://me.example/?k=v", "has a query or fragment"),
    ("port: 8080\n  public_url: https://me.example/#top", "has a query or fragment"),
    ("port: 8080\n  public_url: https://user:pw@me.example/", "has a user or password"),
    ("port: 8080\n  public_url: ftp://me.example/", "not an http(s) URL"),
])
def test_a_public_url_the_hubs_cannot_call_back_is_a_config_error(tmp_path, server, problem):
    path = tmp_path / "config.yaml"
    path.write_text(f"feeds:\n  - {{name: a, url: '{FEED}'}}\nserver:\n  {server}\n")
    with pytest.raises(ConfigError) as caught:
        load_config(path, env={})
    message = str(caught.value)
    assert message.startswith(f"{path}:") and "server.public_url" in message
    assert problem in message and "pw" not in message


def test_a_plain_public_url_with_a_port_loads(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text(f"feeds:\n  - {{name: a, url: '{FEED}'}}\nserver:\n  port: 8080\n"
                    "  public_url: https://me.example/ingest\n")
    assert load_config(path, env={}).server.public_url == "https://me.example/ingest"
