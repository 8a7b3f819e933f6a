"""``extract.feed_content``: the text rule, token F1, a feed's trust, and the pipeline's choice
of the feed's text or the page (in-process, the site answered by httpx.MockTransport)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from helpers.newssite import Item
from helpers.pipeline_fakes import Site, pipeline_config, poll_rounds
from ingest.config.model import ExtractConfig
from ingest.daemon.metrics import Metrics
from ingest.extract.fulltext import HEAD, looks_whole, teaser_ending, token_f1
from ingest.models import Feed, FeedState
from ingest.pipeline import feed_content as fc
from ingest.pipeline.feed_content import FEED, PAGE, SAMPLE, choose, judge, mode_of, trusted
from ingest.pipeline.outcomes import PollResult, RunStats

SENTENCE = ("Questa è la notizia numero {n}, scritta per le prove di ingest: una frase abbastanza "
            "lunga perché l'estrazione la riconosca come testo. ")
WHOLE = "\n".join(f"{SENTENCE.format(n=1) * 3}Paragrafo {j}." for j in range(4))


def body_html(number: int) -> str:
    """The four paragraphs of `plain_page(..., number)`, as a full-text feed carries them."""
    return "".join(f"<p>{SENTENCE.format(n=number) * 3}Paragrafo {j}.</p>" for j in range(4))


# -- the text rule ----------------------------------------------------------------------
@pytest.mark.parametrize(("ending", "mark"), [
    (" […]", "[…]"),
    (" [...]\nThe post Title appeared first on News.", "[...]"),
    ("\nContinue reading →", "Continue reading"),
    ("… Read more »", "… Read more"),
    ("\nWeiterlesen", "Weiterlesen"),
    ("… Leggi tutto", "… Leggi tutto"),
    ("\nLire la suite", "Lire la suite"),
    (" (...)", "(...)"),
    ("\n続きを読む", "続きを読む"),
    ("\nЧитать далее", "Читать далее"),
    ("\nCzytaj więcej", "Czytaj więcej"),
    # running prose, not a teaser's link
    ("\nYou can read more about it in our guide.", None),
    ("\nIf only it ran Ruby...", None),
    ("\n(Continue to Pillar 3: Infrastructure)", None),
    ("", None),
])
def test_teaser_endings(ending: str, mark: str | None) -> None:
    assert teaser_ending(WHOLE + ending) == mark


def test_a_teaser_mark_before_the_tail_is_not_an_ending() -> None:
    assert teaser_ending("Read more\n" + WHOLE + "\n" + "x" * 300) is None


@pytest.mark.parametrize(("text", "whole"), [
    (WHOLE, True),
    (WHOLE + " […]", False),  # a teaser's end
    (WHOLE.replace("\n", " "), False),  # one block: a summary
    ("\n".join(["Breve."] * 10), False),  # many blocks, few words
    ("\n".join(WHOLE.split("\n")[:2]), False),  # two blocks
])
def test_looks_whole(text: str, whole: bool) -> None:
    assert looks_whole(text) is whole


def test_words_are_counted_in_the_head_only() -> None:
    """However long a feed's text, the rule reads a bounded part of it (the event loop)."""
    assert not looks_whole(".\n.\n." + " " * HEAD + WHOLE)
    assert looks_whole(WHOLE + " " * HEAD)


@pytest.mark.parametrize(("a", "b", "f1"), [
    ("the cat sat", "The cat sat", 1.0),
    ("sat the cat", "the cat sat", 1.0),  # order does not matter
    ("a b c d", "a b", 2 / 3),  # half the words: precision 1, recall 1/2
    ("a a b", "a b b", 2 / 3),  # multisets: one "a" and one "b" in common
    ("dog", "cat", 0.0),
    ("", "cat", 0.0),
    ("東京都", "東京", 0.8),  # a CJK character is a token
])
def test_token_f1(a: str, b: str, f1: float) -> None:
    assert token_f1(a, b) == pytest.approx(f1)


# -- a feed's trust ---------------------------------------------------------------------
def test_mode_is_the_feeds_own_else_the_global() -> None:
    assert mode_of(Feed("f", "https://x/"), ExtractConfig(feed_content="never")) == "never"
    assert mode_of(Feed("f", "https://x/", feed_content="always"),
                   ExtractConfig(feed_content="never")) == "always"


@pytest.mark.parametrize(("mode", "text", "choice"), [
    ("never", WHOLE, PAGE),
    ("always", "Breve.", FEED),  # any content at all
    ("always", "  ", PAGE),  # none
    ("auto", "Breve.", PAGE),  # not the whole article
    ("auto", WHOLE, SAMPLE),  # whole, but the feed is not trusted yet
])
def test_choice_of_a_new_feed(mode: str, text: str, choice: str) -> None:
    state = FeedState(url="https://x/")
    assert choose(mode, text, state) == choice


def test_agreeing_samples_earn_trust_then_every_nth_entry_is_checked() -> None:
    state = FeedState(url="https://x/")
    for _ in range(fc.SAMPLE_SIZE):
        assert choose("auto", WHOLE, state) == SAMPLE
        judge(state, WHOLE, WHOLE)
    assert trusted(state)
    choices = [choose("auto", WHOLE, state) for _ in range(2 * fc.RECHECK_EVERY)]
    assert choices.count(SAMPLE) == 2 and choices.count(FEED) == 2 * fc.RECHECK_EVERY - 2
    assert choices[fc.RECHECK_EVERY - 1] == SAMPLE


