"""Whether a new entry's record takes the feed's own text or its page (``extract.feed_content``).

Many feeds carry the whole article (WordPress's ``content:encoded``); its page then costs a
request, the host's politeness wait and an extraction for the same words. The modes:

    never     the page, always
    always    the entry's content whenever it has some; without content, the page
    auto      the entry's content when it reads as the whole article
              (`ingest.extract.fulltext.looks_whole`) and the feed has earned trust

Trust, per feed, kept in ``FeedState.extra["feed_content"]``: until a feed is trusted, each
of its entries that the text rule would take is sampled: its page is fetched and extracted
as before (the record is the page's), and the feed's text is compared with the page's
(`ingest.extract.fulltext.token_f1`). ``SAMPLE`` agreements in a row make the feed trusted;
a disagreement withdraws trust, and each one more raises the agreements needed again (a
feed that only sometimes carries the article stays on pages). A trusted feed has one entry
in ``RECHECK_EVERY`` sampled all the same. ``fetch_pages: false`` wins over every mode.
Thresholds: docs/feed-content.md.
"""

from __future__ import annotations

import logging

from ingest.config.model import ExtractConfig
from ingest.extract.fulltext import looks_whole, token_f1
from ingest.models import Feed, FeedState

log = logging.getLogger("ingest.pipeline")
FEED, PAGE, SAMPLE = "feed", "page", "sample"  # what `choose` says of an entry
KEY = "feed_content"  # of FeedState.extra
SAMPLE_SIZE = 3  # agreements in a row before a feed's text stands in for its pages
RECHECK_EVERY = 50  # a trusted feed: one entry in this many is still checked on its page
MIN_AGREEMENT = 0.9  # token F1 of feed text and page text that counts as the same article
# characters of each text compared: bounded work in the event loop, and plenty for an article
COMPARED = 50_000
_MAX_NEEDED = 10 * SAMPLE_SIZE  # the most agreements a feed that disagreed ever needs


def mode_of(feed: Feed, extract: ExtractConfig) -> str:
    """The feed's own ``feed_content``, else the global one."""
    return feed.feed_content or extract.feed_content


def choose(mode: str, text: str, state: FeedState) -> str:
    """FEED (the entry's ``text`` is the record's, no page request), PAGE, or SAMPLE (the
    page is the record's, and `judge` compares it with ``text``). A choice of FEED or
    SAMPLE by a trusted feed counts towards its next recheck in ``state``."""
    if mode == "never" or not text.strip():
        return PAGE
    if mode == "always":
        return FEED
    if not looks_whole(text):
        return PAGE
    verdict = _verdict(state)
    if not verdict["trusted"]:
        return SAMPLE
    verdict["since"] += 1
    if verdict["since"] >= RECHECK_EVERY:
        verdict["since"] = 0
        return SAMPLE
    return FEED


def judge(state: FeedState, feed_text: str, page_text: str, *, about: str = "") -> float:
    """Compare a sampled entry's feed text with its page's, and update the feed's trust;
    a change is logged, ``about`` naming the feed and the page."""
    agreement = token_f1(feed_text[:COMPARED], page_text[:COMPARED])
    verdict = _verdict(state)
    was = verdict["trusted"]
    if agreement >= MIN_AGREEMENT:
        verdict["agreed"] += 1
        needed = min(SAMPLE_SIZE * (1 + verdict["disagreed"]), _MAX_NEEDED)
        if not was and verdict["agreed"] >= needed:
            verdict.update(trusted=True, since=0)
    else:
        verdict.update(trusted=False, agreed=0, disagreed=verdict["disagreed"] + 1)
    if verdict["trusted"] != was:
        log.info("pipeline: %s: the feed's own text %s (token F1 %.2f)", about,
                 "now stands in for its pages" if not was else "differs from the page's; "
                 "pages again", agreement)
    return agreement


def trusted(state: FeedState) -> bool:
    """The feed's text stands in for its pages (in mode auto)."""
    return bool(_verdict(state)["trusted"]) if KEY in state.extra else False


def _verdict(state: FeedState) -> dict:
    """The feed's verdict, in ``state.extra`` (stored with the feed's state); a stored
    value of another shape (an older or hand-edited store) starts over."""
    stored = state.extra.get(KEY)
    if not isinstance(stored, dict):
        stored = {}
    verdict = {"trusted": stored.get("trusted") is True,
               **{k: _count(stored.get(k)) for k in ("agreed", "disagreed", "since")}}
    state.extra[KEY] = verdict
    return verdict


def _count(value: object) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value >= 0 else 0
