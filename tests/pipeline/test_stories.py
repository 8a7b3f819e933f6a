"""Near-duplicates through the pipeline: copies of one story from other outlets share its
story, `drop` writes only the first, a restart forgets nothing, two copies in one batch
never both start a story, and a site's copies of one story do not teach their lede as a
footer. Real SQLite store and HTTP client over MockTransport; inline workers (see
helpers.pipeline_fakes)."""

from __future__ import annotations

import random
import sqlite3
from dataclasses import replace
from html import escape
from pathlib import Path

import pytest

from helpers.newssite import Item, rss
from helpers.pipeline_fakes import Site, pipeline_config, poll_rounds
from ingest.config.model import DedupConfig, FootersConfig
from ingest.urls import key_id, normalize_url

pytestmark = pytest.mark.timeout(60)
FEEDS = ("https://wire.example/wire.xml", "https://outlet.example/outlet.xml")
_SYLLABLES = ("ba", "ce", "di", "fo", "gu", "la", "me", "ni", "po", "ru", "sa", "te", "vi",
              "zo", "qua", "tre", "str", "ol", "an", "es")
VOCABULARY = sorted({"".join(random.Random(i).choices(_SYLLABLES, k=3)) for i in range(3000)})


def paragraphs(seed: int, count: int = 5, words: int = 45) -> list[str]:
    """A story of its own: ``count`` paragraphs of words drawn with ``seed``."""
    rng = random.Random(seed)
    return [" ".join(rng.choice(VOCABULARY) for _ in range(words)).capitalize() + "."
            for _ in range(count)]


def rewritten(story: list[str], seed: int) -> list[str]:
    """An outlet's copy: a new first sentence, the last paragraph trimmed away."""
    return [paragraphs(seed, 1, 20)[0] + " " + story[0], *story[1:-1]]


def page(title: str, body: list[str]) -> bytes:
    ps = "".join(f"<p>{escape(p)}</p>" for p in body)
    return (f"<!DOCTYPE html><html lang='it'><head><title>{escape(title)}</title></head><body>"
            f"<article><h1>{escape(title)}</h1>{ps}</article></body></html>").encode()


def publish(site: Site, feed: int, items: list[tuple[str, str, list[str]]]) -> None:
    """Feed ``feed`` (an index of FEEDS) lists these (path, title, paragraphs) pages."""
    host = FEEDS[feed].rsplit("/", 1)[0]
    for path, title, body in items:
        site.answers.pop(path, None)
        site.add(path, page(title, body))
    feed_path = FEEDS[feed].removeprefix(host)
    site.add(feed_path, rss([Item(title, host + path) for path, title, _ in items]),
             headers={"Content-Type": "application/rss+xml"})


def config(tmp_path: Path, **dedup):
    return pipeline_config(tmp_path, *FEEDS, dedup=DedupConfig(**dedup))


def by_url(records: list[dict]) -> dict[str, dict]:
    return {r["url"].split("/", 3)[3]: r for r in records}


STORY, OTHER = paragraphs(1), paragraphs(2)


def test_a_copy_from_another_outlet_joins_the_story_of_the_first(tmp_path):
    site = Site()
    publish(site, 0, [("/w/1.html", "Il fatto", STORY), ("/w/2.html", "Altro", OTHER)])
    publish(site, 1, [("/o/2.html", "Altro ancora", paragraphs(50))])
    poll_rounds(config(tmp_path), site)
    publish(site, 1, [("/o/1.html", "Il fatto, ripreso", rewritten(STORY, 3))])
    _, sink = poll_rounds(config(tmp_path), site)  # a restart: the index is the store's
    assert [r["url"] for r in sink.records] == ["https://outlet.example/o/1.html"]
    copy = sink.records[0]
    original = key_id(normalize_url("https://wire.example/w/1.html"))
    assert (copy["story_id"], copy["near_duplicate_of"]) == (original, original)
    assert DedupConfig().threshold <= copy["similarity"] < 1


def test_the_first_record_starts_its_story_and_a_different_story_its_own(tmp_path):
    site = Site()
    publish(site, 0, [("/w/1.html", "Il fatto", STORY), ("/w/2.html", "Altro", OTHER)])
    publish(site, 1, [("/o/2.html", "Altro ancora", paragraphs(50))])
    _, sink = poll_rounds(config(tmp_path), site)
    assert len(sink.records) == 3
    for record in sink.records:
        assert (record["story_id"], record["near_duplicate_of"], record["similarity"]) == (
            record["id"], None, None)


