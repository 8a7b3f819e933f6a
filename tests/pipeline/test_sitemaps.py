"""A sitemap source through whole polls: the walk of an index (limits, loops, each file once),
what the news tags give the records, detection, the children's validators across polls
(kept past the limits; an unchanged index still has its sitemaps asked), and a failing child
costing that child.

Real parts where they fit: the SQLite store under tmp_path, the HTTP client over
httpx.MockTransport (a site that answers If-None-Match with 304), the parser in-process
(InlineWorkers).
"""

from __future__ import annotations

import gzip
import logging
import time
from collections import Counter
from dataclasses import replace

import httpx
import pytest

from helpers.pipeline_fakes import SITE, InlineWorkers, pipeline_config, poll_rounds
from ingest.config.model import HttpConfig, ScheduleConfig, SitemapConfig
from ingest.models import Feed, FeedState
from ingest.pipeline.poll import Poll
from ingest.pipeline.sitemap_memory import Memory
from ingest.pipeline.sitemap_walk import Walk
from ingest.state.sqlite import SqliteStore

pytestmark = pytest.mark.timeout(60)
HOUR = 3600.0
XML = {"Content-Type": "application/xml"}
GZIP = {"Content-Type": "application/x-gzip"}


def stamp(seconds_ago: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - seconds_ago))


def bare_page(n: int) -> bytes:
    """An article page with no title, date, language or keywords of its own."""
    sentence = (f"Questa è la notizia numero {n}, scritta per le prove di ingest: una frase "
                "abbastanza lunga perché l'estrazione la riconosca come testo. ")
    paragraphs = "".join(f"<p>{sentence * 3}Paragrafo {j}.</p>" for j in range(4))
    return f"<html><body><article>{paragraphs}</article></body></html>".encode()


def news(path: str, ago: float = HOUR, title: str | None = None) -> str:
    return (f"<url><loc>{SITE}{path}</loc><news:news><news:publication><news:name>S"
            "</news:name><news:language>it-CH</news:language></news:publication>"
            f"<news:publication_date>{stamp(ago)}</news:publication_date>"
            f"<news:title>{title or 'Titolo ' + path}</news:title>"
            "<news:keywords>politica, Roma</news:keywords></news:news></url>")


def urlset(*urls: str) -> bytes:
    return ('<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">'
            + "".join(urls) + "</urlset>").encode()


def index(*paths: str, ago: float = HOUR) -> bytes:
    return ('<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<sitemap><loc>{SITE}{p}</loc><lastmod>{stamp(ago)}</lastmod></sitemap>"
                      for p in paths) + "</sitemapindex>").encode()


class SitemapSite:
    """Fixed answers by path; a matching If-None-Match gets 304; every request logged."""

    def __init__(self) -> None:
        self.answers: dict[str, tuple[int, bytes, dict[str, str]]] = {}
        self.log: list[tuple[str, str | None]] = []  # (path, If-None-Match)

    def add(self, path: str, body: bytes, headers: dict[str, str] | None = None,
            status: int = 200) -> str:
        self.answers[path] = (status, body, headers or XML)
        return SITE + path

    def pages(self, *paths: str) -> None:
        for n, path in enumerate(paths):
            self.add(path, bare_page(n), {"Content-Type": "text/html; charset=utf-8"})

    def hits(self) -> Counter[str]:
        return Counter(path for path, _ in self.log if path != "/robots.txt")

    def answer(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.log.append((path, request.headers.get("if-none-match")))
        status, body, headers = self.answers.get(path, (404, b"not found", {}))
        if status == 200 and headers.get("ETag") and \
                request.headers.get("if-none-match") == headers["ETag"]:
            return httpx.Response(304, headers={"ETag": headers["ETag"]})
        return httpx.Response(status, headers=headers, content=body)


def dated_index(*paths_ago: tuple[str, float]) -> bytes:
    """An index whose sitemaps each have their own <lastmod> (seconds ago)."""
    return ('<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            + "".join(f"<sitemap><loc>{SITE}{p}</loc><lastmod>{stamp(ago)}</lastmod></sitemap>"
                      for p, ago in paths_ago) + "</sitemapindex>").encode()


