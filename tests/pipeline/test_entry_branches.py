"""Every way one entry goes through a poll: written, already seen, a duplicate after its
page's redirects, a page refused with and without the feed's text to stand in, a transient
failure tried again on the next poll and given up after ``state.max_attempts``.

Real parts where they fit: the SQLite store under tmp_path and the HTTP client over
httpx.MockTransport. Fakes with the interfaces the pipeline uses: the worker pool's jobs
run in-process (InlineWorkers) and records are kept in memory (MemorySink).
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from helpers.newssite import Item
from helpers.pipeline_fakes import (
    SITE,
    InlineWorkers,
    MemorySink,
    Site,
    pipeline_config,
    poll_rounds,
)
from ingest.config.model import ExtractConfig, StateConfig
from ingest.pipeline.outcomes import PollResult
from ingest.urls import key_id, normalize_url

pytestmark = pytest.mark.timeout(60)
MIN_FEED_TEXT = 120
MAX_ATTEMPTS = 3


def polls(tmp_path: Path, site: Site, rounds: int = 1, *, between=None,
          workers: InlineWorkers | None = None) -> tuple[list[PollResult], MemorySink]:
    """``rounds`` polls of the site's feed in one pipeline; ``between(i)`` runs before
    round i. Returns each round's PollResult and the sink."""
    cfg = pipeline_config(tmp_path, SITE + "/feed.xml",
                          state=StateConfig(path=tmp_path / "state.sqlite",
                                            max_attempts=MAX_ATTEMPTS),
                          extract=ExtractConfig(workers=1, min_feed_text=MIN_FEED_TEXT))
    return poll_rounds(cfg, site, rounds, between=between, workers=workers)


def seen(tmp_path: Path, url: str) -> str | None:
    """The status the store keeps for ``url``'s article, None if it was never marked."""
    with sqlite3.connect(tmp_path / "state.sqlite") as db:
        row = db.execute("SELECT status FROM seen WHERE key = ?",
                         (key_id(normalize_url(url)),)).fetchone()
    return row[0] if row else None


def feed_text(length: int) -> str:
    """Plain text of exactly ``length`` characters, as the feed's description."""
    return ("Il testo del feed. " * 20)[:length - 1] + "."


# -- new, and already seen ----------------------------------------------------------------

def test_a_new_entry_is_written_from_its_page_and_marked_seen(tmp_path):
    site = Site()
    url = site.article("/a/1.html", 1)
    site.feed(Item("Notizia 1", url, "g1"))
    (result,), sink = polls(tmp_path, site)
    assert (result.outcome, result.written, result.pages) == ("new", 1, 1)
    (record,) = sink.records
    assert record["url"] == url and record["body_source"] == "page"
    assert "la notizia numero 1" in record["text"]
    assert seen(tmp_path, url) == "written"


def test_an_entry_already_seen_is_counted_and_its_page_not_fetched_again(tmp_path):
    site = Site()
    old, new = site.article("/a/1.html", 1), site.article("/a/2.html", 2)
    site.feed(Item("Notizia 1", old, "g1"))

    def add_an_entry(i):
        if i == 1:
            site.feed(Item("Notizia 2", new, "g2"), Item("Notizia 1", old, "g1"))

    (first, second), sink = polls(tmp_path, site, 2, between=add_an_entry)
    assert (first.written, first.already_seen) == (1, 0)
    assert (second.written, second.already_seen, second.pages) == (1, 1, 1)
    assert site.requests["/a/1.html"] == 1
    assert [r["url"] for r in sink.records] == [old, new]


# -- duplicates ---------------------------------------------------------------------------

def test_two_entries_redirected_to_the_same_page_give_one_record(tmp_path):
    site = Site()
    story = site.article("/story.html", 1)
    a, b = site.redirect("/a", "/story.html"), site.redirect("/b", "/story.html")
    site.feed(Item("Notizia A", a, "ga"), Item("Notizia B", b, "gb"))
    (result,), sink = polls(tmp_path, site)
    assert (result.written, result.duplicates) == (1, 1)
    (record,) = sink.records
    assert record["final_url"] == story
    assert sorted([seen(tmp_path, a), seen(tmp_path, b)]) == ["duplicate", "written"]
    assert seen(tmp_path, story) == "written"


def test_an_entry_redirected_to_a_page_written_before_is_a_duplicate(tmp_path):
    site = Site()
    story = site.article("/story.html", 1)
    alias = site.redirect("/alias", "/story.html")
    site.feed(Item("Notizia", story, "g1"))

    def add_the_alias(i):
        if i == 1:
            site.feed(Item("Di nuovo", alias, "g2"), Item("Notizia", story, "g1"))

    (first, second), sink = polls(tmp_path, site, 2, between=add_the_alias)
    assert (second.written, second.duplicates, second.already_seen) == (0, 1, 1)
    assert len(sink.records) == 1
    assert seen(tmp_path, alias) == "duplicate"


