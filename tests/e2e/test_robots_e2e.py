"""robots.txt through the real pipeline, against a site on 127.0.0.1: the pages it
disallows are never asked for (the server's log says so), their entries fall back on the
feed's text or are skipped as ``robots_disallowed``; an unreachable robots.txt (500, or
no answer within http.timeout) holds every page back until it can be had; the copy is
kept in the SQLite store between runs."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from pathlib import Path

import pytest

from helpers.faultserver import FaultServer
from helpers.newssite import HTML, RSS, Item, plain_page, read_records, rss, write_config
from ingest.config.load import load_config
from ingest.daemon.metrics import Metrics
from ingest.models import FeedState
from ingest.pipeline.app import open_pipeline
from ingest.pipeline.outcomes import PollResult
from ingest.state.sqlite import SqliteStore

pytestmark = pytest.mark.timeout(120)

ROBOTS = b"""User-agent: *
Disallow: /private/*
Disallow: /*.pdf$
Allow: /private/ok$
"""
TEXT = "<p>" + "Il testo intero della notizia sta anche nel feed, abbastanza lungo. " * 5 + "</p>"
PLAIN = {"Content-Type": "text/plain"}


def site(server: FaultServer, paths: dict[str, str]) -> list[Item]:
    """A page at each path, and the feed's items for them (``content``: the feed's text)."""
    items = []
    for i, (path, content) in enumerate(paths.items()):
        server.add(path, plain_page(f"Notizia {i}", i), HTML)
        items.append(Item(f"Notizia {i}", server.url(path), f"g{i}", summary="breve",
                          content=content))
    server.add("/feed.xml", rss(items), RSS)
    return items


def test_disallowed_pages_are_never_asked_for_and_the_copy_outlives_the_run(tmp_path):
    with FaultServer() as server:
        server.add("/robots.txt", ROBOTS, PLAIN)
        items = site(server, {"/news/1.html": "", "/private/2.html": TEXT, "/private/ok": "",
                              "/files/4.pdf": ""})
        config = write_config(tmp_path / "config.yaml", [("site", server.url("/feed.xml"))],
                              extract={"workers": 1})
        (tmp_path / "state").mkdir()
        first = fetch_run(config)  # what `ingest fetch` runs, and prints
        assert [server.hits(p) for p in ("/news/1.html", "/private/ok", "/private/2.html",
                                         "/files/4.pdf", "/robots.txt")] == [1, 1, 0, 0, 1]
        assert "page requests: 2;" in first and "skipped: 1 robots_disallowed" in first
        by_url = {r["url"]: r["body_source"] for r in read_records(tmp_path / "out")}
        assert by_url == {server.url("/news/1.html"): "page", server.url("/private/ok"): "page",
                          server.url("/private/2.html"): "feed"}

        # a second run within the day: a new page, and robots.txt from the store
        server.add("/news/5.html", plain_page("Notizia 5", 5), HTML)
        server.add("/feed.xml", rss([*items, Item("Notizia 5", server.url("/news/5.html"), "g5")]),
                   RSS)
        assert "1 written" in fetch_run(config)
        assert server.hits("/news/5.html") == 1 and server.hits("/robots.txt") == 1


def fetch_run(config: Path) -> str:
    """One run of every feed, as `ingest fetch` makes it; its summary."""
    cfg = load_config(config)

    async def once() -> str:
        async with open_pipeline(cfg) as pipeline:
            return (await pipeline.run(list(cfg.feeds))).summary()

    return asyncio.run(once())


def poll(config: Path) -> PollResult:
    cfg = load_config(config)

    async def once() -> PollResult:
        async with open_pipeline(cfg) as pipeline:
            return await pipeline.poll_feed(cfg.feeds[0])

    return asyncio.run(once())


def page_hits(server: FaultServer) -> int:
    return sum(1 for _, path, _ in server.requests if path not in ("/feed.xml", "/robots.txt"))


def test_a_robots_txt_answering_500_holds_the_pages_back_until_it_answers(tmp_path):
    with FaultServer() as server:
        server.add("/robots.txt", b"down for maintenance", PLAIN, status=500)
        site(server, {"/news/1.html": "", "/private/2.html": ""})
        config = write_config(tmp_path / "config.yaml", [("site", server.url("/feed.xml"))],
                              extract={"workers": 1})
        (tmp_path / "state").mkdir()
        for _ in range(2):  # the second poll is within the retry time: nothing is asked
            held = poll(config)
            assert (held.deferred, held.written, held.pages, page_hits(server)) == (2, 0, 0, 0)
        assert server.hits("/robots.txt") == 1

        store = SqliteStore(tmp_path / "state" / "state.sqlite")  # the retry time has passed
        try:
            origin = server.url("").rstrip("/")
            copy = store.robots_file(origin)
            assert copy is not None and copy.kind == "unreachable"
            store.put_robots_file(replace(copy, expires_at=0.0))
        finally:
            store.close()
        server.add("/robots.txt", b"User-agent: *\nDisallow: /private/\n", PLAIN)
        settled = poll(config)
        assert (settled.written, settled.deferred, dict(settled.skipped)) == (
            1, 0, {"robots_disallowed": 1})
        assert server.hits("/news/1.html") == 1 and server.hits("/private/2.html") == 0
        metrics = Metrics()
        metrics.observe(settled, FeedState(url=server.url("/feed.xml")))
        assert b'ingest_articles_skipped_total{reason="robots_disallowed"} 1.0' in metrics.render()


class StallingRobots(FaultServer):
    """robots.txt is never answered (until the server closes)."""

    def _route(self, h, path, query) -> None:  # noqa: ANN001
        if path == "/robots.txt":
            self._stop.wait(60)
            h.close_connection = True
            return
        super()._route(h, path, query)


def test_a_robots_txt_that_times_out_holds_the_pages_back(tmp_path):
    with StallingRobots() as server:
        site(server, {"/news/1.html": "", "/news/2.html": ""})
        config = write_config(tmp_path / "config.yaml", [("site", server.url("/feed.xml"))],
                              http={"timeout": 2})
        (tmp_path / "state").mkdir()
        held = poll(config)
        assert (held.deferred, held.written, held.pages, page_hits(server)) == (2, 0, 0, 0)
        assert server.hits("/robots.txt") == 1