def polls(tmp_path, site: SitemapSite, rounds: int = 1, *, kind: str = "sitemap",
          between=None, workers=None, schedule=None, **limits):
    cfg = pipeline_config(tmp_path, SITE + "/index.xml", sitemap=SitemapConfig(**limits),
                          **({"schedule": schedule} if schedule else {}))
    cfg = replace(cfg, feeds=(Feed("f0", SITE + "/index.xml", type=kind),))
    return poll_rounds(cfg, site, rounds, between=between, workers=workers)


def warnings(caplog) -> str:
    return " ".join(r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING)


def test_an_index_is_walked_once_per_file_and_its_news_tags_fill_the_records(tmp_path, caplog):
    site = SitemapSite()
    site.pages("/a/1", "/a/2", "/c/1")
    site.add("/index.xml", index("/index.xml", "/a.xml", "/b.xml.gz"))
    site.add("/a.xml", urlset(news("/a/1"), news("/a/2"), news("/a/old", ago=9 * 24 * HOUR),
                              f"<url><loc>{SITE}/a/undated</loc></url>"))
    site.add("/b.xml.gz", gzip.compress(index("/index.xml", "/c.xml", "/a.xml")), GZIP)
    site.add("/c.xml", urlset(news("/c/1"), news("/a/1")))  # /a/1 listed twice: taken once
    (result,), sink = polls(tmp_path, site)
    assert (result.outcome, result.written, result.entries) == ("new", 3, 3)
    assert set(site.hits().values()) == {1}  # every sitemap and page requested once
    assert set(site.hits()) == {"/index.xml", "/a.xml", "/b.xml.gz", "/c.xml",
                                "/a/1", "/a/2", "/c/1"}
    record = next(r for r in sink.records if r["url"] == SITE + "/a/1")
    assert record["title"] == "Titolo /a/1"
    assert record["published"].endswith("Z") and record["guid"] is None
    assert record["language"] == "it-CH"  # the text is Italian; the news tag gives the region
    assert tuple(record["tags"]) == ("politica", "Roma")
    assert warnings(caplog).count("sitemap loop") == 2  # /a.xml listed twice is no loop
    assert f"{SITE}/index.xml lists {SITE}/index.xml" in warnings(caplog)
    assert f"{SITE}/b.xml.gz lists {SITE}/index.xml" in warnings(caplog)


@pytest.mark.parametrize("limits, fetched, note", [
    ({"max_sitemaps": 3}, {"/index.xml", "/s0.xml", "/s1.xml"}, "max_sitemaps (3) reached"),
    ({"max_depth": 1}, {"/index.xml", "/s0.xml", "/s1.xml", "/s2.xml", "/deep.xml"},
     "max_depth (1) reached"),
    ({"max_depth": 2}, {"/index.xml", "/s0.xml", "/s1.xml", "/s2.xml", "/deep.xml",
                        "/deeper.xml"}, None),
])
def test_the_limits_bound_the_walk(tmp_path, caplog, limits, fetched, note):
    site = SitemapSite()
    site.add("/index.xml", index("/s0.xml", "/s1.xml", "/s2.xml", "/deep.xml"))
    for n in range(3):
        site.add(f"/s{n}.xml", urlset())
    site.add("/deep.xml", index("/deeper.xml"))
    site.add("/deeper.xml", urlset())
    (result,), _ = polls(tmp_path, site, **limits)
    assert result.ok
    assert set(site.hits()) == fetched
    assert (note in warnings(caplog)) if note else not warnings(caplog)


def test_an_index_s_old_children_are_not_fetched(tmp_path):
    site = SitemapSite()
    site.add("/index.xml", index("/old.xml", ago=5 * 24 * HOUR))
    (result,), _ = polls(tmp_path, site)
    assert result.ok and set(site.hits()) == {"/index.xml"}


