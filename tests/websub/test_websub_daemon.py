"""WebSub in the daemon, in-process: a real pipeline (the site and hub behind
httpx.MockTransport), the real ops server on 127.0.0.1 and a frozen clock.

One run walks the whole life of a subscription: the poll finds the hub and subscribes, the
hub verifies, a signed delivery is written, /status and /metrics show it, the lease is
renewed near its end, the pushed feed is then polled at max_interval, and a delivery for a
feed no longer configured is acknowledged and dropped; a subscription whose feed left the
config while the daemon was down is ended at start.
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
from urllib.parse import urlsplit

import httpx

from helpers.daemonrun import free_port
from helpers.newssite import Item, rss
from helpers.pipeline_fakes import SITE, InlineWorkers, MemorySink, pipeline_config, public_resolver
from helpers.websubfakes import HUB, RSS, Clock, HubAndSite, until
from ingest.config.model import ScheduleConfig, ServerConfig
from ingest.daemon.service import Daemon
from ingest.fetch.client import HttpClient
from ingest.models import Subscription
from ingest.pipeline.orchestrator import Pipeline
from ingest.state.sqlite import SqliteStore
from ingest.websub.signature import sign

MAX_INTERVAL = 3600.0


def test_a_feed_with_a_hub_is_subscribed_pushed_renewed_and_polled_as_a_safety_net(tmp_path,
                                                                                  caplog):
    caplog.set_level(logging.INFO, logger="ingest.websub")
    site, clock, port = HubAndSite(), Clock(), free_port()
    first, second, third = (Item(f"Notizia {i}", site.article(f"/a{i}", i)) for i in (1, 2, 3))
    site.add("/feed.xml", rss([first]), headers={"Content-Type": RSS,
                                                 "Link": f'<{HUB}>; rel="hub"'})
    cfg = pipeline_config(
        tmp_path, SITE + "/feed.xml",
        server=ServerConfig(port=port, public_url=f"http://127.0.0.1:{port}/"),
        schedule=ScheduleConfig(interval=60, min_interval=60, max_interval=MAX_INTERVAL))
    feed, sink, store = cfg.feeds[0], MemorySink(), SqliteStore(cfg.state.path, clock=clock)
    gone = SITE + "/gone.xml"  # subscribed before the daemon stopped, then left the config
    store.put_subscription(Subscription("gone-cb", gone, gone, HUB, "ab" * 32, "active", 86400,
                                        clock.now + 86400))

    async def scenario() -> None:
        async with HttpClient(cfg.http, transport=httpx.MockTransport(site.answer),
                              resolver=public_resolver) as http, \
                httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as hub:
            daemon = Daemon(cfg, Pipeline(cfg, store, http, InlineWorkers(), sink, clock=clock),
                            clock=clock, rng=random.Random(4))
            await daemon.start()
            try:
                await life(daemon, hub)
            finally:
                await daemon.stop()

    async def verify(hub: httpx.AsyncClient, form: dict, lease: int) -> httpx.Response:
        return await hub.get(urlsplit(form["hub.callback"]).path, params={
            "hub.mode": "subscribe", "hub.topic": form["hub.topic"],
            "hub.challenge": "c-123", "hub.lease_seconds": str(lease)})

    async def deliver(hub: httpx.AsyncClient, form: dict, body: bytes) -> httpx.Response:
        return await hub.post(urlsplit(form["hub.callback"]).path, content=body, headers={
            "Content-Type": RSS, "X-Hub-Signature": sign(form["hub.secret"], body)})

    async def life(daemon: Daemon, hub: httpx.AsyncClient) -> None:
        await until(lambda: site.forms)  # at start: the feed no longer configured
        assert [(f["hub.mode"], f["hub.topic"]) for f in site.forms] == [("unsubscribe", gone)]
        site.forms.clear()
        clock.now += 300  # past the first poll's slot
        daemon.dispatch()
        await until(lambda: site.forms and len(sink.records) == 1)
        [asked] = site.forms
        assert (asked["hub.mode"], asked["hub.topic"]) == ("subscribe", feed.url)
        assert asked["hub.callback"].startswith(f"http://127.0.0.1:{port}/websub/")
        answer = await verify(hub, asked, lease=4)
        assert (answer.status_code, answer.text) == (200, "c-123")

        answer = await deliver(hub, asked, rss([first, second]))
        assert answer.status_code == 202
        await until(lambda: len(sink.records) == 2)
        assert sink.records[1]["url"] == SITE + "/a2"
        [row] = daemon.status()
        assert row["websub"] == {"state": "active", "hub": HUB, "expires_at": clock.now + 4}
        shown = json.dumps(daemon.status()) + daemon.metrics.render().decode()
        assert asked["hub.secret"] not in shown and asked["hub.callback"] not in shown
        assert 'ingest_websub_deliveries_total{outcome="accepted"} 1.0' in shown
        reader, writer = await asyncio.open_connection("127.0.0.1", port)  # the head alone
        writer.write(f"POST {urlsplit(asked['hub.callback']).path} HTTP/1.1\r\nHost: x\r\n"
                     f"Content-Length: {cfg.websub.max_delivery_bytes + 1}\r\n\r\n".encode())
        assert (await reader.readline()).startswith(b"HTTP/1.1 413")  # before the callback
        writer.close()
        assert ('ingest_websub_deliveries_total{outcome="too_large"} 1.0'
                in daemon.metrics.render().decode())
        assert 'ingest_websub_subscriptions{state="active"} 1.0' in shown

        clock.now += 2.5  # 1.5 s of the 4 s lease left: renewed (margin 2 s)
        daemon._websub.renew_due()
        await until(lambda: len(site.forms) == 2)
        renewal = site.forms[1]
        assert renewal["hub.callback"] != asked["hub.callback"]
        assert renewal["hub.secret"] != asked["hub.secret"]
        old_still = await deliver(hub, asked, rss([first, second, third]))
        assert old_still.status_code == 202  # the old one serves until the new one verifies
        assert (await verify(hub, renewal, lease=86400)).status_code == 200
        assert (await deliver(hub, asked, b"<rss/>")).status_code == 404
        await until(lambda: len(sink.records) == 3)

        clock.now = store.get_feed(feed.url).next_poll_at + 1
        polled = clock.now
        daemon.dispatch()
        await until(lambda: store.get_feed(feed.url).last_poll_at == polled
                    and not len(daemon._polls))
        wait = store.get_feed(feed.url).next_poll_at - polled
        assert 0.9 * MAX_INTERVAL <= wait <= MAX_INTERVAL  # pushed: polled as a safety net

        daemon._feeds = {}  # as a reload that removed it
        answer = await deliver(hub, renewal, rss([Item("Dopo", SITE + "/after")]))
        assert answer.status_code == 202
        await asyncio.sleep(0.05)
        assert len(sink.records) == 3 and "no longer configured" in caplog.text

    try:
        asyncio.run(scenario())
    finally:
        store.close()
