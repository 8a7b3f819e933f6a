"""A pushed feed document goes through the poll's pipeline (records written, seen marked) and
leaves the feed's HTTP validators and next poll alone; the hub a poll finds is reported."""

from __future__ import annotations

import asyncio

import httpx

from helpers.newssite import Item, rss
from helpers.pipeline_fakes import SITE, InlineWorkers, MemorySink, Site, pipeline_config, public_resolver
from ingest.fetch.client import HttpClient
from ingest.pipeline.orchestrator import Pipeline
from ingest.state.sqlite import SqliteStore

RSS = "application/rss+xml"
FEED_HEADERS = {"Content-Type": RSS, "ETag": '"v1"', "Last-Modified": "Wed, 02 Dec 2026 10:00:00 GMT",
                "Link": '<https://hub.example/hub>; rel="hub", <https://news.example/self>; rel=self'}


def test_a_delivery_is_worked_like_a_poll_without_touching_the_feeds_validators(tmp_path):
    site = Site()
    first, second = (Item(f"Notizia {i}", site.article(f"/a{i}", i)) for i in (1, 2))
    site.add("/feed.xml", rss([first]), headers=FEED_HEADERS)
    cfg = pipeline_config(tmp_path, SITE + "/feed.xml")
    feed, sink = cfg.feeds[0], MemorySink()
    store = SqliteStore(cfg.state.path)

    async def go():
        async with HttpClient(cfg.http, transport=httpx.MockTransport(site.answer),
                              resolver=public_resolver) as http:
            pipeline = Pipeline(cfg, store, http, InlineWorkers(), sink)
            polled = await pipeline.poll_feed(feed)
            state = store.get_feed(feed.url)
            state.next_poll_at = 2_000_000_000.0
            store.put_feed(state)
            pushed = rss([first, second])
            delivered = await pipeline.take_delivery(feed, pushed, RSS)
            after = store.get_feed(feed.url)
            again = await pipeline.take_delivery(feed, pushed, RSS)
            repoll = await pipeline.poll_feed(feed)
            return polled, delivered, after, again, repoll

    try:
        polled, delivered, after, again, repoll = asyncio.run(go())
    finally:
        store.close()
    assert (polled.hub, polled.topic) == ("https://hub.example/hub", "https://news.example/self")
    assert (delivered.outcome, delivered.written, delivered.already_seen) == ("new", 1, 1)
    assert [r["url"] for r in sink.records] == [SITE + "/a1", SITE + "/a2"]
    assert (after.etag, after.last_modified) == ('"v1"', "Wed, 02 Dec 2026 10:00:00 GMT")
    assert after.next_poll_at == 2_000_000_000.0 and after.articles_written == 2
    assert (again.outcome, again.written) == ("unchanged", 0)  # the same push: not worked again
    assert site.requests["/a2"] == 1
    assert repoll.outcome == "unchanged"  # the poll compares with the last poll's body