def test_children_keep_their_validators_and_answer_304_at_the_next_poll(tmp_path):
    site = SitemapSite()
    site.pages("/a/1", "/a/2")
    site.add("/index.xml", index("/a.xml"), {**XML, "ETag": '"i1"'})
    site.add("/a.xml", urlset(news("/a/1")), {**XML, "ETag": '"a1"'})

    def change(i):
        if i == 1:  # the index changes, its child does not
            site.add("/index.xml", index("/a.xml", ago=60), {**XML, "ETag": '"i2"'})
        if i == 2:  # now the child has a new article
            site.add("/index.xml", index("/a.xml", ago=30), {**XML, "ETag": '"i3"'})
            site.add("/a.xml", urlset(news("/a/1"), news("/a/2")), {**XML, "ETag": '"a2"'})

    results, sink = polls(tmp_path, site, 3, between=change)
    assert [r.written for r in results] == [1, 0, 1]
    assert ("/a.xml", '"a1"') in site.log[3:]  # the second poll asked conditionally: 304
    assert results[1].outcome == "nothing_new"
    assert [r["url"] for r in sink.records] == [SITE + "/a/1", SITE + "/a/2"]


def test_a_deferred_poll_leaves_its_children_s_validators_untrusted(tmp_path):
    site = SitemapSite()
    site.add("/index.xml", index("/a.xml", "/b.xml"), {**XML, "ETag": '"i1"'})
    site.add("/a.xml", urlset(), {**XML, "ETag": '"a1"'})
    site.add("/b.xml", b"busy", status=503)

    def change(i):
        if i == 1:
            site.add("/b.xml", urlset())
        if i == 2:
            site.add("/index.xml", index("/a.xml", "/b.xml", ago=60), {**XML, "ETag": '"i2"'})

    results, _ = polls(tmp_path, site, 3, between=change)
    assert results[0].deferred == 1 and results[0].ok
    assert site.log.count(("/index.xml", None)) == 2  # read again in full after the deferral
    assert site.log.count(("/a.xml", None)) == 2  # its validators not trusted then
    assert ("/a.xml", '"a1"') in site.log  # trusted once a poll deferred nothing


@pytest.mark.parametrize("child, body, headers", [
    ("/gone.xml", None, None),
    ("/html.xml", b"<!DOCTYPE html><html><body>no</body></html>", {"Content-Type": "text/html"}),
    ("/broken.xml.gz", b"\x1f\x8b\x08\x00broken", GZIP),
])
def test_a_failing_child_costs_that_child_not_the_poll(tmp_path, caplog, child, body, headers):
    site = SitemapSite()
    site.pages("/a/1")
    site.add("/index.xml", index(child, "/a.xml"))
    site.add("/a.xml", urlset(news("/a/1")))
    if body is not None:
        site.add(child, body, headers)
    (result,), _ = polls(tmp_path, site)
    assert (result.outcome, result.written, result.deferred) == ("new", 1, 0)
    assert f"{SITE}{child}: not read" in warnings(caplog)


def test_a_feed_url_that_answers_with_a_sitemap_is_read_as_one(tmp_path, caplog):
    caplog.set_level(logging.INFO)
    site = SitemapSite()
    site.pages("/a/1")
    site.add("/index.xml", gzip.compress(urlset(news("/a/1"))), GZIP)
    (result,), sink = polls(tmp_path, site, kind="feed")
    assert result.written == 1 and sink.records[0]["title"] == "Titolo /a/1"
    assert "answers with a sitemap" in caplog.text


def test_a_sitemap_source_serving_html_fails_clearly_and_is_not_parsed_again(tmp_path):
    site = SitemapSite()
    site.add("/index.xml", b"<!DOCTYPE html><html><body>Home</body></html>",
             {"Content-Type": "text/html"})
    parses = Counter()

    class CountingWorkers(InlineWorkers):
        async def run(self, func, *args, timeout=None):
            parses[func.__name__] += 1
            return await super().run(func, *args, timeout=timeout)

    results, _ = polls(tmp_path, site, 2, workers=CountingWorkers())
    assert [r.error_kind for r in results] == ["parse", "parse"]
    assert "/index.xml: not a sitemap: the server sent an HTML page" in results[0].error
    assert parses["parse_sitemap"] == 1  # the same bytes are not parsed twice


