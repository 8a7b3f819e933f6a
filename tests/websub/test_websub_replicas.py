"""WebSub on two replicas behind one public URL, over one real PostgreSQL: each replica has
its own pipeline (the site and hub behind httpx.MockTransport), its own `WebSubJobs` and
its own ops server on 127.0.0.1; the "hub" calls back whichever replica it likes.

One run: replica A polls the feed and subscribes; B, polling it next, finds A's request in
the store and asks nothing; the hub's verification reaches B and
succeeds (B reads the store on a miss); a signed delivery to B is accepted, and the same
delivery to A too, yet its entry is written once; once both books were read again, both
find the lease near its end and exactly one replica asks the hub for the renewal; the
renewal's verification reaches the other replica and succeeds, and the feed's old
subscription is gone from the store and from that replica's book.
"""

from __future__ import annotations

import asyncio
import contextlib
from urllib.parse import urlsplit

import httpx

from helpers.newssite import Item, rss
from helpers.pipeline_fakes import (
    SITE,
    InlineWorkers,
    MemorySink,
    pipeline_config,
    public_resolver,
)
from helpers.websubfakes import HUB, RSS, Clock, HubAndSite, until
from ingest.config.model import ServerConfig
from ingest.daemon.http_server import OpsServer
from ingest.daemon.metrics import Metrics
from ingest.daemon.websub_jobs import WebSubJobs
from ingest.fetch.client import HttpClient
from ingest.pipeline.orchestrator import Pipeline
from ingest.state.postgres import PostgresStore
from ingest.websub.book import REFRESH
from ingest.websub.signature import sign

LEASE = 100  # seconds the hub grants: renewed when less than 50 s remain


class Replica:
    """One replica: its store connection, pipeline, WebSub jobs and ops server."""

    def __init__(self, name: str, cfg, url: str, http: HttpClient, sink: MemorySink,
                 clock: Clock) -> None:
        self.store = PostgresStore(url, replica=name, clock=clock)
        pipeline = Pipeline(cfg, self.store, http, InlineWorkers(), sink, clock=clock)
        feeds = {feed.url: feed for feed in cfg.feeds}
        self.jobs = WebSubJobs(cfg, cfg.server.public_url, pipeline, Metrics(), lambda: feeds,
                               clock=clock)
        self.pipeline = pipeline
        self.server = OpsServer("127.0.0.1", 0, {}, **self.jobs.server_options())

    async def idle(self) -> None:
        """Until its deliveries and hub requests are done."""
        await until(lambda: not self.jobs.tasks)


def test_any_replica_verifies_and_takes_deliveries_and_one_renews(tmp_path, postgres_url):
    site, clock, sink = HubAndSite(), Clock(), MemorySink()
    first, second, third = (Item(f"Notizia {i}", site.article(f"/a{i}", i)) for i in (1, 2, 3))
    site.add("/feed.xml", rss([first]), headers={"Content-Type": RSS,
                                                 "Link": f'<{HUB}>; rel="hub"'})
    cfg = pipeline_config(tmp_path, SITE + "/feed.xml",  # behind a balancer: one public URL
                          server=ServerConfig(port=8080, public_url="https://ingest.example/"))
    feed = cfg.feeds[0]

    async def scenario() -> None:
        async with HttpClient(cfg.http, transport=httpx.MockTransport(site.answer),
                              resolver=public_resolver) as http, \
                contextlib.AsyncExitStack() as stack:
            a, b = (Replica(name, cfg, postgres_url, http, sink, clock) for name in "ab")
            for replica in (a, b):
                stack.callback(replica.store.close)
                replica.jobs.start()
                await replica.server.start()
                stack.push_async_callback(replica.server.close)
                stack.push_async_callback(replica.jobs.tasks.finish, 1.0)
            await life(a, b)

    async def call(replica: Replica, form: dict, *, lease: int | None = None,
                   body: bytes | None = None) -> httpx.Response:
        """The hub's verification (``lease``) or delivery (``body``) of ``form``'s
        subscription, sent to ``replica``."""
        path = urlsplit(form["hub.callback"]).path
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{replica.server.port}") as c:
            if body is None:
                return await c.get(path, params={
                    "hub.mode": "subscribe", "hub.topic": form["hub.topic"],
                    "hub.challenge": "c-123", "hub.lease_seconds": str(lease)})
            return await c.post(path, content=body, headers={
                "Content-Type": RSS, "X-Hub-Signature": sign(form["hub.secret"], body)})

    async def life(a: Replica, b: Replica) -> None:
        a.jobs.after_poll(feed, await a.pipeline.poll_feed(feed))
        await until(lambda: site.forms)
        [asked] = site.forms
        assert asked["hub.callback"].startswith("https://ingest.example/websub/")
        site.add("/feed.xml", rss([first, third]), headers={"Content-Type": RSS,
                                                            "Link": f'<{HUB}>; rel="hub"'})
        b.jobs.after_poll(feed, await b.pipeline.poll_feed(feed))  # B's book: read before
        await b.idle()
        assert len(site.forms) == 1  # B found A's request in the store: not asked twice
        answer = await call(b, asked, lease=LEASE)  # B never saw this callback id
        assert (answer.status_code, answer.text) == (200, "c-123")
        assert b.store.feed_subscription(feed.url).state == "active"

        delivery = rss([first, second])
        assert (await call(b, asked, body=delivery)).status_code == 202
        await b.idle()
        assert (await call(a, asked, body=delivery)).status_code == 202  # A: its own request
        await a.idle()
        assert [r["url"] for r in sink.records] == [SITE + f"/a{i}" for i in (1, 3, 2)]  # once

        clock.now += max(REFRESH, LEASE / 2) + 1  # both books read again; renewal due
        a.jobs.renew_due()
        b.jobs.renew_due()
        await a.idle()
        await b.idle()
        assert a.jobs.pushed(feed.url) and b.jobs.pushed(feed.url)  # the books follow
        assert len(site.forms) == 2  # one renewal, from one replica
        renewal = site.forms[1]
        assert (renewal["hub.mode"], renewal["hub.topic"]) == ("subscribe", feed.url)
        assert renewal["hub.callback"] != asked["hub.callback"]
        clock.now += 2  # the hub takes its time: still nobody asks again
        a.jobs.renew_due()
        b.jobs.renew_due()
        await a.idle()
        await b.idle()
        assert len(site.forms) == 2

        waiting = a.store.subscription(urlsplit(renewal["hub.callback"]).path.rsplit("/")[-1])
        asker, other = (a, b) if a.jobs.book.renewal_of(feed.url) == waiting else (b, a)
        assert asker.jobs.book.renewal_of(feed.url) == waiting
        assert other.jobs.book.renewal_of(feed.url) is None  # asked by the asker only
        answer = await call(other, renewal, lease=LEASE)
        assert (answer.status_code, answer.text) == (200, "c-123")
        [kept] = a.store.feed_subscriptions(feed.url)  # the old one deleted
        assert (kept.callback_id, kept.state) == (waiting.callback_id, "active")
        assert (await call(other, asked, body=delivery)).status_code == 404
        assert (await call(other, renewal, body=rss([first]))).status_code == 202

    asyncio.run(scenario())
