"""Mojibake end to end: a double-escaped feed and a page of UTF-8 read as cp1252, served on
127.0.0.1, become records with the text repaired, footers matched on the repaired text, and
the repairs counted in `ingest fetch`'s summary and in the daemon's metrics."""

from __future__ import annotations

import asyncio

import pytest

from helpers.cli import run_cli
from helpers.faultserver import FaultServer
from helpers.newssite import HTML, RSS, read_records, write_config
from ingest.config.load import load_config
from ingest.daemon.metrics import Metrics
from ingest.models import FeedState
from ingest.pipeline.app import open_pipeline

pytestmark = pytest.mark.timeout(120)

DOUBLE = "enth&amp;Atilde;&amp;curren;lt"  # "enthält" as UTF-8 read as Latin-1, escaped twice
FEED_TEXT = ("Das Paket " + DOUBLE + " Bücher, Karten und Briefe aus dem Archiv der Stadt. ") * 4
SPOILED_BODY = "Der Rat enthÃ¤lt sich, und die Stadt donâ€™t know what to say. " * 4


def feed(server: FaultServer) -> bytes:
    items = (f"<item><title>Was {DOUBLE} das Paket?</title><link>{server.url('/gone.html')}"
             f"</link><description>{FEED_TEXT}</description></item>"
             f"<item><title>Ein sauberer Titel</title><link>{server.url('/page.html')}</link>"
             "</item>")
    return ('<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel>'
            f"<title>Archiv</title><language>de</language>{items}</channel></rss>").encode()


def page() -> bytes:
    paragraphs = "".join(f"<p>{SPOILED_BODY}</p>" for _ in range(3))
    return ("<!DOCTYPE html><html lang='de'><head><meta charset='utf-8'><title>Ein sauberer "
            f"Titel</title></head><body><article>{paragraphs}<p>Riproduzione riservata "
            "Â© Copyright ANSA</p></article></body></html>").encode()


@pytest.fixture
def site(tmp_path):
    with FaultServer() as server:
        server.add("/feed.xml", feed(server), RSS)
        server.add("/page.html", page(), HTML)
        yield server, write_config(tmp_path / "config.yaml", [("archiv", server.url("/feed.xml"))],
                                   extract={"workers": 1})


def test_fetch_writes_repaired_records_and_counts_them(site, tmp_path):
    server, config = site
    done = run_cli("fetch", "--config", str(config), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    records = {r["url"]: r for r in read_records(tmp_path / "out")}
    from_feed, from_page = records[server.url("/gone.html")], records[server.url("/page.html")]

    assert from_feed["title"] == "Was enthält das Paket?"
    assert from_feed["body_source"] == "feed"
    assert from_feed["text"].startswith("Das Paket enthält Bücher") and "Ã" not in from_feed["text"]

    assert from_page["body_source"] == "page"
    assert "Der Rat enthält sich, und die Stadt don’t know" in from_page["text"]
    assert "Ã" not in from_page["text"] and "â€" not in from_page["text"]
    # the footer is matched on the repaired text, and removed
    assert from_page["footers_removed"] == ["Riproduzione riservata © Copyright ANSA"]

    # the feed's title and summary, the page's body
    assert "mojibake repaired: 3 texts" in done.stderr


def test_the_daemon_counts_repairs_by_where(site, tmp_path):
    server, config = site
    (tmp_path / "state").mkdir()
    cfg = load_config(config, env={})

    async def poll():
        async with open_pipeline(cfg) as pipeline:
            return await pipeline.poll_feed(cfg.feeds[0])
    result = asyncio.run(poll())
    assert result.written == 2

    metrics = Metrics()
    metrics.observe(result, FeedState(url=cfg.feeds[0].url))
    text = metrics.render().decode()
    assert 'ingest_text_repairs_total{where="feed"} 2.0' in text
    assert 'ingest_text_repairs_total{where="page"} 1.0' in text