def test_an_index_listing_only_itself_costs_one_request_and_a_warning(tmp_path, caplog):
    site = SitemapSite()
    site.add("/index.xml", index("/index.xml"))
    (result,), _ = polls(tmp_path, site)
    assert (result.outcome, result.error) == ("nothing_new", None)
    assert site.hits() == {"/index.xml": 1}
    assert f"sitemap loop: {SITE}/index.xml lists {SITE}/index.xml" in warnings(caplog)


@pytest.mark.parametrize("kind, outcome", [("sitemap", "new"), ("feed", "failed")])
def test_a_sitemap_source_is_downloaded_under_the_sitemap_cap_a_feed_under_the_feed_cap(
        tmp_path, kind, outcome):
    site = SitemapSite()
    site.pages("/a/1")
    padding = f"<url><loc>{SITE}/old</loc><lastmod>{stamp(9 * 24 * HOUR)}</lastmod></url>"
    body = urlset(news("/a/1"), *[padding] * 300)  # past the feed cap below
    site.add("/index.xml", body)
    cfg = pipeline_config(tmp_path, SITE + "/index.xml", sitemap=SitemapConfig(),
                          http=HttpConfig(per_host_delay=0.0, max_feed_bytes=len(body) // 2))
    cfg = replace(cfg, feeds=(Feed("f0", SITE + "/index.xml", type=kind),))
    (result,), _ = poll_rounds(cfg, site)
    assert result.outcome == outcome


@pytest.mark.parametrize("index_headers, quiet_outcome", [
    ({**XML, "ETag": '"i1"'}, "not_modified"),  # the index answers 304
    (XML, "unchanged"),  # no validators: the same bytes again
])
def test_an_unchanged_index_still_has_the_sitemaps_it_lists_asked(tmp_path, index_headers,
                                                                  quiet_outcome):
    site = SitemapSite()
    site.pages("/n/1", "/n/2", "/d/1", "/d/2")
    site.add("/index.xml", index("/news.xml", "/other.xml", "/sub.xml"), index_headers)
    site.add("/news.xml", urlset(news("/n/1")), {**XML, "ETag": '"n1"'})
    site.add("/other.xml", urlset(), {**XML, "ETag": '"o1"'})
    site.add("/sub.xml", index("/deep.xml"), {**XML, "ETag": '"s1"'})  # an index, unchanged
    site.add("/deep.xml", urlset(news("/d/1")), {**XML, "ETag": '"d1"'})
    polled: list[int] = []

    def change(i):
        polled.append(len(site.log))
        if i == 1:  # the index and /sub.xml stay as they are; what they list changes
            site.add("/news.xml", urlset(news("/n/1"), news("/n/2")), {**XML, "ETag": '"n2"'})
            site.add("/deep.xml", urlset(news("/d/1"), news("/d/2")), {**XML, "ETag": '"d2"'})

    results, sink = polls(tmp_path, site, 3, between=change)
    second, third = site.log[polled[1]:polled[2]], site.log[polled[2]:]
    assert [(r.outcome, r.written) for r in results] == [
        ("new", 2), ("new", 2), (quiet_outcome, 0)]
    assert {r["url"] for r in sink.records} == {SITE + p for p in ("/n/1", "/n/2", "/d/1",
                                                                   "/d/2")}
    sitemaps = {"/news.xml", "/other.xml", "/sub.xml", "/deep.xml"}
    asked = {path: etag for path, etag in second if path in sitemaps}
    assert asked == {"/news.xml": '"n1"', "/other.xml": '"o1"', "/sub.xml": '"s1"',
                     "/deep.xml": '"d1"'}
    assert [(p, e) for p, e in third if p != "/index.xml"] == [
        ("/news.xml", '"n2"'), ("/other.xml", '"o1"'), ("/sub.xml", '"s1"'),
        ("/deep.xml", '"d2"')]  # each asked once, conditionally, in the index's order


def test_a_plain_urlset_that_answers_304_makes_no_other_request(tmp_path):
    site = SitemapSite()
    site.pages("/a/1")
    site.add("/index.xml", urlset(news("/a/1")), {**XML, "ETag": '"u1"'})
    results, _ = polls(tmp_path, site, 2)
    assert [r.outcome for r in results] == ["new", "not_modified"]
    assert site.log[-1] == ("/index.xml", '"u1"')
    assert site.hits() == {"/index.xml": 2, "/a/1": 1}


def test_a_recheck_that_deferred_entries_asks_again_without_the_new_validators(tmp_path):
    site = SitemapSite()
    site.pages("/n/1", "/n/2", "/n/3")
    site.add("/index.xml", index("/news.xml"), {**XML, "ETag": '"i1"'})
    site.add("/news.xml", urlset(news("/n/1")), {**XML, "ETag": '"n1"'})

    def change(i):
        if i == 1:
            site.add("/news.xml", urlset(news("/n/1"), news("/n/2", 60), news("/n/3", 30)),
                     {**XML, "ETag": '"n2"'})

    results, sink = polls(tmp_path, site, 3, between=change,
                          schedule=ScheduleConfig(max_entries_per_poll=1))
    assert [(r.written, r.deferred) for r in results] == [(1, 0), (1, 1), (1, 0)]
    assert [e for p, e in site.log if p == "/news.xml"] == [None, '"n1"', '"n1"']
    assert len(sink.records) == 3


def test_sitemaps_the_limits_left_unread_keep_their_validators(tmp_path):
    site = SitemapSite()
    for path in ("/a.xml", "/b.xml", "/c.xml"):
        site.add(path, urlset(), {**XML, "ETag": f'"{path[1]}1"'})
    site.add("/index.xml", dated_index(("/a.xml", 2 * HOUR), ("/b.xml", 3 * HOUR)))

    def change(i):
        if i == 1:  # /c.xml is newest: with max_sitemaps 3, /b.xml is not read
            site.add("/index.xml", dated_index(("/c.xml", 60), ("/a.xml", 2 * HOUR),
                                               ("/b.xml", 3 * HOUR)))
        if i == 2:  # /b.xml is newest again; /a.xml is no longer listed
            site.add("/index.xml", dated_index(("/b.xml", 30), ("/c.xml", 60)))

    polls(tmp_path, site, 3, between=change, max_sitemaps=3)
    assert [e for p, e in site.log if p == "/b.xml"] == [None, '"b1"']
    store = SqliteStore(tmp_path / "state.sqlite")
    saved = store.get_feed(SITE + "/index.xml").extra["sitemaps"]["files"]
    store.close()
    assert [f["url"] for f in saved] == [SITE + "/b.xml", SITE + "/c.xml"]  # /a.xml pruned


def test_remembered_sitemaps_older_than_the_window_are_not_asked_again():
    now = time.time()
    known = Memory({f"{SITE}/{name}.xml": {"url": f"{SITE}/{name}.xml", "parent": None,
                                          "lastmod": lastmod}
                    for name, lastmod in (("new", now - HOUR), ("old", now - 3 * 24 * HOUR),
                                          ("undated", None))})
    feed = Feed("f0", SITE + "/index.xml", type="sitemap")
    walk = Walk(Poll(feed, FeedState(feed.url)), now - 48 * HOUR, known, max_depth=2)
    walk.queue_remembered(feed.url, None, 0)
    assert list(walk.queue) == [(f"{SITE}/new.xml", 1), (f"{SITE}/undated.xml", 1)]
    assert walk.old == 1


def test_a_recheck_does_not_ask_the_configured_index_again_under_its_final_url(tmp_path):
    site = SitemapSite()
    site.add("/index.xml", b"", {"Location": SITE + "/final-index.xml"}, status=301)
    site.add("/final-index.xml", index("/sub.xml"), {**XML, "ETag": '"f1"'})
    site.add("/sub.xml", index("/a.xml"), {**XML, "ETag": '"s1"'})
    site.add("/a.xml", urlset(), {**XML, "ETag": '"a1"'})

    def change(i):
        if i == 1:  # the listed index now lists the configured one back, by its final URL
            site.add("/sub.xml", index("/a.xml", "/final-index.xml"), {**XML, "ETag": '"s2"'})

    results, _ = polls(tmp_path, site, 2, between=change)
    assert [r.outcome for r in results] == ["nothing_new", "nothing_new"]
    assert site.hits()["/final-index.xml"] == 2  # once a poll, as the configured index
    assert site.log[-1] == ("/a.xml", '"a1"')