# -- a page refused for good --------------------------------------------------------------

REFUSED = {  # a page that will never give an article, and the reason it is counted under
    "http_404": lambda site: SITE + "/gone.html",
    "no_text": lambda site: site.add("/empty.html", b"<html><body><nav>Home</nav></body></html>"),
}


@pytest.mark.parametrize("reason", sorted(REFUSED))
def test_a_refused_page_gives_way_to_the_feeds_text_when_it_is_long_enough(tmp_path, reason):
    site = Site()
    url = REFUSED[reason](site)
    text = feed_text(MIN_FEED_TEXT)
    site.feed(Item("Notizia", url, "g1", summary=text))
    (result,), sink = polls(tmp_path, site)
    assert (result.written, result.skipped) == (1, {})
    (record,) = sink.records
    assert record["body_source"] == "feed" and record["text"] == text
    assert seen(tmp_path, url) == "written"


@pytest.mark.parametrize("reason", sorted(REFUSED))
def test_a_refused_page_with_too_little_feed_text_is_skipped_for_good(tmp_path, reason):
    site = Site()
    url = REFUSED[reason](site)
    refused = Item("Notizia", url, "g1", summary=feed_text(MIN_FEED_TEXT - 1))
    site.feed(refused)

    def add_an_entry(i):  # the feed changes, so its entries meet the seen filter again
        if i == 1:
            site.feed(Item("Notizia 2", site.article("/a/2.html", 2), "g2"), refused)

    (first, second), sink = polls(tmp_path, site, 2, between=add_an_entry)
    assert (first.written, first.skipped, first.deferred) == (0, {reason: 1}, 0)
    assert seen(tmp_path, url) == f"skipped:{reason}"
    assert (second.written, second.already_seen) == (1, 1)
    assert site.requests[url.removeprefix(SITE)] == 1
    assert [r["title"] for r in sink.records] == ["Notizia 2"]


# -- a transient failure ------------------------------------------------------------------

def failing_page(site: Site, cause: str, workers: InlineWorkers) -> str:
    """A page that fails for a while: the server answers 503, or the extraction's worker dies."""
    if cause == "http_503":
        return site.add("/busy.html", b"busy", status=503)
    workers.fail = lambda func: getattr(func, "func", None) is not None  # extract_article
    return site.article("/busy.html", 1)


@pytest.mark.parametrize("cause", ["http_503", "worker_died"])
def test_a_transient_failure_is_left_unmarked_and_tried_on_the_next_poll(tmp_path, cause):
    site, workers = Site(), InlineWorkers()
    url = failing_page(site, cause, workers)
    site.feed(Item("Notizia 1", url, "g1"))

    def recover(i):
        if i == 1:
            site.article("/busy.html", 1)
            workers.fail = lambda func: False

    (first, second), sink = polls(tmp_path, site, 2, between=recover, workers=workers)
    assert (first.written, first.deferred, first.skipped) == (0, 1, {})
    assert (second.outcome, second.written, second.already_seen) == ("new", 1, 0)
    assert [r["url"] for r in sink.records] == [url]
    assert site.requests["/busy.html"] == 2


@pytest.mark.parametrize("cause", ["http_503", "worker_died"])
def test_a_transient_failure_is_given_up_after_max_attempts_and_marked_seen(tmp_path, cause):
    site, workers = Site(), InlineWorkers()
    url = failing_page(site, cause, workers)
    site.feed(Item("Notizia 1", url, "g1"))
    rounds, sink = polls(tmp_path, site, MAX_ATTEMPTS + 1, workers=workers)
    assert [(r.deferred, r.skipped) for r in rounds[:-2]] == [(1, {})] * (MAX_ATTEMPTS - 1)
    assert rounds[MAX_ATTEMPTS - 1].skipped == {"gave_up": 1}
    assert rounds[MAX_ATTEMPTS - 1].deferred == 0
    assert seen(tmp_path, url) == "skipped:gave_up"
    assert rounds[MAX_ATTEMPTS].outcome == "unchanged"  # settled: the feed is not read again
    assert site.requests["/busy.html"] == MAX_ATTEMPTS and sink.records == []


def test_an_entry_given_up_on_is_written_from_the_feed_when_its_text_is_long_enough(tmp_path):
    site = Site()
    url = site.add("/busy.html", b"busy", status=503)
    text = feed_text(MIN_FEED_TEXT)
    site.feed(Item("Notizia 1", url, "g1", summary=text))
    rounds, sink = polls(tmp_path, site, MAX_ATTEMPTS)
    assert [r.written for r in rounds] == [0] * (MAX_ATTEMPTS - 1) + [1]
    assert [(r["body_source"], r["text"]) for r in sink.records] == [("feed", text)]
    assert seen(tmp_path, url) == "written"