def test_a_disagreement_withdraws_trust_and_raises_the_agreements_needed() -> None:
    state = FeedState(url="https://x/")
    for _ in range(fc.SAMPLE_SIZE):
        judge(state, WHOLE, WHOLE)
    assert judge(state, WHOLE, "Tutt'altro testo.") < fc.MIN_AGREEMENT
    assert not trusted(state)
    assert choose("auto", WHOLE, state) == SAMPLE  # pages again, still compared
    for _ in range(2 * fc.SAMPLE_SIZE - 1):
        judge(state, WHOLE, WHOLE)
    assert not trusted(state)
    judge(state, WHOLE, WHOLE)
    assert trusted(state)


@pytest.mark.parametrize("stored", ["yes", {"trusted": "true", "agreed": -4, "since": 1.5}, None])
def test_a_stored_verdict_of_another_shape_starts_over(stored) -> None:
    state = FeedState(url="https://x/", extra={fc.KEY: stored})
    assert not trusted(state)
    assert choose("auto", WHOLE, state) == SAMPLE
    assert state.extra[fc.KEY] == {"trusted": False, "agreed": 0, "disagreed": 0, "since": 0}


# -- the pipeline -----------------------------------------------------------------------
def full_text_site(numbers: range, *, content=body_html) -> Site:
    site = Site()
    site.feed(*(Item(f"Notizia {n}", site.article(f"/a/{n}.html", n), f"g{n}",
                     summary="Breve.", content=content(n)) for n in numbers))
    return site


def page_requests(site: Site) -> int:
    return sum(count for path, count in site.requests.items() if path.startswith("/a/"))


def test_auto_samples_a_full_text_feed_then_takes_its_text(tmp_path) -> None:
    site = full_text_site(range(3))
    cfg = pipeline_config(tmp_path, "https://news.example/feed.xml")

    def more(i: int) -> None:
        if i == 1:  # three new entries for the second poll
            site.feed(*(Item(f"Notizia {n}", site.article(f"/a/{n}.html", n), f"g{n}",
                             content=body_html(n)) for n in range(6)))

    (first, second), sink = poll_rounds(cfg, site, 2, between=more)
    assert (first.pages, first.pages_saved, first.written) == (3, 0, 3)
    assert (second.pages, second.pages_saved, second.written) == (0, 3, 3)
    assert page_requests(site) == 3
    sources = {r["guid"]: r["body_source"] for r in sink.records}
    assert sources == {"g0": "page", "g1": "page", "g2": "page",
                       "g3": "feed", "g4": "feed", "g5": "feed"}
    feed_record = next(r for r in sink.records if r["guid"] == "g4")
    assert feed_record["text"].startswith("Questa è la notizia numero 4")


@pytest.mark.parametrize(("content", "why"), [
    (lambda n: f"<p>{SENTENCE.format(n=n)}</p><p>Continua a leggere</p>", "a teaser"),
    (lambda n: "".join(f"<p>{'Parole diverse da quelle della pagina. ' * 8}</p>"
                       for _ in range(4)), "text that is not the page's"),
])
def test_auto_keeps_fetching_pages(tmp_path, content, why: str) -> None:
    site = full_text_site(range(4), content=content)
    cfg = pipeline_config(tmp_path, "https://news.example/feed.xml")
    results, sink = poll_rounds(cfg, site, 2, between=lambda i: i and site.feed(
        *(Item(f"Notizia {n}", site.article(f"/a/{n}.html", n), f"g{n}", content=content(n))
          for n in range(8))))
    assert [r.pages_saved for r in results] == [0, 0], why
    assert page_requests(site) == 8
    assert {r["body_source"] for r in sink.records} == {"page"}


@pytest.mark.parametrize(("global_mode", "feed_mode", "fetch_pages", "source", "pages"), [
    ("never", None, True, "page", 3),
    ("always", None, True, "feed", 0),
    ("always", "never", True, "page", 3),  # the feed's own setting wins
    ("never", "always", True, "feed", 0),
    ("never", None, False, "feed", 0),  # fetch_pages: false wins over every mode
])
def test_modes_and_the_per_feed_override(tmp_path, global_mode, feed_mode, fetch_pages,
                                         source, pages) -> None:
    site = full_text_site(range(3))
    cfg = pipeline_config(tmp_path, extract=ExtractConfig(workers=1, feed_content=global_mode))
    cfg = replace(cfg, feeds=(Feed("f0", "https://news.example/feed.xml",
                                   fetch_pages=fetch_pages, feed_content=feed_mode),))
    (result,), sink = poll_rounds(cfg, site)
    assert page_requests(site) == result.pages == pages
    assert result.pages_saved == (3 if source == "feed" and fetch_pages else 0)
    assert {r["body_source"] for r in sink.records} == {source}
    assert len(sink.records) == 3


def test_pages_saved_are_in_the_summary_and_the_metrics() -> None:
    feed = Feed("f", "https://x/")
    stats = RunStats()
    stats.add(PollResult(feed, pages=2, pages_saved=3))
    stats.add(PollResult(feed, pages_saved=1))
    assert "page requests: 2 (4 saved: the feed carried the article);" in stats.summary()
    stats = RunStats([PollResult(feed, pages=2)])
    assert "page requests: 2;" in stats.summary()  # nothing saved: nothing said
    metrics = Metrics()
    metrics.observe(PollResult(feed, pages_saved=3), FeedState(url=feed.url))
    assert b"ingest_pages_saved_total 3.0" in metrics.render()