def test_drop_writes_only_the_first_record_and_counts_the_copies(tmp_path):
    site = Site()
    publish(site, 0, [("/w/1.html", "Il fatto", STORY)])
    publish(site, 1, [("/o/1.html", "Il fatto, ripreso", rewritten(STORY, 3))])
    (wire, outlet), sink = poll_rounds(config(tmp_path, action="drop"), site)
    assert [r["url"] for r in sink.records] == ["https://wire.example/w/1.html"]
    assert (wire.near_duplicates, outlet.near_duplicates, outlet.written) == (0, 1, 0)
    with sqlite3.connect(tmp_path / "state.sqlite") as db:
        status = db.execute("SELECT status FROM seen WHERE key = ?", (
            key_id(normalize_url("https://outlet.example/o/1.html")),)).fetchone()
    assert status == ("near_duplicate",)


def test_two_copies_in_one_poll_never_both_start_a_story(tmp_path):
    site = Site()
    publish(site, 0, [("/w/1.html", "Il fatto", STORY),
                      ("/w/9.html", "Il fatto, di nuovo", rewritten(STORY, 4))])
    publish(site, 1, [("/o/2.html", "Altro ancora", paragraphs(50))])
    _, sink = poll_rounds(config(tmp_path), site)
    a, b = (r for r in sink.records if "/w/" in r["url"])
    assert a["story_id"] == b["story_id"] == a["id"]  # the first written began it
    assert (a["near_duplicate_of"], b["near_duplicate_of"]) == (None, a["id"])


def test_short_texts_and_detection_off_are_not_clustered(tmp_path):
    site = Site()
    publish(site, 0, [("/w/1.html", "Il fatto", STORY)])
    publish(site, 1, [("/o/1.html", "Il fatto, ripreso", rewritten(STORY, 3))])
    _, sink = poll_rounds(config(tmp_path / "short", min_words=10_000), site)
    assert [(r["story_id"], r["near_duplicate_of"]) for r in sink.records] == [
        (r["id"], None) for r in sink.records]
    _, sink = poll_rounds(config(tmp_path / "off", enabled=False), site)
    assert {(r["story_id"], r["near_duplicate_of"], r["similarity"])
            for r in sink.records} == {(None, None, None)}


def test_a_sites_copies_of_one_story_keep_their_lede_and_its_footer_is_still_learned(tmp_path):
    lede = "Aggiornamento: il bilancio sale ancora, dice la protezione civile."
    footer = "Seguici anche sui social per restare aggiornato."
    site = Site()
    items = [(f"/w/u{n}.html", f"Il fatto, aggiornamento {n}",
              [lede, *rewritten(STORY, 10 + n)[1:], footer]) for n in range(3)]
    items += [(f"/w/s{n}.html", f"Storia {n}", [*paragraphs(100 + n), footer]) for n in range(3)]
    publish(site, 0, items)
    publish(site, 1, [("/o/2.html", "Altro ancora", paragraphs(50))])
    cfg = replace(config(tmp_path), footers=FootersConfig(min_count=3))
    _, sink = poll_rounds(cfg, site)
    records = by_url(sink.records)
    for n in range(3):
        assert records[f"w/u{n}.html"]["text"].startswith(lede)  # one story: counted once
    for n in range(3):
        assert footer in records[f"w/s{n}.html"]["footers_removed"]  # three stories


def test_updates_arriving_one_poll_at_a_time_keep_their_lede(tmp_path):
    lede = "Aggiornamento: il bilancio sale ancora, dice la protezione civile."
    site = Site()
    publish(site, 1, [("/o/2.html", "Altro ancora", paragraphs(50))])
    updates = [(f"/w/u{n}.html", f"Il fatto, aggiornamento {n}",
                [lede, *rewritten(STORY, 10 + n)[1:]]) for n in range(4)]
    cfg = replace(config(tmp_path), footers=FootersConfig(min_count=3))
    _, sink = poll_rounds(cfg, site, len(updates),
                          between=lambda i: publish(site, 0, updates[: i + 1]))
    texts = {r["url"]: r["text"] for r in sink.records if "/w/" in r["url"]}
    assert len(texts) == 4 and all(text.startswith(lede) for text in texts.values())
